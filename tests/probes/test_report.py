"""Probe runs appear next to the play metrics in the held-out report (vlmforge pipeline)."""

from __future__ import annotations

from pathlib import Path

from tests.probes.conftest import open_store
from vlmforge_crafter.probes.session import load_probe_config, run_probes
from vlmforge_hf.pipeline.report_display import report_tables
from vlmforge_hf.pipeline.report_probes import probe_summaries


def test_probe_runs_are_summarized_in_the_heldout_report(source_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "traces-heldout.db"
    for policy in ("probe-oracle", "probe-random"):
        flags = {"trace_db": str(source_db), "policy": policy, "frames": 4, "out_db": str(db),
                 "types": ["daylight", "food"], "run_name": policy}  # fmt: skip
        run_probes(load_probe_config(None, flags))
    store = open_store(db)
    try:
        oracle, random = probe_summaries(store)
    finally:
        store.close()
    assert (oracle["run"], oracle["n"], oracle["accuracy"]) == ("probe-oracle", 8, 1.0)
    assert set(oracle["types"]) == {"daylight", "food"}
    assert random["policy"] == "probe-random" and 0.0 <= random["accuracy"] <= 1.0
    assert oracle["probe_set"] == random["probe_set"]  # the same questions
    report = {"heldout_seeds": [100], "rows": [], "comparisons": [], "probes": [oracle, random]}
    assert len(report_tables(report)) == 3
