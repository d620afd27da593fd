"""The system prompt for Crafter policies."""

from __future__ import annotations

from crafter import constants

from vlmforge_crafter.config import CrafterConfig


def _amounts(uses: dict[str, int]) -> str:
    return " + ".join(f"{n} {k}" for k, n in uses.items()) or "nothing"


def _tech_tree() -> str:
    """The requirements, generated from crafter's own data.yaml so they are always exact."""
    lines = []
    for material, info in constants.collect.items():
        item = next(iter(info["receive"]))
        name = "collect_drink" if material == "water" else f"collect_{item}"
        need = _amounts(info["require"])
        chance = info.get("probability", 1)
        extra = f" ({int(chance * 100)}% chance)" if chance < 1 else ""
        tool = f" with {need} in inventory" if info["require"] else ""
        lines.append(f'- {name}: face {material} and "do"{tool}{extra}.')
    for thing, info in constants.place.items():
        where = ", ".join(info["where"])
        lines.append(f"- place_{thing}: uses {_amounts(info['uses'])}; on {where}.")
    for thing, info in constants.make.items():
        near = " and a ".join(info["nearby"])
        lines.append(f"- make_{thing}: uses {_amounts(info['uses'])}; stand next to a {near}.")
    lines.append(
        '- eat_cow: hit a cow with "do" until it dies. eat_plant: "do" on a ripe plant '
        "(saplings you place grow ripe over time). defeat_zombie, defeat_skeleton: hit them "
        "until they die (swords help). wake_up: sleep, then wake up."
    )
    return "\n".join(lines)


def system_prompt(config: CrafterConfig) -> str:
    """Explains the game, the tech tree, the actions and the tools for this configuration."""
    cols, rows = config.local_view
    shown = {
        "text+image": "a text description of the game state and the game frame (image)",
        "image_only": "the game frame (image)",
        "text_only": "a text description of the game state",
    }[config.observation]
    sections = [
        "You are playing Crafter, a 2D survival and crafting game seen from above. Your goal is "
        "to unlock as many of the 22 achievements as possible and to stay alive.",
        f"Each turn you see {shown}.",
    ]
    if config.images:
        frames = (
            f"The frame shows the {cols}x{rows} tiles around you (you are in the centre) and, "
            "below them, your inventory."
        )
        if config.frame_history:
            frames += (
                f" Up to {config.frame_history} earlier frames come first (oldest first); the "
                "current frame is the last image."
            )
        sections.append(frames)
    if config.text:
        sections.append(
            f"The text gives the step, your health/food/drink/energy, position (x grows to the "
            f"right, y downwards), facing direction and the tile you face, inventory, "
            f"achievements, the time of day, a {cols}x{rows} map of tile names (you are "
            f"'player' in the centre), the creatures in view and the nearest materials."
        )
    sections.append(_RULES.format(tech_tree=_tech_tree()))
    sections.append(
        "Tools: call exactly one tool per reply.\n"
        f"- interact_many(actions): 1 to {config.max_actions_per_call} action names, executed "
        "in order (execution stops early if you die).\n"
        "- interact(action): a single action.\n"
        "Use only the exact action names above. An invalid call is not executed: the game "
        f'applies "{config.fallback_action}" instead and tells you what was wrong.'
    )
    return "\n\n".join(sections) + "\n"


_RULES = """Survival: health, food, drink and energy each go from 0 to 9 and drop over time.
- Food: eat a cow (hit it with "do" until it dies) or a ripe plant.
- Drink: face water and "do".
- Energy: "sleep" (best at night, walled in with stone; you wake when energy is full).
When food, drink or energy is 0 you lose health; otherwise health slowly comes back. At health 0
you die and the episode ends. Zombies (on grass, mostly at night) and skeletons (in dark tunnels;
they shoot arrows) attack you. Lava kills at once: never walk into it.

Actions (one game step each):
- noop: do nothing.
- move_left, move_right, move_up, move_down: face that direction and move one tile if it is free
  (grass, sand or path). You turn even when the move is blocked.
- do: act on the facing tile: collect a material, drink water, hit a creature, eat a plant.
- sleep: sleep until energy is full.
- place_stone, place_table, place_furnace, place_plant: place on the facing tile.
- make_wood_pickaxe, make_stone_pickaxe, make_iron_pickaxe, make_wood_sword, make_stone_sword,
  make_iron_sword: craft; "next to" means within one tile, diagonals included.

Tech tree (exact requirements from the game data):
{tech_tree}

Each achievement gives +1 reward the first time; each health point lost or gained gives -0.1 or
+0.1. A good order: collect wood, place a table, make a wood pickaxe and sword, collect stone,
make stone tools, collect coal and iron, place a furnace next to the table, make iron tools,
collect diamond; drink, eat and sleep in between."""
