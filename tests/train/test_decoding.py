"""The hf policy's decodings on real tiny models: score ranks by likelihood, constrained writes
only valid calls (even with random weights), sampling is seeded without repeating itself."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

pytest.importorskip("trl")

from vlmforge.components import PolicyError
from vlmforge_crafter.actions import parse_tool_calls, tool_schemas


def _crafter(n: int, seed0: int = 0):
    from vlmforge.plugins import get_registry

    env = get_registry().create("environment", "crafter", {})
    observations = []
    for seed in range(seed0, seed0 + n):
        episode = env.start(seed)
        observations.append(episode.reset())
        episode.close()
    return env, env.spec(), observations


def _policy(model: Path, **settings):
    from vlmforge.plugins import get_registry

    return get_registry().create("policy", "hf", {"model": str(model), **settings})


def _decide(policy, spec, observations, seeds=None, repeats=1):
    """``repeats`` decisions per observation, each episode in flight at once."""

    async def run():
        episodes = [
            await policy.start_episode(spec, s)
            for s in (seeds if seeds is not None else range(len(observations)))
        ]
        out = []
        for _ in range(repeats):
            out.append(
                await asyncio.gather(
                    *(e.act(o) for e, o in zip(episodes, observations, strict=True))
                )
            )
        await policy.aclose()
        return out

    return asyncio.run(run())


# -- score ---------------------------------------------------------------------------------
def _prompts(processor, n: int):
    """Short real prompts with one Crafter frame each (the tiny tokenizer's untrained merges
    make full Crafter prompts long; the scorer does not care what the text says)."""
    from vlmforge.components import EnvSpec
    from vlmforge.prompting import build_prompt
    from vlmforge_hf.policy import template_messages
    from vlmforge_hf.rendering import render_prompt

    _, spec, observations = _crafter(n)
    short = EnvSpec(name="crafter", tools=spec.tools, system_prompt="Play.", action_names=[])
    texts, images, messages = [], [], None
    for obs in observations:
        obs.text = f"Step {obs.ground_truth['step']}. Facing {obs.ground_truth['facing_tile']}."
        messages, pil = template_messages(
            build_prompt(short, obs), {i.sha256: i for i in obs.images}
        )
        texts.append(render_prompt(processor, messages, None))
        images.append(pil)
    return spec, texts, images, messages


def _reference(loaded, text, images, ids):
    """log p(ids | prompt) from one uncached forward pass over prompt + candidate."""
    import torch

    proc = loaded.processor
    enc = proc(text=[text], images=[images] if images else None, return_tensors="pt",
               add_special_tokens=False)  # fmt: skip
    n = enc["input_ids"].shape[1]
    extra = torch.tensor([list(ids)])
    inputs = dict(enc)
    inputs["input_ids"] = torch.cat([enc["input_ids"], extra], dim=1)
    inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
    if "mm_token_type_ids" in enc:
        inputs["mm_token_type_ids"] = torch.cat(
            [enc["mm_token_type_ids"], torch.zeros_like(extra)], dim=1
        )
    loaded.model.model.rope_deltas = None
    with torch.no_grad():
        logp = loaded.model(**inputs).logits[0].float().log_softmax(-1)
    return sum(logp[n - 1 + i, t].item() for i, t in enumerate(ids))


@pytest.mark.parametrize("family", ["qwen2-vl", "qwen2.5-vl", "qwen3-vl"])
def test_score_equals_an_uncached_forward_pass(family, tmp_path):
    from vlmforge_hf.choices import build_choices
    from vlmforge_hf.loader import load
    from vlmforge_hf.scoring import score_batch
    from vlmforge_hf.tiny import build_tiny

    build_tiny(family, tmp_path / family, vocab_size=400)
    loaded = load(str(tmp_path / family), None)
    spec, texts, images, messages = _prompts(loaded.processor, 3)
    choices = build_choices(loaded.processor, messages, spec.tools, template_tools=None,
                            only=["interact_many"], max_actions=1)  # fmt: skip
    assert len(choices.candidates) == 17 and choices.tokens.shared_prefix() > 0
    for with_images in (True, False):
        prompts = (
            texts
            if with_images
            else [t.replace("<|vision_start|><|image_pad|><|vision_end|>", "") for t in texts]
        )
        scores, lengths = score_batch(loaded, prompts, images if with_images else None,
                                      choices.tokens)  # fmt: skip
        assert len(scores) == 3 and all(len(row) == 17 for row in scores)
        assert lengths[0] > 4 if with_images else lengths[0] > 1
        for b in range(3):
            for j in (0, 5, 16):
                ref = _reference(loaded, prompts[b], images[b] if with_images else None,
                                 choices.tokens.ids[j])  # fmt: skip
                assert scores[b][j] == pytest.approx(ref, abs=1e-3), (with_images, b, j)


def test_score_at_temperature_0_takes_the_most_likely_decision(tiny_model):
    from vlmforge_hf.scoring import score_batch

    _, spec, observations = _crafter(3)
    policy = _policy(tiny_model, temperature=0.0, tools=["interact_many"], batch_size=3)
    [decisions] = _decide(policy, spec, observations)
    episode = asyncio.run(policy.start_episode(spec, 0))
    choices = policy.decode_data(spec, episode.render(observations[0])[3])
    for decision, obs in zip(decisions, observations, strict=True):
        _, text, images, _ = asyncio.run(policy.start_episode(spec, 0)).render(obs)
        [row], _ = score_batch(policy.loaded, [text], [images], choices.tokens)
        best = max(range(len(row)), key=row.__getitem__)
        assert decision.reply.content == choices.reply_text(policy.loaded.processor.tokenizer, best)
        assert decision.lm_call.logprob == pytest.approx(row[best], abs=1e-3)
        assert decision.lm_call.params == {"decoding": "score", "greedy": True,
                                           "tools": ["interact_many"], "batch_size": 3,
                                           "candidates": 17}  # fmt: skip
        [call] = decision.tool_calls
        assert call.function.name == "interact_many"
        assert json.loads(call.function.arguments)["actions"][0] in spec.action_names


def test_score_sampling_replays_per_seed_whatever_the_batching(tiny_model):
    _, spec, observations = _crafter(4)

    def actions(batch_size: int, seed: int):
        # a random-weight model's sequence likelihoods differ by tens of nats: a high
        # temperature spreads its draws over many candidates
        policy = _policy(
            tiny_model, temperature=5.0, seed=seed, batch_size=batch_size, tools=["interact_many"]
        )
        rounds = _decide(policy, spec, observations, repeats=3)
        return [[d.tool_calls[0].function.arguments for d in r] for r in rounds]

    first = actions(4, seed=0)
    assert actions(1, seed=0) == first  # the same draws, batched differently
    assert actions(4, seed=1) != first
    flat = [a for r in first for a in r]
    assert len(set(flat)) > 3  # 12 draws at a high temperature are not all alike


def test_score_refuses_tools_the_environment_lacks(tiny_model):
    _, spec, observations = _crafter(1)
    policy = _policy(tiny_model, tools=["teleport"])
    with pytest.raises(PolicyError, match="teleport, which the environment does not offer"):
        _decide(policy, spec, observations)


# -- constrained and free --------------------------------------------------------------------
def test_constrained_decoding_of_random_weights_gives_only_valid_calls(tiny_model):
    _, spec, observations = _crafter(4, seed0=10)
    policy = _policy(tiny_model, decoding="constrained", temperature=1.0, max_new_tokens=120)
    rounds = _decide(policy, spec, observations, repeats=3)
    seen = set()
    for decision in (d for r in rounds for d in r):
        parsed = parse_tool_calls(decision.tool_calls, 8)
        assert parsed.actions and not parsed.invalid, decision.reply.content
        assert decision.lm_call.finish_reason == "stop" and decision.lm_call.error is None
        assert decision.lm_call.params["decoding"] == "constrained"
        seen.add(decision.reply.content)
    assert len(seen) > 3  # sampled, not one fixed call
    # the same untrained model generating freely does not write calls: the grammar does it
    free = _decide(_policy(tiny_model, decoding="free", max_new_tokens=40), spec, observations)
    assert all(not parse_tool_calls(d.tool_calls, 8).actions for d in free[0])


def test_constrained_grammar_follows_the_schema_limits(tiny_model):
    from vlmforge_hf.constrained import tool_call_grammar
    from vlmforge_hf.processor import load_processor

    processor = load_processor(tiny_model)
    messages = [{"role": "user", "content": "x"}]
    grammar = tool_call_grammar(processor, messages, tool_schemas(3), template_tools=None,
                                only=["interact_many"])  # fmt: skip
    assert grammar.startswith("start: call0\n")  # one tool

    import llguidance

    from vlmforge_hf.constrained import ll_tokenizer

    tok = processor.tokenizer
    ll = ll_tokenizer(tok, len(tok))

    def accepts(actions: list[str]) -> bool:
        text = '<tool_call>\n{"name": "interact_many", "arguments": {"actions": %s}}\n</tool_call>'
        matcher = llguidance.LLMatcher(ll, grammar, log_level=0)
        ids = tok(text % json.dumps(actions), add_special_tokens=False)["input_ids"]
        ok = all(matcher.consume_token(t) for t in ids) and not matcher.is_error()
        return ok and matcher.consume_token(tok.eos_token_id)

    assert accepts(["do"]) and accepts(["do", "noop", "sleep"])
    assert not accepts(["do", "noop", "sleep", "do"])  # maxItems 3
    assert not accepts(["fly"]) and not accepts([])


def test_free_sampling_is_seeded_once_not_per_batch(tiny_model):
    _, spec, observations = _crafter(1)
    settings = {"decoding": "free", "temperature": 1.0, "seed": 3, "max_new_tokens": 6}
    rounds = _decide(_policy(tiny_model, **settings), spec, observations, repeats=8)
    replies = [r[0].reply.content for r in rounds]
    assert len(set(replies)) > 1, replies  # seeding before every batch repeated one draw
    again = _decide(_policy(tiny_model, **settings), spec, observations, repeats=8)
    assert [r[0].reply.content for r in again] == replies  # and the seed still replays
