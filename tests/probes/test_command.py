"""`vlmforge probe`: flags, config files, the report, and clear errors for bad input."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest

ROOT = Path(__file__).parents[2]
Cli = Callable[..., CompletedProcess[str]]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_probe_run_reports_table_and_json(cli: Cli, source_db: Path, tmp_path: Path) -> None:
    before = _digest(source_db)
    out, summary = tmp_path / "probes.db", tmp_path / "report.json"
    result = cli(
        "probe", "--trace-db", str(source_db), "--policy", "probe-oracle", "--frames", "4",
        "--types", "daylight,health", "--out-db", str(out), "--run-name", "p",
        "--json-summary", str(summary),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "daylight" in result.stdout and "95% interval" in result.stdout
    doc = json.loads(summary.read_text())
    (report,) = doc["reports"]
    assert [r["type"] for r in report["types"]] == ["health", "daylight"]
    assert all(r["accuracy"] == 1.0 and r["n"] == 4 for r in report["types"])
    assert report["run"] == "p" and report["observation"] == "image"
    assert _digest(source_db) == before  # the source is only read
    again = cli("probe", "--trace-db", str(source_db), "--policy", "probe-oracle",
                "--frames", "4", "--types", "daylight,health", "--out-db", str(out),
                "--run-name", "p")  # fmt: skip
    assert again.returncode == 2 and "already exists" in again.stderr


def test_resume_finishes_the_same_probe_set(cli: Cli, source_db: Path, tmp_path: Path) -> None:
    args = ["probe", "--trace-db", str(source_db), "--policy", "probe-random", "--frames", "3",
            "--types", "food", "--out-db", str(tmp_path / "p.db"), "--run-name", "r"]  # fmt: skip
    assert cli(*args).returncode == 0
    resumed = cli(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "3 seeds finished" in resumed.stderr
    changed = cli(*args[:-4], "--seed", "9", *args[-4:], "--resume")
    assert changed.returncode == 2, changed.stderr  # another probe set: refused, not mixed


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[probes]\nframes = 2\ncolour = 1\n", "colour"),
        ('[probes]\ntypes = ["daylight", "sky"]\n', "unknown probe type 'sky'"),
        ("[probes]\nframes = 5000\n", "hold"),
    ],
)
def test_bad_config_is_a_clear_usage_error(
    cli: Cli, source_db: Path, tmp_path: Path, toml: str, message: str
) -> None:
    path = tmp_path / "probe.toml"
    path.write_text(f'{toml}\n[policy]\nname = "probe-oracle"\n')
    out = tmp_path / "out.db"
    result = cli("probe", "--config", str(path), "--trace-db", str(source_db),
                 "--out-db", str(out))  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert not out.exists()


def test_json_summary_folder_is_refused_first(cli: Cli, source_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.db"
    result = cli("probe", "--trace-db", str(source_db), "--policy", "probe-oracle",
                 "--json-summary", str(tmp_path), "--out-db", str(out))  # fmt: skip
    assert result.returncode == 2 and "is a folder" in result.stderr
    assert not out.exists()


def test_missing_source_is_refused_and_not_created(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "nothing.db"
    result = cli("probe", "--trace-db", str(missing), "--policy", "probe-oracle",
                 "--out-db", str(tmp_path / "out.db"))  # fmt: skip
    assert result.returncode == 2
    assert "no trace store" in result.stderr
    assert not missing.exists()


def test_no_policy_and_no_source_are_usage_errors(cli: Cli, source_db: Path) -> None:
    assert "--policy" in cli("probe", "--trace-db", str(source_db)).stderr
    result = cli("probe", "--policy", "probe-oracle")
    assert result.returncode == 2 and "--trace-db" in result.stderr


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("probe_*.toml")), ids=str)
def test_example_configs_load(path: Path) -> None:
    import tomllib

    from vlmforge.config import load_model
    from vlmforge.eval_config import load_eval_config
    from vlmforge_crafter.probes.session import load_probe_config

    data = tomllib.loads(path.read_text())
    if "probes" in data:
        load_probe_config(str(path), {})
    elif "trace_dbs" in data:
        from vlmforge.dataset.config import FilterConfig

        load_model(FilterConfig, path)
    elif "trainer" in data:
        pytest.importorskip("trl")
        from vlmforge.config import load_toml, validate
        from vlmforge.plugins import get_registry

        source = load_toml(path)
        settings = dict(source.data)
        model = get_registry().get("trainer", settings.pop("trainer")).config_model()
        validate(model, settings, str(path), toml=source)
    else:
        load_eval_config(str(path), {})


def test_every_probe_key_is_in_the_config_reference() -> None:
    from vlmforge_crafter.probes.config import ProbesConfig
    from vlmforge_crafter.probes.session import ProbeCommandConfig

    text = (ROOT / "docs" / "config-reference.md").read_text()
    section = text.split("## `vlmforge probe`")[1].split("\n## ")[0]
    keys = set(ProbeCommandConfig.model_fields) | set(ProbesConfig.model_fields)
    missing = sorted(k for k in keys if f"`{k}`" not in section and f"`[{k}]`" not in section)
    assert not missing


def test_runs_select_the_source_runs(cli: Cli, source_db: Path, tmp_path: Path) -> None:
    from vlmforge_crafter.probes.config import ProbesConfig
    from vlmforge_crafter.probes.env import ProbeEnvironment

    cfg = {"trace_db": str(source_db), "frames": 3, "types": ["food"], "runs": ["teacher"]}
    env = ProbeEnvironment(ProbesConfig.model_validate(cfg))
    assert {p.frame.run_name for p in env.probes} == {"teacher"}
    out = tmp_path / "p.db"
    missing = cli("probe", "--trace-db", str(source_db), "--policy", "probe-oracle", "--run",
                  "nope", "--out-db", str(out))  # fmt: skip
    assert missing.returncode == 2 and "no run 'nope'" in missing.stderr
    # a probe run is not a source of frames
    assert (
        cli(
            "probe",
            "--trace-db",
            str(source_db),
            "--policy",
            "probe-oracle",
            "--frames",
            "1",
            "--types",
            "food",
            "--out-db",
            str(out),
            "--run-name",
            "p1",
        ).returncode
        == 0
    )
    not_crafter = cli("probe", "--trace-db", str(out), "--policy", "probe-oracle", "--run", "p1")
    assert not_crafter.returncode == 2 and "not crafter" in not_crafter.stderr


def test_unknown_source_store_is_named(cli: Cli, source_db: Path, tmp_path: Path) -> None:
    path = tmp_path / "probe.toml"
    path.write_text(f'[probes]\ntrace_db = "{source_db}"\nstore = "sqlight"\n'
                    '[policy]\nname = "probe-oracle"\n')  # fmt: skip
    result = cli("probe", "--config", str(path), "--out-db", str(tmp_path / "o.db"))
    assert result.returncode == 2 and "unknown store 'sqlight'" in result.stderr
    assert not (tmp_path / "o.db").exists()


def test_session_settings_reach_the_eval(source_db: Path) -> None:
    from vlmforge_crafter.probes.session import eval_config, load_probe_config

    flags = {"trace_db": str(source_db), "policy": "probe-random", "frames": 5,
             "probes_per_frame": 2, "concurrency": 7}  # fmt: skip
    loaded = load_probe_config(None, flags)
    cfg = loaded.config.model_copy(update={"tags": ["mine"], "max_failed_fraction": 0.1})
    session = eval_config(cfg)
    assert session.seed_list() == list(range(10))
    assert (session.concurrency, session.max_failed_fraction) == (7, 0.1)
    assert session.tags == ["probes", "mine"]
    assert session.store.settings() == {"path": str(source_db)}  # default: the source store
    assert session.env is not None and session.env.name == "crafter-probes"
