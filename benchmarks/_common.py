"""Shared helpers for the benchmark scripts: JSON + a plain table, medians, peak RSS."""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
from collections.abc import Sequence
from typing import Any


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (the machine is shared: every result says how
    loaded it was)."""
    return [round(x, 2) for x in os.getloadavg()]


def add_smoke_flag(parser: argparse.ArgumentParser) -> None:
    """``--smoke``: tiny sizes, so a test can check the script still runs
    (tests/benchmarks/test_smoke.py). Its numbers mean nothing."""
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes: checks the script runs, numbers mean nothing",
    )


def report(name: str, result: dict[str, Any], rows: list[tuple[str, str]]) -> None:
    """Print the result as JSON, then a plain two-column table; both carry the load average
    at the end of the run and the number of cores."""
    load = load_average()
    result = {**result, "load_average_1_5_15": load, "cpu_count": os.cpu_count()}
    rows = [*rows, ("load average 1/5/15 min (cores)", f"{load} ({os.cpu_count()})")]
    print(json.dumps({"benchmark": name, **result}, indent=2))
    width = max(len(k) for k, _ in rows) if rows else 0
    print()
    print(f"{name}")
    print("-" * (width + 20))
    for key, value in rows:
        print(f"{key.ljust(width)}  {value}")
    sys.stdout.flush()
