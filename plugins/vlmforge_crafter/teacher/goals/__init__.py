"""The teacher's goals: each a small class that proposes a plan or passes (``None``).

The planner asks them in a fixed priority order (:data:`PRIORITY`); the first plan with actions
wins. Goals keep no state of their own: what persists between decisions lives on the
:class:`~vlmforge_crafter.teacher.agent.Agent` they are given.
"""

from __future__ import annotations

from typing import Protocol

from vlmforge_crafter.teacher.agent import Agent
from vlmforge_crafter.teacher.rationale import Plan


class Goal(Protocol):
    """One entry of the planner's priority list."""

    @property
    def name(self) -> str:
        """A short identifier (for docs, tests and debugging)."""
        ...

    def propose(self, agent: Agent) -> Plan | None:
        """The next actions and their rationale, or None when the goal does not apply now."""
        ...
