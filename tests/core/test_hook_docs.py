"""Every hookspec and every component Protocol member is documented in docs/hooks.md with its
exact signature."""

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vlmforge import components, hookspecs

DOC = Path(__file__).resolve().parents[2] / "docs" / "hooks.md"


def _hookspecs():
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction):
        if hasattr(fn, "vlmforge_spec"):
            yield name, fn


def _signature(name, fn) -> str:
    sig = inspect.signature(fn)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"{name}({params}) -> {sig.return_annotation}"


def test_there_are_hooks_for_every_kind():
    names = {name for name, _ in _hookspecs()}
    assert names == {
        "register_environments",
        "register_policies",
        "register_stores",
        "register_filters",
        "register_exporters",
        "register_trainers",
        "register_commands",
        "summary_metrics",
    }


def test_every_hookspec_is_documented_with_its_exact_signature():
    text = DOC.read_text()
    for name, fn in _hookspecs():
        signature = _signature(name, fn)
        assert f"### `{signature}`" in text, f"docs/hooks.md lacks a heading for {signature}"


def test_every_hookspec_has_a_docstring_saying_when_it_is_called():
    for name, fn in _hookspecs():
        assert fn.__doc__ and "Called" in fn.__doc__, name


# Every Protocol in vlmforge.components (instances and the factory).
PROTOCOLS = [
    components.Environment,
    components.EnvEpisode,
    components.AsyncEnvironment,
    components.AsyncEnvEpisode,
    components.Policy,
    components.EpisodePolicy,
    components.TraceStore,
    components.Filter,
    components.Exporter,
    components.Trainer,
    components.ConfiguredFactory,
    components.SupportsStoreExists,
    components.SupportsCleanup,
]


def test_the_list_holds_every_protocol_in_components():
    found = {
        obj
        for _, obj in inspect.getmembers(components, inspect.isclass)
        if getattr(obj, "_is_protocol", False) and obj.__module__ == components.__name__
    }
    assert found == set(PROTOCOLS)
    assert set(components.PROTOCOL_FOR_KIND.values()) <= set(PROTOCOLS)


def protocol_members(protocol: type) -> Iterator[str]:
    """``Proto.member`` signatures as docs/hooks.md writes them (no ``self``)."""
    owner = protocol.__name__
    for name, annotation in vars(protocol).get("__annotations__", {}).items():
        yield f"{owner}.{name}: {annotation}"
    for name, member in vars(protocol).items():
        if isinstance(member, property):
            yield f"{owner}.{name}: {inspect.signature(member.fget).return_annotation}"
        elif inspect.isfunction(member) and (name == "__call__" or not name.startswith("_")):
            yield _method(owner, name, member)


def _method(owner: str, name: str, fn: Any) -> str:
    params = list(inspect.signature(fn).parameters.values())[1:]  # no self
    parts = []
    for i, p in enumerate(params):
        if p.kind is p.KEYWORD_ONLY and (i == 0 or params[i - 1].kind is not p.KEYWORD_ONLY):
            parts.append("*")
        text = p.name if p.annotation is p.empty else f"{p.name}: {p.annotation}"
        parts.append(text if p.default is p.empty else f"{text} = {p.default!r}")
        if p.kind is p.POSITIONAL_ONLY and (
            i + 1 == len(params) or params[i + 1].kind is not p.kind
        ):
            parts.append("/")
    returns = inspect.signature(fn).return_annotation
    prefix = "async " if inspect.iscoroutinefunction(fn) else ""
    return f"{prefix}{owner}.{name}({', '.join(parts)}) -> {returns}"


def test_every_protocol_member_is_documented_with_its_exact_signature():
    text = DOC.read_text()
    missing = []
    for protocol in PROTOCOLS:
        if f"### {protocol.__name__}\n" not in text:
            missing.append(f"heading ### {protocol.__name__}")
        missing += [sig for sig in protocol_members(protocol) if f"`{sig}`" not in text]
    assert missing == [], f"docs/hooks.md lacks: {missing}"


def test_the_member_listing_sees_methods_properties_attributes_and_async():
    store = list(protocol_members(components.TraceStore))
    assert "TraceStore.where: str" in store
    assert (
        "TraceStore.episodes(run_ids: Sequence[str] | None = None, *, "
        "query: EpisodeQuery | None = None) -> Iterator[Episode]"
    ) in store
    assert len(store) == 18
    assert "async Policy.start_episode(env: EnvSpec, seed: int) -> EpisodePolicy" in list(
        protocol_members(components.Policy)
    )
    assert list(protocol_members(components.ConfiguredFactory)) == [
        "ConfiguredFactory.config_model: type[BaseModel]",
        "ConfiguredFactory.__call__(config: Any, /) -> T_co",
    ]
    assert next(protocol_members(components.AsyncEnvironment)) == (
        "AsyncEnvironment.async_calls: bool"
    )
