"""``vlmforge probe`` as a library: a probe run is an eval session over ``crafter-probes``.

:func:`load_probe_config` reads the probe TOML (``[probes]``, ``[policy]``, ``[store]`` and a
few top-level keys) and the flags; :func:`run_probes` turns it into an
:class:`~vlmforge.eval_config.EvalConfig` (environment ``crafter-probes``, one episode seed per
probe) and plays it with :class:`~vlmforge.eval_session.EvalSession`, so the store, resume,
concurrency, redaction and every policy work unchanged; then it computes the accuracy report of
the run from the stored steps (:func:`~vlmforge_crafter.probes.accuracy.probe_report`).

The probe run is written to ``[store]`` (default: the source ``trace_db`` itself, next to the
runs it asks about).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field

from vlmforge.config import DEFAULT_STORE, LoadedConfig, StoreSection, StrictModel
from vlmforge.errors import ConfigError
from vlmforge.eval_config import (
    DEFAULT_MAX_FAILED_FRACTION,
    EvalConfig,
    LoadedEvalConfig,
    PolicySection,
)
from vlmforge_crafter.probes.config import ProbesConfig
from vlmforge_crafter.probes.env import ENV_NAME


class ProbeCommandConfig(StrictModel):
    """The whole ``vlmforge probe`` config (docs/probes.md)."""

    run_name: str | None = Field(None, min_length=1, description="Name of the probe run.")
    concurrency: int = Field(4, ge=1, le=4096, description="Probes in flight.")
    max_failed_fraction: float = Field(DEFAULT_MAX_FAILED_FRACTION, ge=0.0, le=1.0)
    tags: list[str] = Field(default_factory=list)
    json_summary: str | None = Field(None, description="Write the accuracy report as JSON here.")
    probes: ProbesConfig
    policy: PolicySection
    store: StoreSection | None = Field(
        None, description="Where the probe run is written (default: [probes] trace_db)."
    )

    def output_store(self) -> StoreSection:
        if self.store is not None:
            return self.store
        return StoreSection.model_validate({"name": DEFAULT_STORE, "path": self.probes.trace_db})


PROBE_FLAGS = ("trace_db", "frames", "seed", "types", "probes_per_frame", "observation",
               "runs", "episode_seeds")  # fmt: skip
TOP_FLAGS = ("run_name", "concurrency", "json_summary")


def load_probe_config(path: str | None, flags: dict[str, Any]) -> LoadedConfig[ProbeCommandConfig]:
    """Read ``path`` (optional) and apply the flags (None: not given). ``flags`` keys: the
    [probes] keys above, run_name, concurrency, json_summary, policy, model, out_db."""
    from vlmforge.config import load_command_config

    def table(data: dict[str, Any], key: str) -> dict[str, Any]:
        value = data.get(key)
        return dict(value) if isinstance(value, dict) else {}

    def prepare(data: dict[str, Any]) -> dict[str, Any]:
        if flags.get("policy"):
            current = table(data, "policy")
            if current.get("name") != flags["policy"]:
                current = {}
            data["policy"] = {**current, "name": flags["policy"]}
        if flags.get("model"):
            if not isinstance(data.get("policy"), dict):
                raise ConfigError("--model needs a policy: add --policy NAME or a [policy] table.")
            data["policy"] = {**data["policy"], "model": flags["model"]}
        if flags.get("out_db"):
            store = table(data, "store")
            data["store"] = {"name": DEFAULT_STORE, **store, "path": flags["out_db"]}
        if "policy" not in data:
            raise ConfigError("no policy: pass --policy NAME or add a [policy] table.")
        probes = table(data, "probes")
        given = {k: flags.get(k) for k in PROBE_FLAGS if flags.get(k) not in (None, ())}
        data["probes"] = {**probes, **given}
        if "trace_db" not in data["probes"]:
            raise ConfigError("no source of frames: pass --trace-db PATH or set [probes] trace_db.")
        return data

    top = {k: flags.get(k) for k in TOP_FLAGS}
    return load_command_config(ProbeCommandConfig, path, top, prepare=prepare)


def eval_config(config: ProbeCommandConfig) -> EvalConfig:
    """The eval session that plays the probe set (one episode seed per probe)."""
    count = config.probes.probe_count()
    return EvalConfig.model_validate(
        {
            "run_name": config.run_name,
            "seeds": f"0-{count - 1}",
            "concurrency": config.concurrency,
            "max_failed_fraction": config.max_failed_fraction,
            "tags": ["probes", *config.tags],
            "env": {"name": ENV_NAME, **config.probes.model_dump(mode="json")},
            "policy": config.policy.model_dump(mode="json", exclude_none=True),
            "store": config.output_store().model_dump(mode="json"),
        }
    )


@dataclass
class ProbeResults:
    """What :func:`run_probes` did: the eval results and each probe run's accuracy report."""

    eval: Any  # vlmforge.eval_session.EvalResults
    reports: list[dict[str, Any]]


def run_probes(
    loaded: LoadedConfig[ProbeCommandConfig],
    registry: Any = None,
    *,
    resume: bool = False,
    events: Any = None,
    handle_signals: bool = False,
) -> ProbeResults:
    """Play the probe set with the policy, record it, and report accuracy per probe type."""
    from vlmforge.components_build import build_component
    from vlmforge.eval_session import EvalSession
    from vlmforge_crafter.probes.accuracy import probe_report

    config = loaded.config
    if config.json_summary and Path(config.json_summary).is_dir():
        raise ConfigError(
            f"json_summary '{config.json_summary}' (--json-summary) is a folder; give a file path."
        )
    session_config = LoadedEvalConfig(
        eval_config(config), loaded.source, loaded.where, overridden={"env"}
    )
    session = EvalSession(
        session_config, registry, resume=resume, events=events, handle_signals=handle_signals
    )
    results = session.run()
    reports = []
    section = session.config.store
    store = build_component(
        session.registry, "store", section.name, section.settings(), where="[store]"
    )
    try:
        for item in results.runs:
            if item.run is not None:
                reports.append(probe_report(store, item.run))
    finally:
        store.close()
    if config.json_summary:
        _write_json(Path(config.json_summary), {"version": 1, "reports": reports})
    return ProbeResults(results, reports)


def _write_json(target: Path, doc: dict[str, Any]) -> None:
    """Write the report; a full disk leaves no half-written file and names the fix."""
    from vlmforge.errors import StorageFullError, is_disk_full

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        target.unlink(missing_ok=True)
        raise StorageFullError(
            f"the disk holding json_summary '{target}' is full ({exc.strerror}); the probe runs "
            "are complete in the trace store: re-run with --resume to print their report."
        ) from None
