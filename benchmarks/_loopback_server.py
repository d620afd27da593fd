"""A loopback OpenAI server in its own process (so its CPU does not compete with the eval).

Prints its base URL on the first line of stdout, serves until stdin closes. Every request gets a
tool call with one random Crafter action (``interact``), plus a short text reply and usage.
"""

from __future__ import annotations

import random
import sys

from vlmforge.testing.openai_server import OpenAIServer, Reply

ACTIONS = ["move_left", "move_right", "move_up", "move_down", "do", "noop"]


def main() -> None:
    latency = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
    rng = random.Random(0)

    def respond(request) -> Reply:
        action = rng.choice(ACTIONS)
        return Reply.tool_call(
            "interact",
            {"action": action},
            content=f"A tree is nearby; I will {action.replace('_', ' ')} to get closer to it.",
            usage={"prompt_tokens": 900, "completion_tokens": 30, "total_tokens": 930},
        )

    with OpenAIServer(respond, latency_s=latency, record=False) as server:
        print(server.base_url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
