"""The grpo trainer: group-normalised advantages, the loss, and real iterations on Crafter with a
tiny model (recorded rollouts, KL 0 at the start, resume at the next iteration)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("trl")

from vlmforge.config import validate
from vlmforge.errors import ConfigError
from vlmforge.trace import Episode, FunctionCall, Step, StepObservation, ToolCall
from vlmforge_hf.grpo.config import GRPOConfig, RewardSettings
from vlmforge_hf.grpo.rewards import (
    ScoredEpisode,
    group_advantages,
    normalise,
    returns_to_go,
    score_episode,
)

BASE = {"model": "m", "output_dir": "out"}


def _step(i: int, achievements=(), reward=0.0, actions=("noop",), termination=None) -> Step:
    call = ToolCall(id="c", function=FunctionCall(name="interact_many", arguments="{}"))
    return Step(episode_id="e", index=i, observation=StepObservation(), tool_calls=[call],
                achievements=list(achievements), reward=reward, actions=list(actions),
                termination=termination)  # fmt: skip


def test_episode_return_terms_are_weighted_and_recorded():
    steps = [
        _step(0, ["collect_wood"], reward=1.0, actions=("do", "do")),
        _step(1, reward=-0.2),
        _step(2, ["place_table", "wake_up"], reward=1.9, termination="death"),
    ]
    settings = RewardSettings(achievements=1.0, env=0.5, survival=0.01, step=-0.1, death=-2.0)
    scored = score_episode(Episode(id="e", run_id="r", seed=1), steps, 0, settings)
    assert scored.terms == pytest.approx(
        {"achievements": 3.0, "env": 1.35, "survival": 0.04, "step": -0.3, "death": -2.0}
    )
    assert scored.rewards[0] == pytest.approx(1.0 + 0.5 + 0.02 - 0.1)
    assert scored.total == pytest.approx(sum(scored.terms.values()))
    default = score_episode(Episode(id="e", run_id="r", seed=1), steps, 0, RewardSettings())
    assert default.total == 3.0  # achievement unlocks only, by default


def _scored(totals_per_step: list[list[float]]) -> list[ScoredEpisode]:
    return [
        ScoredEpisode(Episode(id=f"e{i}", run_id="r", seed=1), i, rewards)
        for i, rewards in enumerate(totals_per_step)
    ]


def test_group_advantages_are_normalised_within_the_group():
    group = _scored([[1.0], [2.0, 1.0], [0.0, 5.0, 0.0], [3.0]])  # returns 1, 3, 5, 3
    advantages = group_advantages(group, "episode", 0.99)
    s = math.sqrt(2.0)  # population std of (1, 3, 5, 3) around 3
    assert advantages == [[pytest.approx(-2 / s)], [0.0, 0.0],
                          [pytest.approx(2 / s)] * 3, [0.0]]  # fmt: skip
    assert group_advantages(_scored([[1.0], [1.0]]), "episode", 0.9) == [[0.0], [0.0]]
    # return to go, gamma 0.5: episode A rewards (1, 0, 2) -> (1.5, 1, 2); B (0) -> (0)
    assert returns_to_go([1.0, 0.0, 2.0], 0.5) == [1.5, 1.0, 2.0]
    rtg = group_advantages(_scored([[1.0, 0.0, 2.0], [0.0]]), "return_to_go", 0.5)
    assert [a for ep in rtg for a in ep] == pytest.approx(normalise([1.5, 1.0, 2.0, 0.0]))
    assert [len(ep) for ep in rtg] == [3, 1]


def test_step_baseline_compares_decisions_at_the_same_index():
    # gamma 0.5: A (1, 0, 2) -> to go (1.5, 1, 2); B (0, 3) -> (1.5, 3); C (2) -> (2)
    group = _scored([[1.0, 0.0, 2.0], [0.0, 3.0], [2.0]])
    # index means: t0 (1.5 + 1.5 + 2) / 3 = 5/3, t1 (1 + 3) / 2 = 2, t2 2 (A alone)
    residuals = [1.5 - 5 / 3, 1.0 - 2.0, 0.0, 1.5 - 5 / 3, 3.0 - 2.0, 2.0 - 5 / 3]
    rms = math.sqrt(sum(r * r for r in residuals) / len(residuals))
    advantages = group_advantages(group, "return_to_go", 0.5, "step")
    assert [a for ep in advantages for a in ep] == pytest.approx([r / rms for r in residuals])
    assert advantages[0][2] == 0.0  # no other episode reached A's third decision
    # the pooled baseline would have rewarded every early decision of this group alike
    pooled = group_advantages(group, "return_to_go", 0.5, "group")
    assert pooled[0][0] == pytest.approx(pooled[1][0])
    assert advantages[0][0] == pytest.approx(advantages[1][0])
    assert advantages[1][1] > 0 > advantages[0][1]  # same index: B's 3 beats A's 1
    assert group_advantages(_scored([[1.0], [1.0]]), "return_to_go", 0.9, "step") == [[0.0], [0.0]]


def test_loss_is_the_clipped_surrogate_plus_kl():
    import torch

    from vlmforge_hf.grpo.update import Sample, grpo_loss

    logp = torch.log_softmax(torch.tensor([[0.0, 1.0, 2.0], [2.0, 0.0, 0.0]]), dim=1)
    samples = [
        Sample("", [], 2, float(logp[0, 2]), 1.0),  # ratio 1
        Sample("", [], 0, float(logp[1, 0]) - 1.0, -2.0),  # ratio e: clipped at 1.2
    ]
    parts = grpo_loss(logp, logp.clone(), samples, clip=0.2, kl_coef=0.5)
    assert parts.kl == pytest.approx(0.0, abs=1e-7)  # the starting policy itself
    # -min(r*A, clip(r)*A): sample 1: -1; sample 2: -min(-2e, -2 * 1.2) = 2e
    assert parts.policy == pytest.approx((-1.0 + 2 * math.e) / 2)
    assert parts.clipped == 0.5
    ref = torch.log_softmax(torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]), dim=1)
    parts = grpo_loss(logp, ref, samples, clip=0.2, kl_coef=0.5)
    kl = (logp.exp() * (logp - ref)).sum(1).mean()
    assert parts.kl == pytest.approx(float(kl))
    assert float(parts.loss) == pytest.approx(parts.policy + 0.5 * float(kl), rel=1e-5)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"policy": {"decoding": "constrained"}}, "decoding = 'constrained' is not supported"),
        ({"policy": {"top_p": 0.9}}, "top_p must be 1.0"),
        ({"policy": {"temperature": 0.0}}, "temperature must be > 0"),
        ({"policy": {"model": "x"}}, "set model at the top level"),
        ({"seeds": "0-3", "iterations": 3, "seeds_per_iteration": 2}, "fewer than"),
        ({"group_size": 1}, "group_size"),
        ({"credit": "td"}, "credit"),
        ({"baseline": "step"}, 'baseline = "step" needs credit = "return_to_go"'),
        ({"baseline": "value"}, "baseline"),
        ({"time_limit_s": 0}, "time_limit_s"),
    ],
)
def test_bad_settings(extra, message):
    from vlmforge_hf.grpo.trainer import GRPOTrainer

    with pytest.raises(ConfigError, match=message):
        GRPOTrainer(validate(GRPOConfig, {**BASE, **extra}, "grpo.toml"))


def test_only_decision_tokens_reach_the_logits(tiny_model):
    """The policy's log-probabilities come from the logits of the positions that predict
    decision tokens: no prompt or image position is projected to the vocabulary but the last
    one, which predicts the first decision token."""
    from vlmforge.plugins import get_registry
    from vlmforge_hf.grpo.update import Sample, policy_logprobs
    from vlmforge_hf.policy import HFPolicy

    env = get_registry().create("environment", "crafter", {})
    spec = env.spec()
    obs = env.start(0).reset()
    policy = get_registry().create("policy", "hf", {"model": str(tiny_model),
                                                    "tools": ["interact_many"]})  # fmt: skip
    assert isinstance(policy, HFPolicy)
    import asyncio

    episode = asyncio.run(policy.start_episode(spec, 0))
    _, text, images, messages = episode.render(obs)
    choices = policy.decode_data(spec, messages)
    rows: list[int] = []
    head = policy.loaded.model.get_output_embeddings()
    hook = head.register_forward_hook(
        lambda module, args, out: rows.append(args[0].reshape(-1, args[0].shape[-1]).shape[0])
    )
    try:
        samples = [Sample(text, images, 3, -1.0, 1.0)] * 2
        logp = policy_logprobs(policy.loaded, samples, choices, 1.0)
    finally:
        hook.remove()
    shared = choices.tokens.shared_prefix()
    width = max(len(ids) for ids in choices.tokens.ids) - shared
    assert logp.shape == (2, 17)
    assert rows == [2 * (shared + 1), 2 * 17 * width]
    assert float(logp.detach().exp().sum(1).min()) == pytest.approx(1.0, abs=1e-5)


def _grpo_config(tmp_path: Path, model: Path, iterations: int, extra: str = "") -> Path:
    path = tmp_path / "grpo.toml"
    path.write_text(
        f"""{extra}
