"""The `hf` policy's settings, on the untrained tiny model with real Crafter observations."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

pytest.importorskip("trl")

from vlmforge.errors import ConfigError


def _spec_and_obs(n: int):
    from vlmforge.plugins import get_registry

    env = get_registry().create("environment", "crafter", {})
    observations = []
    for seed in range(n):
        episode = env.start(seed)
        observations.append(episode.reset())
        episode.close()
    return env.spec(), observations


def _policy(settings: dict):
    from vlmforge.plugins import get_registry

    return get_registry().create("policy", "hf", settings)


async def _act_all(policy, spec, observations):
    episodes = [await policy.start_episode(spec, i) for i in range(len(observations))]
    return await asyncio.gather(*(ep.act(o) for ep, o in zip(episodes, observations, strict=True)))


def test_batching_sampling_and_limits(tiny_model: Path) -> None:
    import torch

    spec, observations = _spec_and_obs(3)
    settings = {"model": str(tiny_model), "batch_size": 2, "max_new_tokens": 5, "decoding": "free",
                "temperature": 1.0, "top_p": 0.9, "seed": 7, "dtype": "bfloat16"}  # fmt: skip
    policy = _policy(settings)
    assert policy.loaded.model.dtype == torch.bfloat16 and policy.loaded.device == "cpu"
    first = asyncio.run(_act_all(policy, spec, observations))
    assert sorted(policy.batcher.batch_sizes) == [1, 2]  # 3 requests, at most 2 per generate
    for d, obs in zip(first, observations, strict=True):
        assert d.prompt[-1].image_hashes() == [obs.images[0].sha256]
        call = d.lm_call
        assert call.provider == "hf" and call.model == str(tiny_model)
        assert call.params["temperature"] == 1.0 and call.params["top_p"] == 0.9
        assert call.usage.completion_tokens <= 5 and call.usage.prompt_tokens > 50
        assert call.finish_reason in ("stop", "length")
        assert d.reply.role == "assistant" and isinstance(d.reply.content, str)
    # same seed, same sampled text (seeded once, when the policy starts)
    again = asyncio.run(_act_all(_policy(settings), spec, observations))
    assert [d.reply.content for d in again] == [d.reply.content for d in first]


def test_text_only_history_and_greedy(tiny_model: Path) -> None:
    spec, observations = _spec_and_obs(1)
    policy = _policy({"model": str(tiny_model), "use_vision": False, "history": "turns",
                      "history_k": 2, "max_new_tokens": 4, "max_pixels": 784,
                      "decoding": "free", "temperature": 0.0})  # fmt: skip
    from vlmforge_hf.processor import pixel_limits

    assert pixel_limits(policy.loaded.processor)[1] == 784

    async def two_steps():
        episode = await policy.start_episode(spec, 0)
        return [await episode.act(observations[0]), await episode.act(observations[0])]

    first, second = asyncio.run(two_steps())
    assert not first.prompt[-1].image_hashes()  # no frames without vision
    assert first.lm_call.params == {
        "decoding": "free", "max_new_tokens": 4, "greedy": True, "batch_size": 1}  # fmt: skip
    # "turns" history: the first turn (user + verbatim reply) comes before the new observation
    assert [m.role for m in second.prompt[:3]] == ["system", "user", "assistant"]
    assert second.prompt[2].content == first.reply.content


def test_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="give `model`"):
        _policy({})
    with pytest.raises(ConfigError, match=r"no adapter_config\.json"):
        _policy({"adapter": str(tmp_path)})
    with pytest.raises(ConfigError, match="unknown key 'temprature'"):
        _policy({"model": "m", "temprature": 0.5})
    with pytest.raises(ConfigError, match="decoding: Input should be 'free', 'constrained'"):
        _policy({"model": "m", "decoding": "beam"})
    with pytest.raises(ConfigError, match="lists a tool twice"):
        _policy({"model": "m", "tools": ["interact", "interact"]})
    with pytest.raises(ConfigError, match="score_max_actions"):
        _policy({"model": "m", "score_max_actions": 9})


def test_batch_wait_collects_late_requests() -> None:
    """batch_wait_ms: requests arriving within the wait share one batch; with no wait they don't."""
    from vlmforge_hf.batcher import Batcher

    def run_batch(requests):
        return [r.text.upper() for r in requests]

    async def staggered(wait_s: float) -> tuple[list[str], list[int]]:
        batcher = Batcher(run_batch, batch_size=8, wait_s=wait_s)

        async def late(text: str, delay: float) -> str:
            await asyncio.sleep(delay)
            return await batcher.submit(text, [])

        results = await asyncio.gather(late("a", 0.0), late("b", 0.05), late("c", 0.1))
        await batcher.aclose()
        return list(results), batcher.batch_sizes

    results, sizes = asyncio.run(staggered(0.5))
    assert results == ["A", "B", "C"] and sizes == [3]
    results, sizes = asyncio.run(staggered(0.0))
    assert results == ["A", "B", "C"] and sizes == [1, 1, 1]


def test_generate_errors_fail_the_episode_not_the_process() -> None:
    from vlmforge_hf.batcher import Batcher

    def boom(requests):
        raise RuntimeError("CUDA out of memory")

    async def go():
        batcher = Batcher(boom, batch_size=2, wait_s=0.0)
        try:
            with pytest.raises(RuntimeError, match="out of memory"):
                await batcher.submit("x", [])
            with pytest.raises(RuntimeError):  # the worker survives and serves the next request
                await batcher.submit("y", [])
        finally:
            await batcher.aclose()

    asyncio.run(go())
