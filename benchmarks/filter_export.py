"""Benchmark: ``vlmforge filter`` export throughput (rows/s) and peak RSS vs. database size.

Synthesises trace databases of 1k, 10k and 100k decision steps through the store API (real PNG
frames from a small pool, Crafter-sized prompts, tool-call replies, a few unlocks), then runs the
whole filter pipeline (status + decision-quality + loops filters, dedupe, split, openai-sft export
with data-URL images) on each in a fresh subprocess and reads its peak RSS. Target: peak RSS
within 20% from 10k to 100k steps (memory must not grow with database size).

    .venv/bin/python benchmarks/filter_export.py                 # 1k, 10k, 100k
    .venv/bin/python benchmarks/filter_export.py --sizes 1000 10000 --json out.json

Databases are cached in --cache-dir (default benchmarks/.cache) so reruns skip the generator.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import add_smoke_flag  # benchmarks/ is on sys.path as a script

STEPS_PER_EPISODE = 100
FRAME_POOL = 48
SYSTEM_PROMPT = (
    "You are playing Crafter, a 2D survival and crafting game seen from above. "
    "Unlock as many achievements as possible and stay alive. " * 12
)
ACTIONS = ["noop", "move_left", "move_right", "move_up", "move_down", "do", "sleep"]
ACHIEVEMENTS = ["collect_wood", "place_table", "collect_sapling", "wake_up", "collect_drink"]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "interact_many",
            "description": "Execute 1 to 8 Crafter actions in order.",
            "parameters": {
                "type": "object",
                "properties": {
                    "actions": {"type": "array", "items": {"type": "string", "enum": ACTIONS}}
                },
                "required": ["actions"],
            },
        },
    }
]


def frame_pool(n: int) -> list[Any]:
    """``n`` distinct 64x64 RGB frames as real PNGs (blocky noise, like a tile map)."""
    import numpy as np

    from vlmforge.images import encode_png

    rng = np.random.default_rng(0)
    frames = []
    for _ in range(n):
        tiles = rng.integers(0, 255, size=(8, 8, 3), dtype=np.uint8)
        frames.append(encode_png(np.kron(tiles, np.ones((8, 8, 1), dtype=np.uint8))))
    return frames


def _run(steps: int) -> Any:
    from vlmforge import __version__
    from vlmforge.trace import Run

    return Run(
        id=f"bench-{steps}",
        name=f"bench-{steps}",
        vlmforge_version=__version__,
        env_name="crafter",
        policy_name="openai",
        model="bench-vlm",
        tools=TOOLS,
        system_prompt=SYSTEM_PROMPT,
    )


def generate(path: Path, steps: int, workers: int = 2) -> None:
    """Write ``steps`` decision steps (episodes of 100) through the sqlite store API.

    ``workers`` processes write disjoint episodes into the same file (the store takes several
    writers at once), which roughly halves generation time on 2 cores.
    """
    from vlmforge.plugins import get_registry

    tmp = path.with_suffix(".partial")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    store = get_registry().create("store", "sqlite", {"path": str(tmp)})
    store.create_run(_run(steps))
    store.close()
    episodes = steps // STEPS_PER_EPISODE
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--_generate", str(tmp), str(steps), str(w), str(workers)]
        )
        for w in range(min(workers, episodes))
    ]
    if any(p.wait() != 0 for p in procs):
        raise SystemExit(f"generating {path} failed")
    tmp.rename(path)


def generate_part(path: str, steps: int, worker: int, workers: int) -> None:
    """Episodes ``worker, worker + workers, ...`` of the database (one writer process)."""
    from vlmforge.plugins import get_registry
    from vlmforge.trace import (
        Episode,
        EpisodeStatus,
        FunctionCall,
        ImagePart,
        Message,
        Step,
        StepObservation,
        TextPart,
        ToolCall,
    )

    frames = frame_pool(FRAME_POOL)
    run = _run(steps)
    store = get_registry().create("store", "sqlite", {"path": path})
    for e in range(worker, steps // STEPS_PER_EPISODE, workers):
        rng = random.Random(e)
        ep = Episode(id=f"ep{e:06d}", run_id=run.id, seed=e)
        store.start_episode(ep)
        for i in range(STEPS_PER_EPISODE):
            img = frames[rng.randrange(FRAME_POOL)]
            text = (
                f"Step {i}. Health 9/9, food 8/9, drink 7/9, energy 9/9. "
                f"Position x={rng.randrange(64)}, y={rng.randrange(64)}. Facing left.\n"
                + "grass tree water "
                * 20
            )
            actions = [rng.choice(ACTIONS) for _ in range(rng.randint(1, 3))]
            call = ToolCall(
                id=f"call_{i}",
                function=FunctionCall(
                    name="interact_many", arguments=json.dumps({"actions": actions})
                ),
            )
            unlock = [rng.choice(ACHIEVEMENTS)] if rng.random() < 0.02 else []
            user = Message(role="user", content=[TextPart(text=text), ImagePart(sha256=img.sha256)])
            step = Step(
                episode_id=ep.id,
                index=i,
                observation=StepObservation(text=text, images=[img.sha256]),
                prompt=[Message(role="system", content=SYSTEM_PROMPT), user],
                reply=Message(role="assistant", tool_calls=[call]),
                tool_calls=[call],
                actions=actions,
                reward=float(len(unlock)),
                achievements=unlock,
            )
            ep.add_step(step)
            store.record_step(step, [img], ep)
        ep.status = EpisodeStatus.done
        store.finish_episode(ep)
    store.close()


def export_once(db: str, out: str) -> dict[str, Any]:
    """Run the pipeline in this process; report rows, time and peak RSS."""
    from vlmforge.dataset.config import FilterConfig
    from vlmforge.dataset.pipeline import run_filter
    from vlmforge.plugins import get_registry

    cfg = FilterConfig.model_validate(
        {
            "trace_dbs": [db],
            "output_dir": out,
            "overwrite": True,
            "progress": False,
            "filters": [
                {"name": "status"},
                {"name": "decision-quality"},
                {"name": "loops", "max_repeated_actions": 8, "mode": "trim"},
            ],
        }
    )
    started = time.perf_counter()
    stats = run_filter(cfg, get_registry())
    elapsed = time.perf_counter() - started
    rows = stats.train_rows + stats.val_rows
    return {
        "rows": rows,
        "input_steps": stats.input_steps,
        "dedupe_removed": stats.dedupe_removed,
        "elapsed_s": elapsed,
        "rows_per_s": rows / elapsed if elapsed else 0.0,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "export_mib": sum(p.stat().st_size for p in Path(out).iterdir()) / 2**20,
    }


def measure(db: Path, repeats: int) -> dict[str, Any]:
    runs = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as out:
            proc = subprocess.run(
                [sys.executable, __file__, "--_export", str(db), out],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                raise SystemExit(f"export of {db} failed:\n{proc.stderr}")
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    runs.sort(key=lambda r: r["elapsed_s"])
    median = runs[len(runs) // 2]
    median["peak_rss_mib"] = sorted(r["peak_rss_mib"] for r in runs)[len(runs) // 2]
    median["repeats"] = repeats
    return median


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeats", type=int, default=3, help="Export runs per size (median).")
    parser.add_argument("--cache-dir", default=str(Path(__file__).parent / ".cache"))
    parser.add_argument("--json", dest="json_path", default=None, help="Also write JSON here.")
    parser.add_argument("--workers", type=int, default=2, help="Generator processes.")
    parser.add_argument("--_export", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--_generate", nargs=4, help=argparse.SUPPRESS)
    add_smoke_flag(parser)
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes, args.repeats, args.workers = [20], 1, 1
        args.cache_dir = tempfile.mkdtemp(prefix="vlmforge-filter-smoke-")
    if args._generate:
        path, steps, worker, workers = args._generate
        generate_part(path, int(steps), int(worker), int(workers))
        return
    if args._export:
        print(json.dumps(export_once(*args._export)))
        return

    cache = Path(args.cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"sizes": {}}
    for size in args.sizes:
        db = cache / f"filter-bench-{size}.db"
        gen_s = None
        if not db.exists():
            t0 = time.perf_counter()
            generate(db, size, args.workers)
            gen_s = time.perf_counter() - t0
        result = measure(db, args.repeats if size <= 10000 else max(1, args.repeats - 1))
        result["db_mib"] = db.stat().st_size / 2**20
        result["generate_s"] = gen_s
        results["sizes"][str(size)] = result
    sizes = results["sizes"]
    if "10000" in sizes and "100000" in sizes:
        ratio = sizes["100000"]["peak_rss_mib"] / sizes["10000"]["peak_rss_mib"]
        results["rss_ratio_100k_over_10k"] = ratio
        results["rss_target_met"] = ratio <= 1.2
    print(json.dumps(results, indent=2))
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(results, indent=2) + "\n")
    _table(results)
    shutil.rmtree(cache / "tmp", ignore_errors=True)


def _table(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="vlmforge filter export (openai-sft, data-URL images)")
    for col in ("steps", "rows", "seconds", "rows/s", "peak RSS MiB", "DB MiB", "export MiB"):
        table.add_column(col, justify="right")
    for size, r in results["sizes"].items():
        table.add_row(
            size,
            str(r["rows"]),
            f"{r['elapsed_s']:.1f}",
            f"{r['rows_per_s']:.0f}",
            f"{r['peak_rss_mib']:.1f}",
            f"{r['db_mib']:.1f}",
            f"{r['export_mib']:.1f}",
        )
    Console().print(table)
    if "rss_ratio_100k_over_10k" in results:
        Console().print(
            f"peak RSS 100k/10k = {results['rss_ratio_100k_over_10k']:.3f} "
            f"(target <= 1.20: {'met' if results['rss_target_met'] else 'NOT met'})"
        )


if __name__ == "__main__":
    main()
