"""Benchmark: ``vlmforge view``, the page of a 10,000-step episode (target: loads in under 1 s).

Writes one 10,000-decision episode through the sqlite store API (64x64 PNG frames from a pool,
Crafter-sized prompts and ground truth with the inventory and 9x9 view, tool-call replies, a few
unlocks), starts ``vlmforge view`` on it in a subprocess, and measures, each time on a freshly
started viewer (nothing cached):

- ``api_s``: over real HTTP, what the page asks for before it shows a frame: the page, its
  script, ``/api/episodes/ID`` (every step's reward and invalid flag), the first timeline page
  and the first frame;
- ``first_frame_s``: in headless Chromium, from navigation to the first frame displayed (the
  image loaded) with the whole reward / invalid timeline drawn;
- ``timeline_complete_s``: until every step's frame, unlocks and vitals are decoded (the page
  keeps fetching timeline pages in the background while it is usable);
- ``last_step_s``: the step page's data for the last step (the store streams an episode from
  its first step), and ``neighbour_step_s``: then the step before it (kept from that read).

    .venv/bin/python benchmarks/view_episode.py                 # 10,000 steps, 3 repeats
    .venv/bin/python benchmarks/view_episode.py --steps 2000 --repeats 1 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import add_smoke_flag, report
from benchmarks.filter_export import ACHIEVEMENTS, ACTIONS, SYSTEM_PROMPT, TOOLS, frame_pool
from tests.view.chromium import CHROMEDRIVER, CHROMIUM, start_chromium

TARGET_S = 1.0
FRAME_POOL = 64
EPISODE_ID = "long-episode"
ITEMS = [
    "health",
    "food",
    "drink",
    "energy",
    "sapling",
    "wood",
    "stone",
    "coal",
    "iron",
    "diamond",
    "wood_pickaxe",
    "stone_pickaxe",
    "iron_pickaxe",
    "wood_sword",
    "stone_sword",
    "iron_sword",
]
TILES = ["grass", "sand", "tree", "water", "stone", "path", "coal", "table"]


def generate(path: Path, steps: int) -> None:
    """One episode of ``steps`` decisions, written through the store API."""
    from vlmforge import __version__
    from vlmforge.plugins import get_registry
    from vlmforge.trace import (
        Episode,
        EpisodeStatus,
        FunctionCall,
        ImagePart,
        LMCall,
        Message,
        Run,
        Step,
        StepObservation,
        TextPart,
        ToolCall,
        Usage,
    )

    frames = frame_pool(FRAME_POOL)
    store = get_registry().create("store", "sqlite", {"path": str(path)})
    run = Run(
        id="bench-view",
        name="bench-view",
        vlmforge_version=__version__,
        env_name="crafter",
        policy_name="openai",
        model="bench-vlm",
        tools=TOOLS,
        system_prompt=SYSTEM_PROMPT,
    )
    store.create_run(run)
    episode = Episode(id=EPISODE_ID, run_id=run.id, seed=0)
    store.start_episode(episode)
    rng = random.Random(0)
    for i in range(steps):
        img = frames[rng.randrange(FRAME_POOL)]
        inventory = {k: rng.randrange(10) if k in ITEMS[:4] else rng.randrange(3) for k in ITEMS}
        view = [[rng.choice(TILES) for _ in range(9)] for _ in range(7)]
        text = (
            f"Step {i}. Health {inventory['health']}/9, food {inventory['food']}/9, drink "
            f"{inventory['drink']}/9, energy {inventory['energy']}/9. Facing grass.\n"
            + "\n".join(" ".join(row) for row in view)
        )
        actions = [rng.choice(ACTIONS) for _ in range(rng.randint(1, 3))]
        call = ToolCall(
            id=f"call_{i}",
            function=FunctionCall(name="interact_many", arguments=json.dumps({"actions": actions})),
        )
        unlock = [rng.choice(ACHIEVEMENTS)] if rng.random() < 0.002 else []
        step = Step(
            episode_id=episode.id,
            index=i,
            observation=StepObservation(
                text=text,
                images=[img.sha256],
                ground_truth={
                    "step": i,
                    "inventory": inventory,
                    "view": view,
                    "position": [rng.randrange(64), rng.randrange(64)],
                },
            ),
            prompt=[
                Message(role="system", content=SYSTEM_PROMPT),
                Message(role="user", content=[TextPart(text=text), ImagePart(sha256=img.sha256)]),
            ],
            reply=Message(role="assistant", tool_calls=[call]),
            tool_calls=[call],
            actions=actions,
            reward=float(len(unlock)) - (0.1 if rng.random() < 0.01 else 0.0),
            achievements=unlock,
            lm_call=LMCall(
                provider="bench",
                model="bench-vlm",
                latency_s=0.4,
                usage=Usage(prompt_tokens=900, completion_tokens=20),
            ),
        )
        episode.add_step(step)
        store.record_step(step, [img], episode)
    episode.status = EpisodeStatus.done
    store.finish_episode(episode)
    store.close()


class Viewer:
    def __init__(self, db: Path):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vlmforge", "view", "--trace-db", str(db), "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if " on http://" not in line:
            raise SystemExit(f"vlmforge view did not start: {line!r}")
        self.url = line.split(" on ", 1)[1].split()[0].rstrip("/")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def time_api(db: Path, steps: int) -> tuple[float, float, float]:
    import httpx

    viewer = Viewer(db)
    try:
        with httpx.Client(base_url=viewer.url, timeout=60) as client:
            start = time.perf_counter()
            client.get(f"/episodes/{EPISODE_ID}").raise_for_status()
            client.get("/static/app.js").raise_for_status()
            client.get(f"/api/episodes/{EPISODE_ID}").raise_for_status()
            rows = client.get(f"/api/episodes/{EPISODE_ID}/timeline").json()["rows"]
            client.get(f"/images/{rows[0]['frame']}").raise_for_status()
            first = time.perf_counter() - start
            start = time.perf_counter()
            client.get(f"/api/steps/{EPISODE_ID}/{steps - 1}").raise_for_status()
            last_step = time.perf_counter() - start
            start = time.perf_counter()
            client.get(f"/api/steps/{EPISODE_ID}/{steps - 2}").raise_for_status()
            return first, last_step, time.perf_counter() - start
    finally:
        viewer.stop()


def browser() -> Any:
    return start_chromium(tempfile.mkdtemp(prefix="vlmforge-bench-"))


def time_browser(driver: Any, db: Path, steps: int) -> tuple[float, float]:
    viewer = Viewer(db)
    try:
        driver.get(viewer.url + "/training")  # a page of the same origin, nothing decoded
        start = time.perf_counter()
        driver.get(f"{viewer.url}/episodes/{EPISODE_ID}")
        shown = _until(
            driver,
            "const f = document.getElementById('frame');"
            "return f !== null && f.dataset.step === '0' && f.complete "
            "&& f.naturalWidth > 0;",
        )
        complete = _until(
            driver,
            "const s = document.getElementById('timeline-status');"
            f"return s !== null && s.textContent === '{steps} steps';",
        )
        return shown - start, complete - start
    finally:
        viewer.stop()


def _until(driver: Any, script: str, timeout_s: float = 120.0) -> float:
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if driver.execute_script(script):
            return time.perf_counter()
        time.sleep(0.01)
    raise SystemExit(f"timed out waiting for: {script}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache-dir", type=Path, default=Path(__file__).parent / ".cache")
    parser.add_argument("--json", type=Path, default=None, help="Also write the result here.")
    add_smoke_flag(parser)
    args = parser.parse_args()
    scratch = None
    if args.smoke:  # a 200-step episode in a temporary folder, once (browser included)
        scratch = tempfile.TemporaryDirectory(prefix="vlmforge-view-smoke-")
        args.steps, args.repeats, args.cache_dir = 200, 1, Path(scratch.name)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    db = args.cache_dir / f"view-episode-{args.steps}.db"
    if not db.exists():
        started = time.perf_counter()
        partial = db.with_suffix(".partial")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{partial}{suffix}").unlink(missing_ok=True)
        generate(partial, args.steps)
        partial.rename(db)
        print(f"generated {db} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    timed = [time_api(db, args.steps) for _ in range(args.repeats)]
    api = [t[0] for t in timed]
    last_step = [t[1] for t in timed]
    next_step = [t[2] for t in timed]
    first: list[float] = []
    complete: list[float] = []
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        driver = browser()
        try:
            for _ in range(args.repeats):
                shown, done = time_browser(driver, db, args.steps)
                first.append(shown)
                complete.append(done)
        finally:
            driver.quit()
    load = os.getloadavg()
    result = {
        "steps": args.steps,
        "repeats": args.repeats,
        "api_s": api,
        "last_step_s": last_step,
        "neighbour_step_s": next_step,
        "first_frame_s": first,
        "timeline_complete_s": complete,
        "median_first_frame_s": statistics.median(first) if first else None,
        "target_s": TARGET_S,
        "loadavg": [round(x, 2) for x in load],
        "cpus": os.cpu_count(),
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    med = statistics.median
    rows = [
        ("steps in the episode", f"{args.steps:,}"),
        ("api: page + data + first frame (median)", f"{med(api):.3f} s"),
        ("api: step page data of the last step (median)", f"{med(last_step):.3f} s"),
        ("api: then the step before it (median)", f"{med(next_step):.3f} s"),
        ("browser: first frame shown (median)", f"{med(first):.3f} s" if first else "no chromium"),
        (
            "browser: whole timeline decoded (median)",
            f"{med(complete):.3f} s" if complete else "no chromium",
        ),
        ("target (first frame)", f"< {TARGET_S} s"),
        ("load average (1, 5, 15 min)", " ".join(f"{x:.2f}" for x in load)),
    ]
    report("view_episode", result, rows)
    if scratch is not None:
        scratch.cleanup()


if __name__ == "__main__":
    main()
