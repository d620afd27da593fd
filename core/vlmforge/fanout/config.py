"""The ``[ray]`` table of an eval config: play the episodes on a Ray cluster."""

from __future__ import annotations

from pydantic import Field

from vlmforge.config import StrictModel


class RaySection(StrictModel):
    """``[ray]``: where the cluster is and how many actors play episodes."""

    address: str | None = Field(
        None,
        min_length=1,
        description="The cluster to join (`auto`, `HOST:6379` of `ray start --head`, or "
        "`ray://HOST:10001`); not set: start a local cluster for this eval.",
    )
    workers: int = Field(
        2, ge=1, le=4096, description="Actors playing episodes, one episode at a time each."
    )
    cpus_per_worker: float = Field(
        1.0, gt=0, description="CPUs Ray reserves for each actor (its scheduling unit)."
    )
    env_vars: list[str] = Field(
        default_factory=list,
        description="Environment variables copied from this process to the actors, besides "
        "those the [env] and [policy] settings name (api_key_env = ...), which always are.",
    )
