"""Stores say whether they exist before a reader opens them (``SupportsStoreExists``)."""

from __future__ import annotations

from pathlib import Path

from vlmforge.plugins import get_registry
from vlmforge.store_read import store_exists


def test_sqlite_store_says_whether_its_file_exists(tmp_path: Path) -> None:
    registry = get_registry()
    factory = registry.get("store", "sqlite").load()
    db = tmp_path / "traces.db"
    assert store_exists(factory, {"path": str(db)}) is False
    assert not db.exists()  # asking never creates the file
    registry.create("store", "sqlite", {"path": str(db)}).close()
    assert store_exists(factory, {"path": str(db)}) is True


def test_a_store_that_declares_nothing_is_opened_as_is(tmp_path: Path) -> None:
    class ThirdPartyStore:  # a store plugin without ``exists``
        config_model = dict

    assert store_exists(ThirdPartyStore, {"path": str(tmp_path / "absent")}) is True
