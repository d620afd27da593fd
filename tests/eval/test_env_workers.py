"""``env_workers``: the environment in worker processes records exactly what in-process does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.eval.helpers import open_store, wait_for_steps
from tests.eval.test_resume import ARGS, _check_complete, _start
from vlmforge.env_workers import EnvBuild, EnvWorkerError, EnvWorkerPool
from vlmforge.errors import ConfigError

CRASHY_PLUGIN = '''
"""An environment whose worker process dies (os._exit(3)) on seed 1's third step."""
import os
from vlmforge.components import EnvSpec, Observation, StepOutcome
from vlmforge.hookspecs import hookimpl

TOOLS = [{"type": "function", "function": {"name": "interact", "parameters": {
    "type": "object", "properties": {"action": {"type": "string"}}}}}]


class Episode:
    def __init__(self, seed):
        self.seed, self.t = seed, 0

    def reset(self):
        return Observation(text=f"seed {self.seed} t 0")

    def step(self, tool_calls):
        self.t += 1
        if self.seed == 1 and self.t == 3:
            os._exit(3)
        done = self.t >= 5
        return StepOutcome(Observation(text=f"seed {self.seed} t {self.t}"), reward=1.0,
                           actions=["noop"], done=done, termination="end" if done else None)

    def close(self):
        pass


class Crashy:
    config_model = None

    def spec(self):
        return EnvSpec(name="crashy", tools=TOOLS, system_prompt="s", action_names=["noop"])

    def start(self, seed):
        return Episode(seed)

    def config_dict(self):
        return {"pid_is_not_recorded": True}


@hookimpl
def register_environments(register):
    register("crashy", Crashy)
'''


def _eval(tmp: Path, db: str, *extra: str):
    return run_cli(
        "eval",
        "--env",
        "crafter",
        "--policy",
        "random",
        "--seeds",
        "0-3",
        "--max-steps",
        "40",
        "--concurrency",
        "2",  # seeds 2 and 3 start from worlds the workers built ahead of time
        "--trace-db",
        str(tmp / db),
        "--run-name",
        "r",
        *extra,
        cwd=tmp,
    )


def _trajectories(db: Path) -> dict[int, list[tuple]]:
    store = open_store(db)
    episodes = list(store.episodes([store.get_run("r").id]))
    out = {
        e.seed: [
            (s.actions, s.reward, s.observation.text, s.observation.images, s.achievements)
            for s in store.steps(e.id)
        ]
        for e in episodes
    }
    store.close()
    return out


def test_workers_record_what_the_in_process_env_records(tmp_path: Path) -> None:
    local = _eval(tmp_path, "local.db")
    workers = _eval(tmp_path, "workers.db", "--env-workers", "2")
    assert local.returncode == 0, local.stderr
    assert workers.returncode == 0, workers.stderr
    expected, got = _trajectories(tmp_path / "local.db"), _trajectories(tmp_path / "workers.db")
    assert sorted(got) == [0, 1, 2, 3]
    assert all(len(steps) > 1 for steps in got.values())
    assert got == expected
    stores = [open_store(tmp_path / db) for db in ("local.db", "workers.db")]
    runs = [s.get_run("r") for s in stores]
    assert runs[0].env_config == runs[1].env_config  # the config the workers built from
    assert runs[0].env_config["max_steps"] == 40  # --max-steps reached the worker's env
    for s in stores:
        s.close()


def test_eval_process_never_imports_the_environment(tmp_path: Path) -> None:
    """With workers, crafter (and numba) load in the workers only."""
    script = (
        "import sys\n"
        "sys.argv = ['vlmforge', 'eval', '--env', 'crafter', '--policy', 'random', '--seeds',"
        " '0-1', '--max-steps', '10', '--env-workers', '1', '--trace-db', 'x.db']\n"
        "from vlmforge.cli import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
        "print(code, 'crafter' in sys.modules, 'numba' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("VLMFORGE_")}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.stdout.split()[-3:] == ["0", "False", "False"], out.stderr


def test_bad_env_setting_points_at_file_line_and_key(tmp_path: Path) -> None:
    config = tmp_path / "eval.toml"
    config.write_text(
        'seeds = "0"\nenv_workers = 1\n\n[env]\nname = "crafter"\nsize = 64\nfrobnicate = 1\n\n'
        '[policy]\nname = "random"\n'
    )
    with_workers = run_cli("eval", "--config", str(config), "--trace-db", "x.db", cwd=tmp_path)
    config.write_text(config.read_text().replace("env_workers = 1", "env_workers = 0"))
    in_process = run_cli("eval", "--config", str(config), "--trace-db", "y.db", cwd=tmp_path)
    assert with_workers.returncode == in_process.returncode == 2
    assert "frobnicate" in with_workers.stderr and "line 7" in with_workers.stderr
    assert with_workers.stderr == in_process.stderr  # the same message, from the worker


def test_a_dead_worker_fails_its_episode_and_the_others_carry_on(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "crashy_env.py").write_text(CRASHY_PLUGIN)
    result = run_cli(
        "eval",
        "--plugins-dir",
        str(plugins),
        "--env",
        "crashy",
        "--policy",
        "random",
        "--seeds",
        "0-3",
        "--env-workers",
        "2",
        "--trace-db",
        str(tmp_path / "c.db"),
        "--run-name",
        "r",
        "--json-summary",
        str(tmp_path / "s.json"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    store = open_store(tmp_path / "c.db")
    episodes = {e.seed: e for e in store.episodes([store.get_run("r").id])}
    store.close()
    assert episodes[1].status.value == "failed"
    assert "environment worker" in episodes[1].error and "exit code 3" in episodes[1].error
    for seed in (0, 2, 3):  # sequential episodes: after the crash they run on the other worker
        assert episodes[seed].status.value == "done" and episodes[seed].steps == 5
    assert json.loads((tmp_path / "s.json").read_text())["runs"][0]["episodes"] == 4


def test_pool_errors_and_close(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown environment 'nosuchenv'"):
        EnvWorkerPool(EnvBuild("nosuchenv", {}), 1).spec()
    pool = EnvWorkerPool(EnvBuild("crafter", {"max_steps": 5}), 1)
    episode = pool.start(0)
    first = episode.reset()
    assert first.images and first.text
    episode.close()
    pool.close()
    pool.close()  # idempotent
    with pytest.raises(EnvWorkerError, match="every environment worker has exited"):
        pool.start(1)


@pytest.mark.slow
def test_ctrl_c_to_the_whole_process_group_then_resume(tmp_path: Path) -> None:
    """A terminal's Ctrl-C reaches the workers too: they ignore it, the eval stops cleanly
    (episodes interrupted, exit 130), no worker is left behind, and --resume finishes."""
    db = tmp_path / "i.db"
    proc = _start(db, tmp_path, "--env-workers", "2", new_session=True)
    wait_for_steps(db, 20, proc)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the workers exit with the eval
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("an environment worker outlived the eval")
    again = run_cli("eval", *ARGS, "--trace-db", str(db), "--env-workers", "2", "--resume")
    assert again.returncode == 0, again.stderr
    _check_complete(db)


SLOW_RESET_PLUGIN = '''
"""``slowreset``: an environment whose reset waits until a file appears (a world that takes long
to build); ``flakyworld``: worlds that may be built ahead of time, but not seed 2's."""
import os, time
from vlmforge.components import EnvSpec, Observation, StepOutcome
from vlmforge.hookspecs import hookimpl

