"""The agent never reads hidden game state: no crafter import, no env internals.

The teacher lives in the crafter plugin (``vlmforge_crafter.teacher``) next to the ground-truth
contract it reads; of that plugin it may import only the contract and its own subpackage.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import vlmforge_crafter.ground_truth
import vlmforge_crafter.teacher

TEACHER_DIR = Path(vlmforge_crafter.teacher.__file__).parent
CONTRACT = Path(vlmforge_crafter.ground_truth.__file__)
FORBIDDEN_MODULES = ("crafter", "numpy")
ALLOWED_FROM_PLUGIN = (
    "vlmforge_crafter.ground_truth",
    "vlmforge_crafter.wording",
    "vlmforge_crafter.teacher",
)
FORBIDDEN_NAMES = ("_player", "_world", "_unlocked", "semantic_view", "nearest", "creatures")


def _allowed(mod: str) -> bool:
    if mod.split(".")[0] in FORBIDDEN_MODULES:
        return False
    if mod.split(".")[0] == "vlmforge_crafter":
        return any(mod == a or mod.startswith(a + ".") for a in ALLOWED_FROM_PLUGIN)
    return True


def test_no_code_path_imports_crafter_or_touches_its_internals() -> None:
    paths = sorted(TEACHER_DIR.rglob("*.py"))
    assert len(paths) > 10 and any(p.parent.name == "goals" for p in paths)
    for path in [*paths, CONTRACT]:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [node.module or ""]
            else:
                mods = []
            for mod in mods:
                assert _allowed(mod), f"{path.name} imports {mod}"
            if isinstance(node, ast.Attribute):
                assert node.attr not in FORBIDDEN_NAMES[:3], f"{path.name} reads .{node.attr}"
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert node.value not in FORBIDDEN_NAMES[3:], f"{path.name} reads {node.value!r}"


SCRIPT = r"""
import asyncio, json, sys
sys.modules["crafter"] = None  # any import of crafter now fails
for name in ("env", "observe", "actions", "config", "games", "determinism", "prompt"):
    sys.modules["vlmforge_crafter." + name] = None  # nor the environment's own modules
from vlmforge.components import EnvSpec, Observation
from vlmforge_crafter.teacher.policy import ScriptedPolicy

row = ["grass"] * 9
view = [list(row) for _ in range(7)]
view[3][4] = "player"
view[3][6] = "tree"
view[0][0] = "water"
# step 150: past the opening (sapling first), so the next goal is wood
gt = {"step": 150, "position": [32, 32], "facing": [0, 1],
      "inventory": {"health": 9, "food": 9, "drink": 9, "energy": 9, "wood": 0},
      "achievements": [], "sleeping": False, "daylight": 0.8, "view": view}
tool = {"type": "function", "function": {"name": "interact_many", "parameters": {}}}
spec = EnvSpec(name="crafter", tools=[tool], system_prompt="play",
               action_names=["noop", "move_left", "move_right", "move_up", "move_down", "do",
                             "sleep", "place_stone", "place_table", "place_furnace",
                             "place_plant", "make_wood_pickaxe", "make_stone_pickaxe",
                             "make_iron_pickaxe", "make_wood_sword", "make_stone_sword",
                             "make_iron_sword"], max_actions_per_call=8)
async def main():
    ep = await ScriptedPolicy().start_episode(spec, 0)
    d = await ep.act(Observation(text=None, ground_truth=gt))
    print(json.dumps({"args": d.tool_calls[0].function.arguments, "why": d.reply.content}))
asyncio.run(main())
assert "crafter" not in [m for m in sys.modules if sys.modules[m] is not None]
"""


def test_plays_from_a_bare_observation_without_crafter_installed() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    line = out.stdout.strip().splitlines()[-1]
    assert "move_right" in line and "do" in line, line  # walks to the tree and chops it
    assert "wood" in line.lower()
