"""Held-out reports: rows from a real SQLite store, paired differences computed by hand."""

from __future__ import annotations

import math

import pytest

from vlmforge import __version__
from vlmforge.trace import Episode, EpisodeStatus, Run
from vlmforge_hf.pipeline.report import heldout_report, t_critical_95

NAMES = ["collect_wood", "place_table", "wake_up", "eat_cow"]


@pytest.mark.parametrize(
    ("df", "expected"),
    [(1, 12.706), (2, 4.303), (3, 3.182), (5, 2.571), (10, 2.228), (29, 2.045), (100, 1.984)],
)
def test_t_critical_values(df, expected):
    assert t_critical_95(df) == pytest.approx(expected, abs=0.003)


def _store(tmp_path, rows: dict[str, dict[int, tuple[list[str], float, str]]]):
    from vlmforge.plugins import get_registry

    store = get_registry().create("store", "sqlite", {"path": str(tmp_path / "h.db")})
    runs = {}
    for name, episodes in rows.items():
        run = Run(id=f"run-{name}", name=f"heldout-{name}", vlmforge_version=__version__,
                  env_name="crafter", policy_name=name, achievements=NAMES)  # fmt: skip
        store.create_run(run)
        for seed, (achievements, reward, status) in episodes.items():
            ep = Episode(id=f"{name}-{seed}", run_id=run.id, seed=seed)
            store.start_episode(ep)
            ep.achievements, ep.total_reward = achievements, reward
            ep.status = EpisodeStatus(status)
            ep.steps, ep.invalid_decisions = 10, 1 if name == "base" else 0
            store.finish_episode(ep)
        runs[name] = run
    return store, runs


def test_report_rows_and_paired_differences(tmp_path):
    store, runs = _store(
        tmp_path,
        {
            "random": {1: (["wake_up"], 1.0, "done"), 2: ([], 0.0, "done"),
                       3: (["wake_up", "eat_cow"], 2.0, "done"), 4: (["wake_up"], 0.5, "done")},
            "sft": {1: (["wake_up", "collect_wood"], 2.0, "done"),
                    2: (["collect_wood", "place_table", "eat_cow"], 3.0, "done"),
                    3: (["wake_up", "eat_cow"], 2.0, "done"),
                    4: (NAMES, 4.0, "failed"), 5: (NAMES, 9.0, "interrupted")},
            "base": {1: ([], 0.0, "done"), 2: ([], 0.0, "done")},
        },
    )  # fmt: skip
    report = heldout_report(
        store,
        [(n, runs[n]) for n in ("random", "sft", "base")],
        seeds=[1, 2, 3, 4],
        comparisons=[("sft", "random", "unique_achievements"), ("sft", "random", "reward"),
                     ("sft", "base", "unique_achievements"), ("sft", "teacher", "reward")],
    )  # fmt: skip
    assert report["heldout_seeds"] == [1, 2, 3, 4]
    rows = {r["name"]: r for r in report["rows"]}
    assert rows["sft"]["episodes"] == 4  # the interrupted episode is not an outcome
    assert rows["sft"]["unique_achievements_mean"] == pytest.approx((2 + 3 + 2 + 4) / 4)
    sd = math.sqrt(sum((x - 2.75) ** 2 for x in (2, 3, 2, 4)) / 3)
    assert rows["sft"]["unique_achievements_sem"] == pytest.approx(sd / 2)
    # success rates: wake_up in 3 of 4 random episodes, eat_cow in 1 -> Crafter score
    rates = rows["random"]["success_rates_pct"]
    assert rates == {"collect_wood": 0.0, "place_table": 0.0, "wake_up": 75.0, "eat_cow": 25.0}
    score = math.exp((math.log(76) + math.log(26)) / 4) - 1
    assert rows["random"]["crafter_score_pct"] == pytest.approx(score)
    assert rows["base"]["invalid_decision_rate"] == pytest.approx(0.1)
    unique, reward, base = report["comparisons"]  # no "teacher" row: that one is left out
    diffs = [2 - 1, 3 - 0, 2 - 2, 4 - 1]
    mean = sum(diffs) / 4
    sem = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 3) / 2
    assert unique["difference"] == pytest.approx(mean) and unique["sem"] == pytest.approx(sem)
    low, high = unique["ci95"]
    assert low == pytest.approx(mean - 3.182 * sem, abs=1e-2)
    assert high == pytest.approx(mean + 3.182 * sem, abs=1e-2)
    assert unique["excludes_zero"] is (low > 0)
    assert unique["ratio"] == pytest.approx(2.75 / 1.0)
    assert reward["difference"] == pytest.approx((1 + 3 + 0 + 3.5) / 4)
    assert base["seeds"] == 2  # paired on the seeds both finished
    assert base["difference"] == pytest.approx(2.5)
    store.close()


def test_a_comparison_needs_two_shared_seeds(tmp_path):
    store, runs = _store(tmp_path, {"a": {1: ([], 0.0, "done")}, "b": {1: ([], 1.0, "done")}})
    report = heldout_report(store, list(runs.items()), seeds=[1],
                            comparisons=[("a", "b", "reward")])  # fmt: skip
    [item] = report["comparisons"]
    assert item["difference"] is None and item["excludes_zero"] is False
    store.close()
