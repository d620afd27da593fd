"""Removing runs and collecting what nothing references (``vlmforge traces rm`` and ``gc``).

Frames (``image``) and prompt messages (``blob``) are stored once by sha256 and shared by every
step that shows them, so deleting steps never deletes them: an interrupted episode that
``--resume`` replays, or a removed run, leaves its own frames and messages behind. Garbage
collection finds what is still referenced by reading every step payload (and every referenced
message) for sha256 hex strings: a conservative reading (a hash that merely appears in a step's
text keeps its row), never one that drops a frame a step shows.

Evals may write the store meanwhile. The scan runs in a read snapshot without blocking them;
then, holding the write lock, the steps of episodes that were running at the snapshot (the only
ones that can have gained steps since: a step is committed with its frames, and only a running
episode gets steps) are read again, and only then is anything deleted.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import peewee as pw

from vlmforge.components import StoreCleanup
from vlmforge.errors import VlmforgeError
from vlmforge.trace import EpisodeStatus

if TYPE_CHECKING:
    from vlmforge.tracedb.store import PeeweeTraceStore

_HASH = re.compile(rb"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
_CHUNK = 500  # ids per IN (...) list (SQLite allows 32766 parameters; keep statements small)


def remove_run(store: PeeweeTraceStore, run_id_or_name: str, *, force: bool) -> StoreCleanup:
    """Delete a run with its episodes, steps and achievements, then collect the garbage."""
    m = store.m
    R, E, S, A = m.Run, m.Episode, m.Step, m.Achievement
    with store._lock:
        with store._write_transaction():
            row = R.get_or_none(R.id == run_id_or_name) or R.get_or_none(R.name == run_id_or_name)
            if row is None:
                return StoreCleanup()
            episodes = list(E.select(E.id, E.status, E.owner, E.seed).where(E.run == row.id))
            live = [
                e
                for e in episodes
                if e.status == EpisodeStatus.running.value and not store._owner_gone(e.owner)
            ]
            if live and not force:
                owners = sorted({e.owner or "unknown" for e in live})
                seeds = ", ".join(str(e.seed) for e in sorted(live, key=lambda e: e.seed))
                raise VlmforgeError(
                    f"run '{row.name}' in {store.where} has {len(live)} episode(s) running "
                    f"({'seed' if len(live) == 1 else 'seeds'} {seeds}) in a live process "
                    f"({', '.join(owners)}); nothing was "
                    "removed. Wait for it to finish or stop it, or pass --force to remove the "
                    "run anyway (that process then stops with an error at its next write)."
                )
            ids = [e.id for e in episodes]
            removed = StoreCleanup(runs=1, episodes=len(ids))
            for chunk in _chunks(ids):
                removed.steps += S.select().where(S.episode.in_(chunk)).count()
                removed.bytes_freed += _sum_length(S, S.payload, S.episode.in_(chunk))
                removed.achievements += A.select().where(A.episode.in_(chunk)).count()
                A.delete().where(A.episode.in_(chunk)).execute()
                S.delete().where(S.episode.in_(chunk)).execute()
                E.delete().where(E.id.in_(chunk)).execute()
            R.delete().where(R.id == row.id).execute()
        garbage = collect_garbage(store, dry_run=False)
    return _add(removed, garbage)


def collect_garbage(store: PeeweeTraceStore, *, dry_run: bool) -> StoreCleanup:
    """Delete (or with ``dry_run`` count) unreferenced frames and messages, and rows whose
    episode or run is gone."""
    m = store.m
    R, E = m.Run, m.Episode
    with store._lock:
        with store._snapshot():  # a read snapshot: writers go on meanwhile
            kept = E.select(E.id).where(E.run.in_(R.select(R.id)))
            settled = {e.id for e in kept.where(E.status != EpisodeStatus.running.value).iterator()}
            refs = _step_refs(store, _payloads(store, kept))
            scanned_blobs = _add_blob_refs(store, refs, set())
        # the write lock (a dry run only reads: a second snapshot)
        with store._snapshot() if dry_run else store._exclusive_transaction():
            now = {e.id for e in E.select(E.id).where(E.run.in_(R.select(R.id))).iterator()}
            for chunk in _chunks(sorted(now - settled)):
                refs |= _step_refs(store, _payloads(store, E.select(E.id).where(E.id.in_(chunk))))
            _add_blob_refs(store, refs, scanned_blobs)
            cleanup = _orphan_rows(store, dry_run)
            cleanup.messages, freed = _unreferenced(store, m.Blob, m.Blob.data, refs, dry_run)
            cleanup.bytes_freed += freed
            cleanup.images, freed = _unreferenced(store, m.Image, m.Image.png, refs, dry_run)
            cleanup.bytes_freed += freed
            cleanup.dry_run = dry_run
    return cleanup


def _payloads(store: PeeweeTraceStore, episodes: pw.ModelSelect) -> Iterator[tuple[Any, ...]]:
    S = store.m.Step
    select = S.select(S.episode, S.index, S.payload).where(S.episode.in_(episodes)).tuples()
    return select.iterator()


def _step_refs(store: PeeweeTraceStore, rows: Iterable[tuple[Any, ...]]) -> set[bytes]:
    """Every sha256 the steps' payloads mention (frames, message refs, image parts)."""
    refs: set[bytes] = set()
    for episode_id, index, payload in rows:
        try:
            text = zlib.decompress(bytes(payload))
        except zlib.error as exc:
            raise VlmforgeError(
                f"step {index} of episode {episode_id} in {store.where} cannot be read ({exc}); "
                "nothing was removed: what it references is unknown. Remove that episode's run "
                "(`vlmforge traces rm RUN`) or restore the file from a backup."
            ) from None
        refs.update(_HASH.findall(text))
    return refs


