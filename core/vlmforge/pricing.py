"""Estimated cost of LM calls from a per-model price table (USD per 1M tokens).

The built-in table covers a few common API models (list prices when written; providers change
them). Users extend or override it with a TOML file (``prices = "prices.toml"`` in the eval
config, or ``--prices``)::

    [models."gpt-4o-mini"]
    input_per_mtok = 0.15
    output_per_mtok = 0.60

    [models."my-local-qwen"]      # a self-hosted model: free
    input_per_mtok = 0.0
    output_per_mtok = 0.0

A model that is not in the table has an unknown cost (``None``; shown as "unknown"), never a
guess. Names match exactly, or after removing a date suffix (``gpt-4o-2024-08-06`` -> ``gpt-4o``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import Field

from vlmforge.config import StrictModel, load_toml, validate


class ModelPrice(StrictModel):
    input_per_mtok: float = Field(..., ge=0, description="USD per 1M prompt tokens.")
    output_per_mtok: float = Field(..., ge=0, description="USD per 1M completion tokens.")


class PriceTable(StrictModel):
    models: dict[str, ModelPrice] = Field(default_factory=dict)


#: Built-in list prices (USD per 1M tokens, standard tier).
BUILTIN_PRICES: dict[str, ModelPrice] = {
    name: ModelPrice(input_per_mtok=i, output_per_mtok=o)
    for name, (i, o) in {
        "gpt-4o": (2.50, 10.00),
        "gpt-4o-mini": (0.15, 0.60),
        "gpt-4.1": (2.00, 8.00),
        "gpt-4.1-mini": (0.40, 1.60),
        "gpt-4.1-nano": (0.10, 0.40),
        "o4-mini": (1.10, 4.40),
        "gpt-5": (1.25, 10.00),
        "gpt-5-mini": (0.25, 2.00),
        "gpt-5-nano": (0.05, 0.40),
    }.items()
}

_DATE_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def load_prices(path: str | Path | None = None) -> dict[str, ModelPrice]:
    """The built-in table, updated with the models in the TOML file at ``path``."""
    prices = dict(BUILTIN_PRICES)
    if path is not None:
        source = load_toml(path)
        table = validate(PriceTable, source.data, str(source.path), toml=source)
        prices.update(table.models)
    return prices


def price_for(model: str | None, prices: Mapping[str, ModelPrice]) -> ModelPrice | None:
    if not model:
        return None
    return prices.get(model) or prices.get(_DATE_SUFFIX.sub("", model))


def estimate_cost(
    model: str | None,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    prices: Mapping[str, ModelPrice],
) -> float | None:
    """USD for the tokens, or None when the model's price (or the token count) is unknown.

    A policy without a model (random, scripted) makes no paid calls: 0.0.
    """
    if model is None:
        return 0.0
    price = price_for(model, prices)
    if price is None or prompt_tokens is None or completion_tokens is None:
        return None
    return (prompt_tokens * price.input_per_mtok + completion_tokens * price.output_per_mtok) / 1e6
