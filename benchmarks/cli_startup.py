"""CLI start-up time: `vlmforge --help` and `vlmforge plugins` (target: under 0.5 s each).

Runs each command N times as a real process (the installed console script) and reports the
median and worst wall time. Usage: python benchmarks/cli_startup.py [--runs 15] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import add_smoke_flag  # benchmarks/ is on sys.path as a script

TARGET_S = 0.5
COMMANDS = [["--help"], ["plugins"], ["plugins", "--json"], ["--version"]]


def time_command(exe: list[str], args: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([*exe, *args], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", type=Path, default=None, help="Also write the JSON here.")
    add_smoke_flag(parser)
    args = parser.parse_args(argv)
    args.runs = 1 if args.smoke else args.runs
    script = shutil.which("vlmforge", path=str(Path(sys.executable).parent))
    exe = [script] if script else [sys.executable, "-m", "vlmforge"]
    subprocess.run([*exe, "--version"], check=True, capture_output=True)  # warm the disk cache
    python_only = time_command([sys.executable, "-c", "pass"], [], args.runs)
    results = []
    for command in COMMANDS:
        times = time_command(exe, command, args.runs)
        results.append(
            {
                "command": "vlmforge " + " ".join(command),
                "median_s": round(statistics.median(times), 4),
                "max_s": round(max(times), 4),
                "target_s": TARGET_S,
                "meets_target": statistics.median(times) < TARGET_S,
            }
        )
    report = {
        "benchmark": "cli_startup",
        "runs": args.runs,
        "python_startup_median_s": round(statistics.median(python_only), 4),
        "results": results,
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    print(f"\n{'command':<28} {'median s':>9} {'max s':>7}  target < {TARGET_S}s")
    for r in results:
        ok = "ok" if r["meets_target"] else "MISSED"
        print(f"{r['command']:<28} {r['median_s']:>9.3f} {r['max_s']:>7.3f}  {ok}")


if __name__ == "__main__":
    main()
