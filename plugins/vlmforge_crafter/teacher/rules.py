"""Crafter's rules as the scripted agent knows them (a player's manual, not the game's code).

These tables mirror Crafter's ``data.yaml``; ``tests/scripted/test_rules.py`` checks them against
the installed package so a change in the game cannot silently break the agent.
"""

from __future__ import annotations

DIRECTIONS: dict[str, tuple[int, int]] = {
    "move_left": (-1, 0),
    "move_right": (1, 0),
    "move_up": (0, -1),
    "move_down": (0, 1),
}
MOVE_FOR: dict[tuple[int, int], str] = {d: name for name, d in DIRECTIONS.items()}

#: Tiles the player can stand on (lava too in the game, but it kills: never entered).
WALKABLE = frozenset({"grass", "sand", "path"})
#: Tiles zombies, cows and skeletons can walk on (creatures never enter lava or water).
CREATURE_WALKABLE = WALKABLE
#: Creatures and other objects that appear in the view on top of a material.
OBJECTS = frozenset({"cow", "zombie", "skeleton", "arrow", "plant", "player"})

#: What mining a material needs (in the inventory) and what it leaves behind.
MINE_REQUIRES: dict[str, str | None] = {
    "tree": None,
    "stone": "wood_pickaxe",
    "coal": "wood_pickaxe",
    "iron": "stone_pickaxe",
    "diamond": "iron_pickaxe",
}
MINE_LEAVES: dict[str, str] = {
    "tree": "grass",
    "stone": "path",
    "coal": "path",
    "iron": "path",
    "diamond": "path",
}
MINE_GIVES: dict[str, str] = {
    "tree": "wood",
    "stone": "stone",
    "coal": "coal",
    "iron": "iron",
    "diamond": "diamond",
}

#: place_<name>: the items used and the tiles it can go on.
PLACE: dict[str, tuple[dict[str, int], frozenset[str]]] = {
    "stone": ({"stone": 1}, frozenset({"grass", "sand", "path", "water", "lava"})),
    "table": ({"wood": 2}, frozenset({"grass", "sand", "path"})),
    "furnace": ({"stone": 4}, frozenset({"grass", "sand", "path"})),
    "plant": ({"sapling": 1}, frozenset({"grass"})),
}

#: make_<tool>: the items used and the stations needed within one tile (diagonals included).
MAKE: dict[str, tuple[dict[str, int], tuple[str, ...]]] = {
    "wood_pickaxe": ({"wood": 1}, ("table",)),
    "stone_pickaxe": ({"wood": 1, "stone": 1}, ("table",)),
    "iron_pickaxe": ({"wood": 1, "coal": 1, "iron": 1}, ("table", "furnace")),
    "wood_sword": ({"wood": 1}, ("table",)),
    "stone_sword": ({"wood": 1, "stone": 1}, ("table",)),
    "iron_sword": ({"wood": 1, "coal": 1, "iron": 1}, ("table", "furnace")),
}
#: The order the agent makes its tools in (wooden ones first).
TOOL_ORDER = (
    "wood_pickaxe",
    "wood_sword",
    "stone_pickaxe",
    "stone_sword",
    "iron_pickaxe",
    "iron_sword",
)

ITEM_MAX = 9
#: A plant is ripe after this many updates (it only grows while the player is near).
PLANT_RIPE_AFTER = 300
#: Objects update only within this Manhattan distance of the player (2 x the 9-tile view).
UPDATE_RADIUS = 18


def can_mine(material: str, inventory: dict[str, int]) -> bool:
    """True if ``do`` on ``material`` would collect it with this inventory."""
    if material not in MINE_REQUIRES:
        return False
    tool = MINE_REQUIRES[material]
    return tool is None or inventory.get(tool, 0) > 0


def has_items(inventory: dict[str, int], uses: dict[str, int]) -> bool:
    return all(inventory.get(k, 0) >= v for k, v in uses.items())
