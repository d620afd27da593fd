"""Test helpers for vlmforge and its plugins (no test-only code runs in production paths).

- :mod:`vlmforge.testing.openai_server`: a real HTTP server on 127.0.0.1 that speaks the OpenAI
  chat-completions protocol and replies from a per-test script.
- :mod:`vlmforge.testing.pytest_plugin`: the ``openai_server`` pytest fixture
  (``pytest_plugins = ["vlmforge.testing.pytest_plugin"]``).
- :mod:`vlmforge.testing.envs`: environment plugins for ``--plugins-dir`` (``waiting``: steps
  that only sleep, for measuring how many environment calls an eval keeps in flight).
"""
