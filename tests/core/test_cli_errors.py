"""Bad input on the command line: a one-screen error naming the problem, a non-zero exit."""

import pytest

from tests.conftest import FIXTURES


def _assert_one_screen_error(result, *needles):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) <= 25, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_unknown_policy_name_suggests_and_lists(cli, tmp_path):
    result = cli(
        "eval",
        "--env",
        "crafter",
        "--policy",
        "randon",
        "--seeds",
        "0",
        "--trace-db",
        str(tmp_path / "t.db"),
    )
    _assert_one_screen_error(
        result, "unknown policy 'randon'", "Did you mean 'random'?", "Known policy names:"
    )
    assert not (tmp_path / "t.db").exists(), "a failed command must not create the trace db"


def test_unknown_policy_name_leaves_an_existing_trace_db_unchanged(cli, tmp_path):
    db = tmp_path / "t.db"
    db.write_bytes(b"not touched by a command that fails on its arguments")
    result = cli(
        "eval", "--env", "crafter", "--policy", "randon", "--seeds", "0", "--trace-db", str(db)
    )
    _assert_one_screen_error(result, "unknown policy 'randon'")
    assert db.read_bytes() == b"not touched by a command that fails on its arguments"


def test_unknown_env_name(cli, tmp_path):
    result = cli(
        "eval",
        "--env",
        "crafterr",
        "--policy",
        "random",
        "--seeds",
        "0",
        "--trace-db",
        str(tmp_path / "t.db"),
    )
    _assert_one_screen_error(result, "unknown environment 'crafterr'", "Did you mean 'crafter'?")


def test_bad_toml(cli, tmp_path):
    path = tmp_path / "eval.toml"
    path.write_text('seeds = "0-3"\nconcurrency = = 2\n')
    result = cli("eval", "--config", str(path))
    _assert_one_screen_error(result, "invalid TOML", "line 2")


def test_unknown_key_in_component_table_names_file_line_and_key(cli, tmp_path):
    path = tmp_path / "eval.toml"
    path.write_text(
        'seeds = "0"\n\n[env]\nname = "crafter"\n\n[policy]\nname = "random"\nactions_per_cal = 2\n'
    )
    result = cli("eval", "--config", str(path), "--trace-db", str(tmp_path / "t.db"))
    _assert_one_screen_error(result, "line 8", "actions_per_cal", "actions_per_call")


@pytest.mark.parametrize(
    ("spec", "needle"), [("5-2", "reversed"), ("", "empty"), ("1,x", "not a seed")]
)
def test_bad_seed_specs(cli, tmp_path, spec, needle):
    result = cli(
        "eval",
        "--env",
        "crafter",
        "--policy",
        "random",
        "--seeds",
        spec,
        "--trace-db",
        str(tmp_path / "t.db"),
    )
    _assert_one_screen_error(result, needle)


def test_error_text_with_brackets_is_printed_verbatim(cli):
    """Rich markup must not eat '[train]' or '[policy]' in messages and hints."""
    result = cli("plugins", "--plugins-dir", str(FIXTURES / "plugins_dir"))
    assert result.returncode == 0
    squashed = "".join(ch for ch in result.stdout if ch not in " \n│")
    assert "(unavailable:pipinstallvlmforge-not-installed-anywhere)" in squashed
    bad = cli("pipeline", str(FIXTURES / "no-such-file.toml"))
    _assert_one_screen_error(bad, "no-such-file.toml", "not found")
