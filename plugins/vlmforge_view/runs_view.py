"""The runs table and a run's episodes, as JSON-able dicts (the server's and the export's)."""

from __future__ import annotations

from typing import Any

from vlmforge.trace import Episode, Run
from vlmforge_view.reader import TraceReader

PAGE_SIZE = 50  # episodes per page


def run_row(reader: TraceReader, run: Run) -> dict[str, Any]:
    """One row of the runs table: the run's identity and its summary metrics."""
    summary = reader.summary(run)
    return {
        "id": run.id,
        "name": run.name,
        "created_at": run.created_at.isoformat(),
        "env": run.env_name,
        "policy": run.policy_name,
        "model": run.model,
        "tags": list(run.tags),
        "achievement_names": list(run.achievements),
        "summary": summary,
    }


def runs_payload(reader: TraceReader, refs: list[str] | None = None) -> dict[str, Any]:
    """Every run (or the runs ``refs`` name), oldest first, with the values each filter offers."""
    runs = reader.runs() if refs is None else [reader.run(ref) for ref in refs]
    rows = [run_row(reader, run) for run in runs]
    return {
        "store": reader.where,
        "runs": rows,
        "facets": {
            "env": sorted({r["env"] for r in rows}),
            "policy": sorted({r["policy"] for r in rows}),
            "model": sorted({r["model"] for r in rows if r["model"]}),
            "tag": sorted({t for r in rows for t in r["tags"]}),
        },
    }


def episode_row(episode: Episode) -> dict[str, Any]:
    return {
        "id": episode.id,
        "run_id": episode.run_id,
        "seed": episode.seed,
        "status": episode.status.value,
        "steps": episode.steps,
        "env_steps": episode.env_steps,
        "total_reward": episode.total_reward,
        "achievements": list(episode.achievements),
        "termination": episode.termination,
        "invalid_decisions": episode.invalid_decisions,
        "error": episode.error,
    }


def episodes_page(
    reader: TraceReader, run_ref: str, offset: int = 0, limit: int = PAGE_SIZE
) -> dict[str, Any]:
    """One page of a run's episodes (store order: by seed)."""
    run = reader.run(run_ref)
    episodes = reader.episodes(run.id)
    page = episodes[offset : offset + limit]
    return {
        "run": {
            "id": run.id,
            "name": run.name,
            "env": run.env_name,
            "policy": run.policy_name,
            "model": run.model,
        },
        "total": len(episodes),
        "offset": offset,
        "limit": limit,
        "episodes": [episode_row(e) for e in page],
    }
