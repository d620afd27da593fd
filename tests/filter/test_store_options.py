"""[store] settings reach the store; the filter reads sqlite with its read_settings (a small
page cache) by default; the old store form is refused with the key, its line and the new form."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.filter.run import config
from vlmforge.config import load_toml, validate
from vlmforge.dataset.config import FilterConfig
from vlmforge.dataset.pipeline import open_source
from vlmforge.errors import ConfigError
from vlmforge.plugins import get_registry


def _cache_size(cfg) -> int:
    source = open_source(cfg, get_registry())
    try:
        return source.stores[0].db.execute_sql("PRAGMA cache_size").fetchone()[0]
    finally:
        source.close()


def test_sqlite_cache_option(crafted_db, tmp_path):
    assert _cache_size(config([crafted_db], tmp_path)) == -2048
    custom = config([crafted_db], tmp_path, store={"cache_mib": 8})
    assert _cache_size(custom) == -8192


def test_the_old_store_form_is_refused(tmp_path):
    path = tmp_path / "old.toml"
    path.write_text('trace_dbs = ["t.db"]\nstore = "sqlite"\n\n[store_options]\ncache_mib = 4\n')
    source = load_toml(path)
    with pytest.raises(ConfigError) as exc:
        validate(FilterConfig, source.data, str(path), toml=source)
    msg = str(exc.value)
    assert f"{path}, line 2: store: " in msg and 'store = "sqlite" is the old form' in msg
    assert f"{path}, line 4: store_options: " in msg
    assert "[store_options] is the old form" in msg
    assert msg.count('write [store] name = "sqlite" with the store\'s settings') == 2


def test_the_filter_store_takes_no_path():
    with pytest.raises(ValidationError, match="trace_dbs"):
        FilterConfig.model_validate({"store": {"path": "x.db"}})