trainer = "grpo"
model = "{model}"
output_dir = "{tmp_path / "rl"}"
seeds = "1000-1099"
seeds_per_iteration = 2
group_size = 2
iterations = {iterations}
max_steps = 6
batch_size = 4
learning_rate = 1e-3
kl_coef = 0.1
progress = false
[reward]
achievements = 1.0
survival = 0.1
[env]
name = "crafter"
[policy]
tools = ["interact_many"]
temperature = 5.0
"""
    )
    return path


@pytest.mark.slow
def test_grpo_iterations_are_recorded_and_resume(tmp_path, tiny_model, cli):
    result = cli("train", "--config", str(_grpo_config(tmp_path, tiny_model, 2)))
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "rl"
    curve = json.loads((out / "reward_curve.json").read_text())["iterations"]
    assert [p["iteration"] for p in curve] == [0, 1]
    assert curve[0]["kl_first"] == pytest.approx(0.0, abs=1e-6)  # nothing learned yet
    assert curve[0]["ratio_first"] == pytest.approx(1.0, abs=1e-3)  # on-policy
    assert curve[0]["seeds"] == [1000, 1001] and curve[1]["seeds"] == [1002, 1003]
    assert curve[0]["episodes"] == 4 and curve[0]["term_survival_mean"] > 0
    assert (out / "reward_curve.png").stat().st_size > 0
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "iteration-0000", "iteration-0001"]  # fmt: skip
    assert (out / "adapter" / "adapter_config.json").is_file()
    # every rollout is a run of the trace store, tagged with its iteration
    from vlmforge.plugins import get_registry

    store = get_registry().create("store", "sqlite", {"path": str(out / "rollouts.db")})
    runs = {r.name: r for r in store.runs()}
    assert sorted(runs) == ["grpo-it0000-m0", "grpo-it0000-m1", "grpo-it0001-m0", "grpo-it0001-m1"]
    assert "iteration=1" in runs["grpo-it0001-m0"].tags
    episodes = {r: list(store.episodes([runs[r].id])) for r in runs}
    assert all(len(e) == 2 and all(x.status.value == "done" for x in e) for e in episodes.values())
    steps = sum(len(list(store.steps(x.id))) for e in episodes.values() for x in e)
    assert steps == sum(p["samples"] for p in curve)  # every decision was learned from
    first_ids = {x.id for x in episodes["grpo-it0000-m0"]}

    def actions(run: str) -> list[list[str]]:
        seed = next(x for x in episodes[run] if x.seed == 1000)
        return [s.actions for s in store.steps(seed.id)]

    assert actions("grpo-it0000-m0") != actions("grpo-it0000-m1")  # two draws of one group
    store.close()
    # resume: one more iteration continues at iteration 2, earlier rollouts untouched
    result = cli("train", "--config", str(_grpo_config(tmp_path, tiny_model, 3)))
    assert result.returncode == 0, result.stderr[-3000:]
    curve = json.loads((out / "reward_curve.json").read_text())["iterations"]
    assert [p["iteration"] for p in curve] == [0, 1, 2]
    assert curve[2]["kl_first"] > 0  # the adapter kept what it learned
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["resumed_from_iteration"] == 2 and meta["iterations"] == 3
    store = get_registry().create("store", "sqlite", {"path": str(out / "rollouts.db")})
    assert {x.id for x in store.episodes([store.get_run("grpo-it0000-m0").id])} == first_ids
    assert len(list(store.runs())) == 6
    store.close()
    # the trained adapter plays through the hf policy
    from vlmforge_hf.policy import HFPolicy

    policy = get_registry().create(
        "policy", "hf", {"adapter": str(out), "tools": ["interact_many"]}
    )
    assert isinstance(policy, HFPolicy) and policy.loaded.base == str(tiny_model)
    # the trainer's advantages follow `credit` and `baseline` (here on the recorded rollouts)
    from vlmforge_hf.grpo.trainer import GRPOTrainer

    store = get_registry().create("store", "sqlite", {"path": str(out / "rollouts.db")})
    spec = get_registry().create("environment", "crafter", {}).spec()
    runs_0 = [store.get_run(f"grpo-it0000-m{k}") for k in range(2)]
    settings = {"model": str(tiny_model), "output_dir": str(tmp_path / "x"),
                "credit": "return_to_go", "gamma": 0.5, "reward": {"survival": 0.1}}  # fmt: skip
    learned = {}
    for baseline in ("group", "step"):
        trainer = GRPOTrainer(validate(GRPOConfig, {**settings, "baseline": baseline}, "t"))
        groups, decisions = trainer._samples(runs_0, store, spec, policy)
        expected = [a for g in groups for ep in group_advantages(g, "return_to_go", 0.5, baseline)
                    for a in ep]  # fmt: skip
        assert [d.advantage for d in decisions] == pytest.approx(expected)
        learned[baseline] = [d.advantage for d in decisions]
    assert learned["group"] != pytest.approx(learned["step"])
    store.close()


def test_time_limit_starts_no_iteration_that_would_end_past_it_and_resume_continues(
    tmp_path, tiny_model, cli
):
    """A limit shorter than model loading: the first iteration runs (it always does), the next
    would end past the limit, so the run stops there with its adapter, and says so; a resumed
    run (its own limit, here none) continues at the next iteration."""
    config = _grpo_config(tmp_path, tiny_model, 3, extra="time_limit_s = 0.5")
    result = cli("train", "--config", str(config))
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "rl"
    curve = json.loads((out / "reward_curve.json").read_text())["iterations"]
    assert [p["iteration"] for p in curve] == [0]
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["stopped_by_time_limit"] is True and meta["time_limit_s"] == 0.5
    assert meta["iterations"] == 1 and (out / "adapter" / "adapter_config.json").is_file()
    result = cli("train", "--config", str(_grpo_config(tmp_path, tiny_model, 2)))
    assert result.returncode == 0, result.stderr[-3000:]
    curve = json.loads((out / "reward_curve.json").read_text())["iterations"]
    assert [p["iteration"] for p in curve] == [0, 1]
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["stopped_by_time_limit"] is False and meta["resumed_from_iteration"] == 1
