"""Memory, path finding and the shelter skill on hand-made maps."""

from __future__ import annotations

from vlmforge_crafter.ground_truth import player_view
from vlmforge_crafter.teacher.memory import WorldMemory
from vlmforge_crafter.teacher.navigation import dijkstra, route_actions
from vlmforge_crafter.teacher.skills import enclosed, find_shelter, shelter_actions


def memory_from(rows: list[str], pos: tuple[int, int], **inventory: int) -> WorldMemory:
    legend = {".": "grass", "S": "stone", "W": "water", "L": "lava", "T": "tree", "P": "path"}
    m = WorldMemory()
    for y, row in enumerate(rows):
        for x, ch in enumerate(row):
            m.tiles[(x, y)] = legend[ch]
    m.pos, m.facing = pos, (0, 1)
    m.inventory = {"health": 9, "food": 9, "drink": 9, "energy": 9, **inventory}
    return m


def test_memory_keeps_tiles_seen_and_marks_the_world_edge() -> None:
    m = WorldMemory()
    view = [["grass"] * 9 for _ in range(7)]
    view[3][4] = "player"
    view[0][0] = "unknown"
    view[1][1] = "cow"
    m.update(
        player_view(
            {
                "step": 3,
                "position": [10, 10],
                "facing": [1, 0],
                "inventory": {"health": 9},
                "achievements": ["collect_wood"],
                "sleeping": False,
                "daylight": 1.0,
                "view": view,
            }
        )
    )
    assert m.tiles[(6, 7)] == "void"
    assert m.creatures == {(7, 8): "cow"} and m.cows == {(7, 8): 3}
    assert m.tiles[(14, 13)] == "grass" and len(m.tiles) == 63


def test_paths_never_cross_lava_and_mine_with_a_pickaxe() -> None:
    rows = [
        ".....",
        ".LLL.",
        ".LSL.",
        ".....",
    ]
    m = memory_from(rows, (0, 0))
    paths = dijkstra(m)
    assert (1, 1) not in paths.cost and (2, 2) not in paths.cost
    m2 = memory_from(["..S.."], (0, 0), wood_pickaxe=1)
    route = dijkstra(m2).route((4, 0))
    assert route_actions(m2, route, 8) == [
        "move_right",
        "move_right",
        "do",
        "move_right",
        "move_right",
        "move_right",
    ]


def test_finds_and_seals_a_pocket_in_rock() -> None:
    rows = [
        "SSSSS",
        "SSSSS",
        "SSSSS",
        ".....",
    ]
    m = memory_from(rows, (2, 3), wood_pickaxe=1)
    paths = dijkstra(m)
    found = find_shelter(m, paths, limit=10)
    assert found is not None
    shelter, _cost = found
    assert shelter.entrance == (2, 3) and shelter.inner == (2, 2) and shelter.back == (2, 1)
    actions = shelter_actions(m, paths, shelter, 16)
    assert actions == [
        "move_up",
        "do",
        "move_up",
        "move_up",
        "do",
        "move_up",
        "move_down",
        "place_stone",
    ]
    # after those actions the pocket is sealed
    m.tiles[(2, 2)] = m.tiles[(2, 1)] = "path"
    m.tiles[(2, 3)] = "stone"
    m.pos = (2, 2)
    assert enclosed(m, m.pos)
    m.tiles[(2, 3)] = "grass"
    assert not enclosed(m, m.pos)


def test_builds_a_pocket_with_stones_on_open_grass() -> None:
    from vlmforge_crafter.teacher.skills import shelter_walls, solid

    rows = ["......."] * 7
    m = memory_from(rows, (3, 3), stone=9)
    paths = dijkstra(m)
    found = find_shelter(m, paths, limit=80)
    assert found is not None
    shelter, cost = found
    assert cost >= 50  # five walls to build (10 each: rock pockets are preferred)
    assert find_shelter(m, paths, limit=40) is None
    for _ in range(12):  # place the walls one by one, as the agent would
        missing = [w for w in shelter_walls(shelter) if not solid(m, w)]
        if not missing:
            break
        actions = shelter_actions(m, dijkstra(m), shelter, 16)
        assert actions and actions[-1] == "place_stone"
        moves = actions[:-1]
        for move in moves:  # walk the moves on the hand-made map
            d = {
                "move_left": (-1, 0),
                "move_right": (1, 0),
                "move_up": (0, -1),
                "move_down": (0, 1),
            }[move]
            q = (m.pos[0] + d[0], m.pos[1] + d[1])
            m.facing = d
            if m.free(q):
                m.pos = q
        target = (m.pos[0] + m.facing[0], m.pos[1] + m.facing[1])
        assert target in missing
        m.tiles[target] = "stone"
    assert all(solid(m, w) for w in shelter_walls(shelter))


def test_garden_site_plants_only_where_it_can_be_walled_in() -> None:
    from vlmforge_crafter.teacher.goals.garden import Garden
    from vlmforge_crafter.teacher.planner import Planner

    planner = Planner(seed=0)
    view = [["grass"] * 9 for _ in range(7)]
    view[3][4] = "player"
    gt = {
        "step": 10,
        "position": [10, 10],
        "facing": [0, 1],
        "achievements": [],
        "inventory": {
            "health": 9,
            "food": 9,
            "drink": 9,
            "energy": 9,
            "sapling": 1,
            "stone": 9,
            "wood_pickaxe": 1,
            "stone_pickaxe": 1,
        },
        "sleeping": False,
        "daylight": 1.0,
        "view": view,
    }
    agent = planner.agent
    agent.memory.update(player_view(gt))
    agent.memory.achievements = {"place_furnace"}
    agent.paths = dijkstra(agent.memory)
    plan = Garden().propose(agent)
    assert plan is not None and plan[0][-1] == "place_plant"


def test_the_tile_under_the_player_is_remembered_as_walkable() -> None:
    m = WorldMemory()
    m.tiles[(10, 10)] = "tree"  # chopped and walked onto within one decision
    m.tiles[(11, 10)] = "stone"
    view = [["grass"] * 9 for _ in range(7)]
    view[3][4] = "player"
    gt = {
        "step": 1,
        "position": [10, 10],
        "facing": [1, 0],
        "inventory": {"health": 9},
        "achievements": [],
        "sleeping": False,
        "daylight": 1.0,
        "view": view,
    }
    m.update(player_view(gt))
    assert m.tiles[(10, 10)] == "grass"
    gt = {**gt, "position": [11, 10]}
    m.tiles[(11, 10)] = "stone"
    view2 = [["stone"] * 9 for _ in range(7)]
    view2[3][4] = "player"
    m.update(player_view({**gt, "view": view2}))
    assert m.tiles[(11, 10)] == "path"
