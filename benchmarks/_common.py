"""Shared helpers for the benchmark scripts: JSON + a plain table, medians, peak RSS."""

from __future__ import annotations

import json
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


def report(name: str, result: dict[str, Any], rows: list[tuple[str, str]]) -> None:
    """Print the result as JSON, then a plain two-column table."""
    print(json.dumps({"benchmark": name, **result}, indent=2))
    width = max(len(k) for k, _ in rows) if rows else 0
    print()
    print(f"{name}")
    print("-" * (width + 20))
    for key, value in rows:
        print(f"{key.ljust(width)}  {value}")
    sys.stdout.flush()
