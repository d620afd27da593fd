"""``decoding = "constrained"``: generation that can only write a valid tool call.

The grammar is the exact text the model's chat template renders for a call of one of the
environment's enum-of-actions tools (:mod:`vlmforge.decisions`), for any number of actions the
schema allows, followed by the end-of-turn token. It is derived from the template itself: a probe
call is rendered and split around its JSON arguments, so the frame (``<tool_call>\\n{"name": ...,
"arguments": ``...``}\\n</tool_call>`` for Qwen) is whatever the template writes.

Token masks come from llguidance (Microsoft's grammar engine: a Rust core, CPU, any Hugging Face
fast tokenizer), applied to the logits in a transformers ``LogitsProcessor`` during ``generate``.
Sampling is the model's own, restricted to the tokens the grammar allows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from vlmforge.decisions import ActionTool, Candidate, action_tools
from vlmforge_hf.choices import assistant_turn
from vlmforge_hf.rendering import render_completion


class GrammarError(ValueError):
    """The chat template writes tool calls in a form the grammar cannot be built from."""


def _literal(text: str) -> str:
    """A Lark string literal for ``text`` (JSON escapes are valid Lark escapes)."""
    return json.dumps(text, ensure_ascii=False)


def _frame(
    processor: Any, prompt: list[dict[str, Any]], tool: ActionTool, tools: Any
) -> tuple[str, str]:
    """(text before, text after) the JSON arguments in the template's rendering of a call."""
    probe = Candidate(tool.name, tool.arguments([tool.actions[0]]), (tool.actions[0],))
    text = render_completion(processor, prompt, assistant_turn(probe), tools)
    args = json.dumps(probe.arguments, ensure_ascii=False)
    if text.count(args) != 1:
        raise GrammarError(
            f"the chat template does not write the arguments of '{tool.name}' as {args} (found "
            f"{text.count(args)} times in {text!r}); use decoding = 'score'"
        )
    before, after = text.split(args)
    eos = processor.tokenizer.eos_token
    if eos and eos in after:
        after = after[: after.index(eos)]  # the end-of-turn token ends generation itself
    return before, after


def _arguments_rule(tool: ActionTool) -> str:
    action = " | ".join(_literal(json.dumps(a, ensure_ascii=False)) for a in tool.actions)
    if not tool.many:
        return f"{_literal('{' + json.dumps(tool.argument) + ': ')} ({action}) {_literal('}')}"
    low, high = max(1, tool.min_items), tool.max_items
    more = f" ({_literal(', ')} ({action})){{{low - 1},{high - 1}}}" if high > 1 else ""
    opening = "{" + json.dumps(tool.argument) + ": ["
    return f"{_literal(opening)} ({action}){more} {_literal(']}')}"


def tool_call_grammar(
    processor: Any,
    prompt: list[dict[str, Any]],
    env_tools: list[dict[str, Any]],
    *,
    template_tools: Any,
    only: Sequence[str] | None,
) -> str:
    """A Lark grammar of every valid call (of the ``only`` tools), as the template writes it."""
    found = [t for t in action_tools(env_tools) if only is None or t.name in only]
    if not found:
        raise GrammarError(
            "no tool takes an action name or a list of them"
            + (f" among {', '.join(only)}" if only else "")
            + "; constrained decoding needs one"
        )
    rules, names = [], []
    for i, tool in enumerate(found):
        before, after = _frame(processor, prompt, tool, template_tools)
        names.append(f"call{i}")
        rules.append(
            f"call{i}: {_literal(before)} {_arguments_rule(tool)} {_literal(after)}"
            if after
            else f"call{i}: {_literal(before)} {_arguments_rule(tool)}"
        )
    return "\n".join([f"start: {' | '.join(names)}", *rules]) + "\n"


class GrammarLogitsProcessor:
    """Masks each row's logits to the tokens its grammar matcher allows next.

    One llguidance matcher per row of the batch; the first call sees only the prompt, every later
    call first feeds each row's last generated token to its matcher.
    """

    def __init__(self, ll_tokenizer: Any, grammar: str, batch_size: int):
        import llguidance
        import llguidance.torch as llt

        self._llt = llt
        self.matchers = [
            llguidance.LLMatcher(ll_tokenizer, grammar, log_level=0) for _ in range(batch_size)
        ]
        for m in self.matchers:
            if m.is_error():
                raise GrammarError(f"invalid tool-call grammar: {m.get_error()}")
        self.bitmask = llt.allocate_token_bitmask(batch_size, ll_tokenizer.vocab_size)
        self._started = False

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self._started:
            for i, matcher in enumerate(self.matchers):
                if not matcher.is_stopped():
                    matcher.consume_token(int(input_ids[i, -1]))
        self._started = True
        for i, matcher in enumerate(self.matchers):
            self._llt.fill_next_token_bitmask(matcher, self.bitmask, i)
        width = self.bitmask.shape[1] * 32
        if scores.shape[1] > width:  # lm_head rows past the tokenizer's ids: never allowed
            scores[:, width:] = float("-inf")
        self._llt.apply_token_bitmask_inplace(scores, self.bitmask.to(scores.device))
        return scores

    def errors(self) -> list[str | None]:
        """Per row: the matcher's error (a token it could not accept), or None."""
        return [m.get_error() if m.is_error() else None for m in self.matchers]


def ll_tokenizer(tokenizer: Any, vocab_size: int) -> Any:
    """llguidance's view of a Hugging Face fast tokenizer, for a model with ``vocab_size``
    logits (build once per policy: ~1 s for a 150k vocabulary)."""
    import llguidance.hf

    try:
        return llguidance.hf.from_tokenizer(tokenizer, n_vocab=vocab_size)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # llguidance's Rust panics arrive as pyo3's PanicException
        raise GrammarError(
            f"llguidance cannot index this tokenizer ({type(exc).__name__}: {exc}); tokens of "
            "1,024 bytes or more do not fit its token trie (tiny models built before vlmforge "
            "capped token length have such tokens: rebuild with `vlmforge models tiny`). Use "
            "decoding = 'score' instead."
        ) from None