GATE = os.environ["SLOW_RESET_GATE"]


class Episode:
    def __init__(self, seed):
        self.seed, self.t = seed, 0

    def reset(self):
        while self.seed == 1 and not os.path.exists(GATE):
            time.sleep(0.01)
        return Observation(text=f"seed {self.seed} t 0")

    def step(self, tool_calls):
        self.t += 1
        return StepOutcome(Observation(text=f"seed {self.seed} t {self.t}"), reward=0.0,
                           actions=["noop"])

    def close(self):
        pass


class SlowReset:
    config_model = None

    def spec(self):
        return EnvSpec(name="slowreset", tools=[], system_prompt="s", action_names=["noop"])

    def start(self, seed):
        return Episode(seed)

    def config_dict(self):
        return {}


class FlakyEpisode(Episode):
    def reset(self):
        if self.seed == 2:
            raise ValueError("no world for seed 2")
        return super().reset()


class FlakyWorld(SlowReset):
    reset_ahead = True

    def spec(self):
        return EnvSpec(name="flakyworld", tools=[], system_prompt="s", action_names=["noop"])

    def start(self, seed):
        return FlakyEpisode(seed)


@hookimpl
def register_environments(register):
    register("slowreset", SlowReset)
    register("flakyworld", FlakyWorld)
