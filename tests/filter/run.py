"""Helpers: run the filter pipeline in-process and read what it wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vlmforge.dataset.chain import FilterChain
from vlmforge.dataset.config import FilterConfig
from vlmforge.dataset.pipeline import build_filters, open_source, run_filter
from vlmforge.dataset.stats import FilterStats
from vlmforge.plugins import get_registry


def config(dbs: list[Path], out: Path, **kw: Any) -> FilterConfig:
    base: dict[str, Any] = {
        "trace_dbs": [str(d) for d in dbs],
        "output_dir": str(out),
        "progress": False,
        "filters": [],
    }
    base.update(kw)
    return FilterConfig.model_validate(base)


def export(dbs: list[Path], out: Path, **kw: Any) -> FilterStats:
    return run_filter(config(dbs, out, **kw), get_registry())


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def kept_steps(db: Path, filters: list[dict[str, Any]]) -> dict[str, list[int]]:
    """episode id -> step indices left after ``filters`` (read from the real store)."""
    cfg = FilterConfig.model_validate({"trace_dbs": [str(db)], "filters": filters})
    registry = get_registry()
    chain = FilterChain(build_filters(cfg, registry))
    source = open_source(cfg, registry)
    out: dict[str, list[int]] = {}
    try:
        for ref in source.episodes():
            item = chain.apply(ref.run, ref.episode, lambda ref=ref: source.steps(ref))
            if item is not None:
                out[ref.episode.id] = [s.index for s in item.steps]
    finally:
        source.close()
    return out
