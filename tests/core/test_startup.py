"""The CLI imports heavy libraries only in the commands that need them."""

import json
import subprocess
import sys

import pytest

HEAVY = [
    "torch",
    "transformers",
    "peft",
    "trl",
    "crafter",
    "openai",
    "numpy",
    "fastapi",
    "uvicorn",
    "peewee",
    "datasets",
    "PIL",
]

PROBE = """
import json, sys
sys.argv = ["vlmforge", *{args!r}]
from vlmforge.cli import main
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--help"], ["plugins"], ["plugins", "--json"]])
def test_light_commands_import_no_heavy_library(args):
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args, heavy=HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    imported = json.loads(result.stderr.strip().splitlines()[-1])
    assert imported == [], f"`vlmforge {' '.join(args)}` imported {imported}"