'''


def test_steps_are_served_while_another_episode_builds_its_world(tmp_path, monkeypatch) -> None:
    """One worker: seed 1's reset blocks until released; seed 0 keeps stepping meanwhile."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "slowreset.py").write_text(SLOW_RESET_PLUGIN)
    gate = tmp_path / "gate"
    monkeypatch.setenv("SLOW_RESET_GATE", str(gate))
    pool = EnvWorkerPool(EnvBuild("slowreset", {}, plugins_dirs=(str(plugins),)), 1)
    threads = ThreadPoolExecutor(2)
    try:
        stepping, building = pool.start(0), pool.start(1)
        stepping.reset()
        world = threads.submit(building.reset)
        steps = threads.submit(lambda: [stepping.step([]).observation.text for _ in range(20)])
        assert steps.result(timeout=20)[-1] == "seed 0 t 20"  # not stuck behind seed 1
        assert not world.done()  # seed 1's reset is still running in the worker
        gate.touch()
        assert world.result(timeout=20).text == "seed 1 t 0"
        assert building.step([]).observation.text == "seed 1 t 1"
    finally:
        pool.close()  # fails any call still waiting, so the threads end
        threads.shutdown()


def _play(episode, steps: int) -> list[tuple]:
    first = episode.reset()
    out = [(first.text, first.images, first.ground_truth)]
    for _ in range(steps):
        outcome = episode.step([])
        out.append((outcome.observation.text, outcome.observation.images, outcome.reward))
    episode.close()
    return out


def test_a_world_built_ahead_of_time_is_the_world_played() -> None:
    """Crafter's worlds depend on the seed alone: a prefetched episode plays exactly as one
    started on demand; a world nobody starts is dropped at the limit, and its seed then starts
    on demand."""
    pool = EnvWorkerPool(EnvBuild("crafter", {"max_steps": 20}), 2)
    try:
        on_demand = _play(pool.start(3), 10)
        pool.prefetch(3)
        assert pool.prefetch_counts == {"prefetched": 1, "used": 0, "dropped": 0}
        assert _play(pool.start(3), 10) == on_demand
        assert pool.prefetch_counts["used"] == 1
        pool.prefetch_limit = 1
        pool.prefetch(5)
        pool.prefetch(6)  # over the limit: 5's world is dropped (closed in its worker)
        assert pool.prefetch_counts == {"prefetched": 3, "used": 1, "dropped": 1}
        assert _play(pool.start(5), 3)[0][0]  # started on demand
        assert _play(pool.start(6), 3)[0][0]
        assert pool.prefetch_counts["used"] == 2
        assert [w.prefetched for w in pool._workers] == [0, 0]
        assert [w.open_episodes for w in pool._workers] == [0, 0]
    finally:
        pool.close()


def test_worlds_are_built_ahead_only_when_the_env_allows_and_errors_reach_the_episode(
    tmp_path: Path, monkeypatch
) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "slowreset.py").write_text(SLOW_RESET_PLUGIN)
    monkeypatch.setenv("SLOW_RESET_GATE", str(tmp_path / "gate"))
    dirs = (str(plugins),)
    plain = EnvWorkerPool(EnvBuild("slowreset", {}, plugins_dirs=dirs), 1)
    try:  # no reset_ahead: nothing is built before the runner asks
        plain.prefetch(0)
        assert plain.prefetch_counts["prefetched"] == 0
    finally:
        plain.close()
    flaky = EnvWorkerPool(EnvBuild("flakyworld", {}, plugins_dirs=dirs), 1)
    try:
        flaky.prefetch(2)
        flaky.prefetch(4)
        broken = flaky.start(2)
        with pytest.raises(EnvWorkerError, match="ValueError: no world for seed 2"):
            broken.reset()  # the prefetch's error, reported where the episode needs it
        broken.close()
        assert _play(flaky.start(4), 2)[-1][0] == "seed 4 t 2"
        assert flaky.prefetch_counts == {"prefetched": 2, "used": 2, "dropped": 0}
    finally:
        flaky.close()


def test_the_runner_announces_each_seed_one_wave_ahead(tmp_path: Path) -> None:
    """With concurrency 2 and seeds 0-5, seeds 2-5 are announced (each by the episode two
    places before it, once it has its first observation) and every one of them starts from its
    prefetched world. (A seed already started when its turn to be announced comes, as when a
    worker's first world takes long, is not announced: no world is built for nothing.)"""
    import asyncio

    from vlmforge.plugins import get_registry
    from vlmforge.runner import EvalRunner
    from vlmforge.session import describe_run, open_run

    class Paced:  # the random policy at ~50 ms a decision (a world takes ~10-50 ms)
        def __init__(self) -> None:
            self.inner = get_registry().create("policy", "random", {})

        async def start_episode(self, env, seed):
            inner = await self.inner.start_episode(env, seed)

            class Episode:
                async def act(self, observation):
                    await asyncio.sleep(0.05)
                    return await inner.act(observation)

            return Episode()

        def describe(self):
            return {}

        def model_name(self):
            return None

        async def aclose(self):
            return None

    pool = EnvWorkerPool(EnvBuild("crafter", {"max_steps": 8}), 2)
    store = open_store(tmp_path / "ahead.db")
    try:
        warm = [pool.start(100), pool.start(101)]  # one per worker: crafter loaded in each
        for episode in warm:
            _play(episode, 0)
        policy = Paced()
        spec = pool.spec()
        run = describe_run(
            "ahead", env_name="crafter", env=pool, spec=spec, policy_name="random",
            policy=policy, seeds=list(range(6)),
        )  # fmt: skip
        opened = open_run(store, run, resume=False)
        runner = EvalRunner(
            env=pool, spec=spec, policy=policy, store=store, run=opened.run,
            seeds=opened.to_run, concurrency=2,
        )  # fmt: skip
        result = asyncio.run(runner.run())
        assert sorted(e.seed for e in result.episodes) == list(range(6))
        assert all(e.status == "done" for e in result.episodes)
        assert pool.prefetch_counts == {"prefetched": 4, "used": 4, "dropped": 0}
    finally:
        store.close()
        pool.close()