def _add_blob_refs(store: PeeweeTraceStore, refs: set[bytes], scanned: set[bytes]) -> set[bytes]:
    """Add what the referenced messages not scanned yet mention (their image parts) to
    ``refs``; returns ``scanned`` with them added (messages never refer to messages)."""
    B = store.m.Blob
    todo = sorted(sha.decode() for sha in refs - scanned)
    found: set[bytes] = set()
    for chunk in _chunks(todo):
        for sha, data in B.select(B.sha256, B.data).where(B.sha256.in_(chunk)).tuples():
            try:
                found.update(_HASH.findall(zlib.decompress(bytes(data))))
            except zlib.error as exc:
                raise VlmforgeError(
                    f"prompt message {sha} in {store.where} cannot be read ({exc}); nothing was "
                    "removed: what it references is unknown."
                ) from None
    scanned.update(sha.encode() for sha in todo)
    scanned |= found
    refs |= found
    return scanned


def _orphan_rows(store: PeeweeTraceStore, dry_run: bool) -> StoreCleanup:
    """Episodes whose run is gone, steps and achievements whose episode is gone (a database
    written without foreign keys)."""
    m = store.m
    R, E, S, A = m.Run, m.Episode, m.Step, m.Achievement
    orphan_episodes = E.select(E.id).where(E.run.not_in(R.select(R.id)))
    kept = E.select(E.id).where(E.run.in_(R.select(R.id)))
    cleanup = StoreCleanup(
        episodes=orphan_episodes.count(),
        steps=S.select().where(S.episode.not_in(kept)).count(),
        achievements=A.select().where(A.episode.not_in(kept)).count(),
        bytes_freed=_sum_length(S, S.payload, S.episode.not_in(kept)),
    )
    if not dry_run and cleanup.total():
        A.delete().where(A.episode.not_in(kept)).execute()
        S.delete().where(S.episode.not_in(kept)).execute()
        E.delete().where(E.run.not_in(R.select(R.id))).execute()
    return cleanup


def _unreferenced(
    store: PeeweeTraceStore, model: Any, data: Any, refs: set[bytes], dry_run: bool
) -> tuple[int, int]:
    """Count (and unless ``dry_run`` delete) the rows of ``model`` whose sha256 is not in
    ``refs``; returns how many and their bytes."""
    stored = [sha for (sha,) in model.select(model.sha256).tuples().iterator()]
    gone = [sha for sha in stored if sha.encode() not in refs]
    freed = 0
    for chunk in _chunks(gone):
        freed += _sum_length(model, data, model.sha256.in_(chunk))
        if not dry_run:
            model.delete().where(model.sha256.in_(chunk)).execute()
    return len(gone), freed


def _sum_length(model: Any, column: Any, where: Any) -> int:
    return int(model.select(pw.fn.SUM(pw.fn.LENGTH(column))).where(where).scalar() or 0)


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _add(a: StoreCleanup, b: StoreCleanup) -> StoreCleanup:
    return StoreCleanup(
        runs=a.runs + b.runs,
        episodes=a.episodes + b.episodes,
        steps=a.steps + b.steps,
        achievements=a.achievements + b.achievements,
        images=a.images + b.images,
        messages=a.messages + b.messages,
        bytes_freed=a.bytes_freed + b.bytes_freed,
        dry_run=a.dry_run or b.dry_run,
    )
