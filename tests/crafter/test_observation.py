"""Observations: text and ground truth match the game state; frames; modes; history."""

from __future__ import annotations

import random
import re

import crafter
import numpy as np
import pytest

from tests.crafter.helpers import decode, make_env, many
from vlmforge_crafter.observe import SEMANTIC_NAMES

ACTIONS = list(crafter.constants.actions)
GT_KEYS = {
    "step", "max_steps", "position", "facing", "facing_tile", "inventory", "achievements",
    "sleeping", "daylight", "view", "creatures", "nearest", "semantic_view",
}  # fmt: skip
FACING = {(0, -1): "up", (0, 1): "down", (-1, 0): "left", (1, 0): "right"}


def _walk(seed: int, decisions: int, **settings):
    """(episode, observation) after each of ``decisions`` random decisions (stops at death)."""
    rng = random.Random(seed)
    episode = make_env(**settings).start(seed)
    yield episode, episode.reset()
    for _ in range(decisions):
        out = episode.step(many(*(rng.choice(ACTIONS[:6]) for _ in range(rng.randint(1, 4)))))
        yield episode, out.observation
        if out.done:
            return


def _check_against_game(episode, obs) -> None:
    env = episode.env
    player, world = env._player, env._world
    gt = obs.ground_truth
    assert set(gt) >= GT_KEYS
    x, y = (int(v) for v in player.pos)
    assert gt["position"] == [x, y]
    assert gt["step"] == env._step == episode.env_steps
    assert gt["facing"] == [int(v) for v in player.facing]
    assert gt["inventory"] == player.inventory and len(gt["inventory"]) == 16
    assert gt["sleeping"] == player.sleeping
    assert gt["daylight"] == pytest.approx(float(world.daylight))
    assert set(gt["achievements"]) == {k for k, v in player.achievements.items() if v > 0}
    # the view and the semantic view against crafter's own semantic map (indexed [x, y])
    kinds = [crafter.objects.Player, crafter.objects.Cow, crafter.objects.Zombie]
    kinds += [crafter.objects.Skeleton, crafter.objects.Arrow, crafter.objects.Plant]
    semantic = crafter.engine.SemanticView(world, kinds)()  # as crafter's Env builds it
    assert len(gt["view"]) == 7 and all(len(row) == 9 for row in gt["view"])
    assert gt["view"][3][4] == "player"
    for r in range(7):
        for c in range(9):
            wx, wy = x - 4 + c, y - 3 + r
            inside = 0 <= wx < 64 and 0 <= wy < 64
            expected = int(semantic[wx, wy]) if inside else 0
            assert gt["semantic_view"][r][c] == expected
            assert gt["view"][r][c] == SEMANTIC_NAMES[expected]
    fx, fy = gt["facing"]
    material, obj = world[(x + fx, y + fy)]
    assert gt["facing_tile"] == (type(obj).__name__.lower() if obj else material)
    for creature in gt["creatures"]:
        dx, dy = creature["offset"]
        assert creature["distance"] == abs(dx) + abs(dy)
        assert type(world[(x + dx, y + dy)][1]).__name__.lower() == creature["kind"]
    in_view = sum(
        1
        for row in gt["view"]
        for name in row
        if name in {"cow", "zombie", "skeleton", "arrow", "plant"}
    )
    assert len(gt["creatures"]) == in_view
    for name, near in gt["nearest"].items():
        dx, dy = near["offset"]
        assert gt["view"][3 + dy][4 + dx] == name
        assert near["distance"] == abs(dx) + abs(dy)
        closer = [
            (r, c) for r in range(7) for c in range(9)
            if gt["view"][r][c] == name and abs(r - 3) + abs(c - 4) < near["distance"]
        ]  # fmt: skip
        assert not closer
    # the text shows the same state
    text = obs.text
    inv = player.inventory
    assert f"Step {gt['step']}/10000." in text
    assert (
        f"Health {inv['health']}/9, food {inv['food']}/9, drink {inv['drink']}/9, "
        f"energy {inv['energy']}/9." in text
    )
    assert f"Position x={x}, y={y}. Facing {FACING[tuple(gt['facing'])]}, toward " in text
    assert f"toward {gt['facing_tile']}." in text
    items = re.search(r"Inventory: (.*)\.", text).group(1)
    expected_items = [
        f"{k} {v}" for k, v in inv.items() if v and k not in ("health", "food", "drink", "energy")
    ]
    assert items == (", ".join(expected_items) or "nothing")
    assert f"Achievements ({len(gt['achievements'])}/22)" in text
    assert ("You are asleep." in text) == bool(player.sleeping)
    map_rows = text.split("):\n", 1)[1].split("\n")[:7]
    assert [row.split() for row in map_rows] == gt["view"]
    creatures_line = re.search(r"Creatures in view: (.*)\.", text).group(1)
    assert creatures_line.count("distance") == len(gt["creatures"])


