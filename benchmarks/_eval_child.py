"""Run ``vlmforge eval ARGS`` in this process and write peak RSS and torch status as JSON.

Usage: ``python benchmarks/_eval_child.py OUT.json -- eval ...``
"""

from __future__ import annotations

import json
import resource
import sys


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). Not ``ru_maxrss``: after fork + exec it starts from
    the forking parent's RSS, so a child of a big benchmark process would report the parent's."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu_s(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    out, args = sys.argv[1], sys.argv[3:]
    sys.argv = ["vlmforge", *args]
    from vlmforge.cli import main as cli_main

    code = 0
    try:
        cli_main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(
            {
                "exit_code": code,
                "peak_rss_mb": peak_rss_mb(),
                # this process's CPU (every thread), start-up included
                "cpu_s": _cpu_s(resource.getrusage(resource.RUSAGE_SELF)),
                "children_cpu_s": _cpu_s(resource.getrusage(resource.RUSAGE_CHILDREN)),
                "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
                # the largest child (an env worker with --env-workers), not their sum; at least
                # this process's RSS when it started the child (see peak_rss_mb)
                "largest_child_rss_mb": (
                    resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
                ),
                "crafter_imported": "crafter" in sys.modules,
                "torch_imported": "torch" in sys.modules,
                "transformers_imported": "transformers" in sys.modules,
            },
            fh,
        )
    sys.exit(code)


if __name__ == "__main__":
    main()
