"""``$OPENAI_BASE_URL`` is honoured by the ``openai`` policy, as the official SDK honours it."""

from __future__ import annotations

import pytest

from tests.policies.conftest import KEY_ENV, SECRET
from tests.policies.test_openai_policy import make_policy, one
from vlmforge.errors import ConfigError
from vlmforge.testing.openai_server import Reply
from vlmforge_openai.policy import OPENAI_BASE_URL


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET)


def test_requests_go_to_the_server_in_openai_base_url(openai_server, key, monkeypatch) -> None:
    srv = openai_server([Reply.tool_call("interact", {"action": "do"})], api_key=SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url + "/")
    policy = make_policy({"api_key_env": KEY_ENV})
    assert policy.base_url == srv.base_url and policy.describe()["resolved"]["base_url"] == (
        srv.base_url
    )
    decision = one(policy)
    assert decision.tool_calls[0].function.name == "interact"
    assert len(srv.chat_requests) == 1  # the request reached the local server


def test_config_base_url_wins_over_the_variable(key, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    policy = make_policy({"api_key_env": KEY_ENV, "base_url": "http://other.example/v1"})
    assert policy.base_url == "http://other.example/v1"


def test_unset_or_empty_variable_means_openai(key, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert make_policy({"api_key_env": KEY_ENV}).base_url == OPENAI_BASE_URL
    monkeypatch.setenv("OPENAI_BASE_URL", "  ")
    assert make_policy({"api_key_env": KEY_ENV}).base_url == OPENAI_BASE_URL


def test_a_variable_that_is_not_a_url_is_an_error_naming_it(key, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "localhost:8000/v1")
    with pytest.raises(ConfigError, match=r"\$OPENAI_BASE_URL must be a server URL") as err:
        make_policy({"api_key_env": KEY_ENV})
    assert "localhost:8000" not in str(err.value)
