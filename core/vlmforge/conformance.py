"""Checks that a component satisfies its kind's Protocol, by signature.

``typing.runtime_checkable`` isinstance checks only look for attribute names; these compare each
Protocol method with the component's by :func:`inspect.signature` (parameter names, kinds and
defaults, sync or async), so a plugin's tests can assert ``factory_problems(MyFilter, "filter")
== []``. The bundled components are checked in ``tests/core/test_conformance.py``; types are
checked by mypy through the factory Protocols in :mod:`vlmforge.components`.
"""

from __future__ import annotations

import inspect
from typing import Any

from pydantic import BaseModel

from vlmforge.components import PROTOCOL_FOR_KIND


def factory_problems(factory: Any, kind: str) -> list[str]:
    """How a registered factory of ``kind`` fails its contract (empty when it conforms): its
    ``config_model``, how it is called, and (for a class) its instances' methods."""
    name = getattr(factory, "__name__", repr(factory))
    model = getattr(factory, "config_model", None)
    if model is not None and not (inspect.isclass(model) and issubclass(model, BaseModel)):
        return [f"{name}.config_model is {model!r}, not a pydantic model class"]
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return [f"{name} is not callable with an inspectable signature"]
    function_filter = kind == "filter" and inspect.isfunction(factory) and model is None
    arguments: tuple[object, ...] = (object(),) if model is not None or function_filter else ()
    try:
        signature.bind(*arguments)
    except TypeError as exc:
        how = f"{name}(config)" if arguments else f"{name}()"
        return [f"{how} is not a valid call: {exc}"]
    if not inspect.isclass(factory):
        return []  # a function: what it returns is checked by mypy, not here
    return signature_problems(factory, PROTOCOL_FOR_KIND[kind])


def protocol_methods(protocol: type) -> dict[str, Any]:
    """The methods a Protocol declares (its own and its Protocol bases'), by name."""
    found: dict[str, Any] = {}
    for klass in reversed(protocol.__mro__):
        if klass is object or not getattr(klass, "_is_protocol", False):
            continue
        for name, member in vars(klass).items():
            if inspect.isfunction(member) and not name.startswith("_"):
                found[name] = member
    return found


def signature_problems(impl: type, protocol: type) -> list[str]:
    """How ``impl``'s methods differ from ``protocol``'s (empty when it conforms)."""
    problems: list[str] = []
    for name, wanted in protocol_methods(protocol).items():
        got = getattr(impl, name, None)
        if got is None or not callable(got):
            problems.append(f"{impl.__name__}.{name} is missing")
            continue
        if inspect.iscoroutinefunction(wanted) != inspect.iscoroutinefunction(got):
            kind = "async" if inspect.iscoroutinefunction(wanted) else "sync"
            problems.append(f"{impl.__name__}.{name} should be {kind}")
        problems += _parameter_problems(
            f"{impl.__name__}.{name}", inspect.signature(got), inspect.signature(wanted)
        )
    return problems


def _parameter_problems(where: str, got: inspect.Signature, wanted: inspect.Signature) -> list[str]:
    """Whether every call the Protocol allows is a call ``got`` accepts."""
    problems: list[str] = []
    have = list(got.parameters.values())
    matched: set[str] = set()
    for i, param in enumerate(wanted.parameters.values()):
        if param.kind in _POSITIONAL:
            match = have[i] if i < len(have) and have[i].kind in _POSITIONAL else None
            name = match.name if match is not None else param.name
            if name != param.name and param.kind is param.POSITIONAL_OR_KEYWORD:  # passed by name
                problems.append(f"{where}: parameter {i} is {name!r}, not {param.name!r}")
        else:
            match = got.parameters.get(param.name)
            if match is not None and match.kind not in (param.KEYWORD_ONLY, *_POSITIONAL):
                match = None
        if match is None:
            problems.append(f"{where} lacks parameter {param.name!r} ({param.kind.description})")
            continue
        matched.add(match.name)
        if param.default is not param.empty and match.default is match.empty:
            problems.append(f"{where}: parameter {param.name!r} needs a default")
    extra = [
        p.name
        for p in have
        if p.name not in matched
        and p.default is p.empty
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if extra:
        problems.append(f"{where}: extra required parameters {extra}")
    return problems


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