def test_text_and_ground_truth_match_game_state():
    seen_creature = False
    for episode, obs in _walk(4, 60):
        _check_against_game(episode, obs)
        seen_creature |= bool(obs.ground_truth["creatures"])
    assert seen_creature


def test_view_at_the_world_edge_is_unknown():
    episode = make_env().start(5)
    episode.reset()
    env = episode.env
    world, player = env._world, env._player
    target = next((0, y) for y in range(10, 54) if world[(0, y)][1] is None)
    world.move(player, target)  # put the player on the left edge of the world
    player.facing = (-1, 0)
    gt = episode.observer.ground_truth(env, [], 0)
    assert [row[:4] for row in gt["view"]] == [["unknown"] * 4] * 7
    assert all(row[:4] == [0, 0, 0, 0] for row in gt["semantic_view"])
    assert "unknown" not in {name for row in gt["view"] for name in row[4:]}
    assert gt["view"][3][4] == "player"
    assert gt["facing_tile"] == "unknown"
    assert "unknown" not in gt["nearest"]


@pytest.mark.parametrize("size", [64, 128, 100])
def test_frame_decodes_to_configured_size(size):
    episode = make_env(image_size=size).start(1)
    obs = episode.reset()
    (image,) = obs.images
    assert (image.width, image.height) == (size, size)
    pixels = decode(image.png)
    assert pixels.shape == (size, size, 3)
    assert np.array_equal(pixels, episode.env.render())
    assert image.data_url().startswith("data:image/png;base64,")
    out = episode.step(many("move_left"))
    assert decode(out.observation.images[-1].png).shape == (size, size, 3)


def test_png_compress_level_changes_bytes_not_pixels():
    fast = make_env(png_compress_level=0).start(1).reset().images[0]
    small = make_env(png_compress_level=9).start(1).reset().images[0]
    assert len(fast.png) > len(small.png)
    assert np.array_equal(decode(fast.png), decode(small.png))


def test_observation_modes():
    text_only = make_env(observation="text_only").start(1)
    obs = text_only.reset()
    assert obs.images == [] and obs.text and obs.ground_truth["view"][3][4] == "player"
    assert text_only.step(many("noop")).observation.images == []
    image_only = make_env(observation="image_only").start(1)
    obs = image_only.reset()
    assert obs.text is None and len(obs.images) == 1 and obs.ground_truth["step"] == 0
    out = image_only.step(many("jump"))
    assert out.observation.text is None and "invalid" in (out.observation.feedback or "")


def test_frame_history_oldest_first():
    episode = make_env(frame_history=2).start(1)
    frames = [episode.reset().images]
    for action in ("move_left", "move_up", "move_right", "move_down"):
        frames.append(episode.step(many(action)).observation.images)
    assert [len(f) for f in frames] == [1, 2, 3, 3, 3]
    current = [f[-1].sha256 for f in frames]
    assert [i.sha256 for i in frames[1]] == current[0:2]
    assert [i.sha256 for i in frames[3]] == current[1:4]
    assert [i.sha256 for i in frames[4]] == current[2:5]
    assert len(set(current)) == 5


def test_area_and_view_are_honoured():
    episode = make_env(area=[32, 48], view=[11, 11], image_size=66).start(2)
    obs = episode.reset()
    gt = obs.ground_truth
    assert gt["position"] == [16, 24]  # crafter starts the player at the centre of the area
    assert episode.env._world.area == (32, 48)
    # crafter's local view is view[0] x (view[1] - inventory rows): 11 x 9 here
    assert len(gt["view"]) == 9 and {len(r) for r in gt["view"]} == {11}
    assert gt["view"][4][5] == "player"
    assert "Map (11 wide x 9 high" in obs.text
    assert len(obs.text.split("):\n", 1)[1].split("\n")[:9]) == 9
