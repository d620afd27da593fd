"""The filter chain: order, counts, lazy step loading, bad filter results, length measure."""

from __future__ import annotations

import pytest

from vlmforge.components import EpisodeTrace, FunctionFilter
from vlmforge.dataset.chain import FilterChain
from vlmforge.dataset.config import RowsConfig
from vlmforge.dataset.rows import example_length
from vlmforge.errors import VlmforgeError
from vlmforge.trace import Episode, ImagePart, Message, Run, Step, StepObservation, TextPart
from vlmforge_filters.episode import MinSteps, MinStepsConfig, Status, StatusConfig

RUN = Run(id="r", name="r", vlmforge_version="0", env_name="e", policy_name="p")


def _steps(n: int) -> list[Step]:
    return [Step(episode_id="e", index=i, observation=StepObservation()) for i in range(n)]


def test_episode_level_filters_do_not_read_steps():
    loads = []

    def load() -> list[Step]:
        loads.append(1)
        return _steps(3)

    chain = FilterChain([("status", Status(StatusConfig()))])
    failed = Episode(id="e", run_id="r", seed=0, status="failed", steps=3)
    assert chain.apply(RUN, failed, load) is None and loads == []
    done = Episode(id="e", run_id="r", seed=0, status="done", steps=3)
    kept = chain.apply(RUN, done, load)
    assert kept is not None and len(kept.steps) == 3 and loads == [1]
    c = chain.counts[0]
    assert (c.episodes_in, c.episodes_dropped, c.steps_in, c.steps_removed) == (2, 1, 6, 3)


def test_step_filters_load_steps_once_and_count_trims():
    loads = []

    def load() -> list[Step]:
        loads.append(1)
        return _steps(5)

    def keep_even(item: EpisodeTrace) -> EpisodeTrace:
        return EpisodeTrace(item.run, item.episode, [s for s in item.steps if s.index % 2 == 0])

    chain = FilterChain(
        [
            ("even", FunctionFilter(keep_even)),
            ("min", MinSteps(MinStepsConfig(min_steps=3))),
        ]
    )
    ep = Episode(id="e", run_id="r", seed=0, status="done", steps=5)
    kept = chain.apply(RUN, ep, load)
    assert [s.index for s in kept.steps] == [0, 2, 4] and loads == [1]
    assert chain.counts[0].steps_removed == 2 and chain.counts[1].steps_in == 3


def test_a_filter_returning_garbage_is_named():
    chain = FilterChain([("oops", FunctionFilter(lambda item: 42, name="oops"))])
    # FunctionFilter turns truthy values into keep; a class returning junk is an error
    assert chain.apply(RUN, Episode(id="e", run_id="r", seed=0), lambda: _steps(1)) is not None

    class Junk:
        def apply(self, item):
            return "keep"

    chain = FilterChain([("junk", Junk())])
    with pytest.raises(VlmforgeError, match="filter 'junk' returned str"):
        chain.apply(RUN, Episode(id="e", run_id="r", seed=0), lambda: _steps(1))


def test_trimming_every_step_drops_the_episode():
    chain = FilterChain(
        [("none", FunctionFilter(lambda item: EpisodeTrace(item.run, item.episode, [])))]
    )
    assert chain.apply(RUN, Episode(id="e", run_id="r", seed=0), lambda: _steps(2)) is None
    assert chain.counts[0].episodes_dropped == 1 and chain.counts[0].steps_removed == 2


def test_length_measure():
    msgs = [
        Message(role="system", content="x" * 40),
        Message(role="user", content=[TextPart(text="y" * 20), ImagePart(sha256="a")]),
    ]
    assert example_length(msgs, RowsConfig()) == 15 + 85
    assert example_length(msgs, RowsConfig(chars_per_token=2.0, image_tokens=10)) == 30 + 10
