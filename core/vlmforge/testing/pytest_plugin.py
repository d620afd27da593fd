"""pytest fixtures for vlmforge plugin authors.

Enable them in a ``conftest.py``::

    pytest_plugins = ["vlmforge.testing.pytest_plugin"]

then::

    def test_my_provider(openai_server):
        srv = openai_server([Reply.tool_call("interact", {"action": "noop"})], latency_s=0.01)
        ...  # point the policy at srv.base_url; inspect srv.requests afterwards
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from vlmforge.testing.openai_server import OpenAIServer


@pytest.fixture
def openai_server() -> Iterator[Callable[..., OpenAIServer]]:
    """A factory ``openai_server(script=(), **kwargs) -> OpenAIServer``; servers stop at teardown.

    Arguments are those of :class:`~vlmforge.testing.openai_server.OpenAIServer`. Every server
    it starts is stopped when the test ends.
    """
    started: list[OpenAIServer] = []

    def start(script: Any = (), **kwargs: Any) -> OpenAIServer:
        server = OpenAIServer(script, **kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
