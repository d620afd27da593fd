import os

import pytest

from vlmforge.envfile import load_env_file, parse_env_file
from vlmforge.errors import ConfigError


def test_parse_env_file(tmp_path):
    path = tmp_path / ".env"
    path.write_text('# keys\nOPENAI_API_KEY=sk-abc\nexport SYNTH_API_KEY="s y"\n\nEMPTY=\n')
    assert parse_env_file(path) == {"OPENAI_API_KEY": "sk-abc", "SYNTH_API_KEY": "s y", "EMPTY": ""}


def test_bad_line_never_echoes_the_value(tmp_path):
    path = tmp_path / ".env"
    path.write_text("GOOD=1\nthis is sk-secret-value\n")
    with pytest.raises(ConfigError) as exc:
        parse_env_file(path)
    assert "line 2" in str(exc.value)
    assert "sk-secret" not in str(exc.value)


def test_load_env_file_sets_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("VLMFORGE_TEST_KEY", raising=False)
    path = tmp_path / ".env"
    path.write_text("VLMFORGE_TEST_KEY=value\n")
    assert load_env_file(path) == ["VLMFORGE_TEST_KEY"]
    assert os.environ["VLMFORGE_TEST_KEY"] == "value"
    monkeypatch.delenv("VLMFORGE_TEST_KEY")


def test_env_file_flag_does_not_print_values(tmp_path, cli):
    path = tmp_path / ".env"
    path.write_text("SOME_API_KEY=sk-top-secret\n")
    result = cli("--env-file", str(path), "plugins", "--json")
    assert result.returncode == 0, result.stderr
    assert "sk-top-secret" not in result.stdout + result.stderr
    missing = cli("--env-file", str(tmp_path / "nope"), "plugins")
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr


def test_dotenv_semantics_comments_escapes_and_expansion(tmp_path, monkeypatch):
    """What python-dotenv means by each line (the hand parser sent '# prod' as part of the key)."""
    monkeypatch.setenv("VLMFORGE_TEST_HOST", "127.0.0.1")
    path = tmp_path / ".env"
    path.write_text(
        "OPENAI_API_KEY=sk-abc # prod\n"
        'MULTI="a\\nb"\n'
        "SINGLE='raw\\n'\n"
        "BASE=http://${VLMFORGE_TEST_HOST}:8000\n"
        "URL=${BASE}/v1\n"
    )
    assert parse_env_file(path) == {
        "OPENAI_API_KEY": "sk-abc",
        "MULTI": "a\nb",
        "SINGLE": "raw\\n",
        "BASE": "http://127.0.0.1:8000",
        "URL": "http://127.0.0.1:8000/v1",
    }


def test_bare_key_without_value_is_an_error(tmp_path):
    path = tmp_path / ".env"
    path.write_text("A=1\nOPENAI_API_KEY\n")
    with pytest.raises(ConfigError, match="line 2: expected KEY=VALUE"):
        parse_env_file(path)
