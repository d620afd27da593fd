"""A third-party plugin package, installed with pip, shows up and is selectable by name."""

import json
import subprocess
import sys

from tests.conftest import FIXTURES
from vlmforge.components import EpisodeTrace
from vlmforge.conformance import factory_problems
from vlmforge.trace import Episode, Run


def test_installed_package_is_discovered(tmp_path, cli_subprocess):
    target = tmp_path / "site"
    pip = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(FIXTURES / "vlmforge-example-filter"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert pip.returncode == 0, pip.stderr
    env = {"PYTHONPATH": str(target)}
    result = cli_subprocess("plugins", "--json", env=env)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    row = rows["example_filter"]
    assert row["distribution"] == "vlmforge-example-filter"
    assert row["version"] == "0.3.1"
    assert row["hooks"] == ["register_filters"]
    assert row["components"][0]["kind"] == "filter"
    assert row["components"][0]["name"] == "example-min-reward"

    # Selectable by name through the registry, in a process that sees the package.
    code = (
        "from vlmforge.plugins import get_registry;"
        "f = get_registry().create('filter', 'example-min-reward', {'threshold': 2.5});"
        "print(type(f).__name__, f.threshold)"
    )
    picked = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**env, "PATH": ""},
        timeout=120,
    )
    assert picked.returncode == 0, picked.stderr
    assert picked.stdout.split() == ["MinReward", "2.5"]


def test_fixture_filter_behaves(monkeypatch):
    monkeypatch.syspath_prepend(str(FIXTURES / "vlmforge-example-filter" / "src"))
    from vlmforge_example_filter import MinReward, MinRewardConfig

    f = MinReward(MinRewardConfig(threshold=2.0))
    run = Run(id="r", name="r", vlmforge_version="0", env_name="e", policy_name="p")
    rich = EpisodeTrace(run, Episode(id="e1", run_id="r", seed=0, total_reward=2.0), [])
    poor = EpisodeTrace(run, Episode(id="e2", run_id="r", seed=1, total_reward=1.9), [])
    assert f.apply(rich) is rich
    assert f.apply(poor) is None


def test_example_plugin_satisfies_the_filter_protocol(monkeypatch):
    monkeypatch.syspath_prepend(str(FIXTURES / "vlmforge-example-filter" / "src"))
    from vlmforge_example_filter import MinReward

    assert factory_problems(MinReward, "filter") == []
    assert factory_problems(MinReward, "exporter") == [
        "MinReward.open is missing",
        "MinReward.write is missing",
        "MinReward.close is missing",
    ]
