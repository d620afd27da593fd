"""store_options reach the store; the filter reads sqlite with a small page cache by default."""

from __future__ import annotations

from tests.filter.run import config
from vlmforge.dataset.pipeline import open_source
from vlmforge.plugins import get_registry


def _cache_size(cfg) -> int:
    source = open_source(cfg, get_registry())
    try:
        return source.stores[0].db.execute_sql("PRAGMA cache_size").fetchone()[0]
    finally:
        source.close()


def test_sqlite_cache_option(crafted_db, tmp_path):
    assert _cache_size(config([crafted_db], tmp_path)) == -2048
    custom = config([crafted_db], tmp_path, store_options={"cache_mib": 8})
    assert _cache_size(custom) == -8192
