"""A trace store over any peewee database; the ``sqlite`` and ``postgres`` stores are thin
subclasses that build their database, check it before writing and override the transaction
hooks (:meth:`PeeweeTraceStore._write_transaction`, :meth:`PeeweeTraceStore._exclusive_transaction`,
:meth:`PeeweeTraceStore._snapshot`, :meth:`PeeweeTraceStore._migrate`): the tables, codec,
queries, cleanup and migrations are shared and backend-neutral.

One store object is used by one thread at a time (the eval runner gives it a dedicated thread);
writes are serialised by a lock in any case. Several processes may write one database.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import socket
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

import peewee as pw

from vlmforge.components import (
    CorruptTraceError,
    EpisodeQuery,
    EpisodeTrace,
    StepMetrics,
    StoreCleanup,
)
from vlmforge.errors import RunExistsError, VlmforgeError
from vlmforge.images import PngImage
from vlmforge.redaction import redact_config, redact_text
from vlmforge.trace import Episode, EpisodeStatus, Run, Step
from vlmforge.tracedb import cleanup, codec
from vlmforge.tracedb.migrations import migrate
from vlmforge.tracedb.models import make_models

_CACHE_LIMIT = 100_000
# Episode columns rewritten with every step (everything but identity and start time).
_COUNTER_COLUMNS = (
    "status",
    "steps",
    "env_steps",
    "total_reward",
    "achievements",
    "unique_achievements",
    "termination",
    "error",
    "tool_calls",
    "invalid_decisions",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "finished_at",
    "policy_time_s",
    "env_time_s",
)


def _column_name(key: str) -> str:
    return key


_MESSAGE_CACHE = 4096
_FINISHED = (EpisodeStatus.done.value, EpisodeStatus.failed.value)


class PeeweeTraceStore:
    """:class:`vlmforge.components.TraceStore` over a peewee database."""

    def __init__(
        self,
        database: pw.Database,
        *,
        where: str,
        compress_level: int = 6,
        read_only: bool = False,
    ):
        """``read_only``: the database is opened for reading (no migration, no recovery of
        interrupted episodes: nothing is written)."""
        self.db, self.where, self.level = database, where, compress_level
        self.read_only = read_only
        self.m = make_models(database)
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self._lock = threading.RLock()
        self._known_images: set[str] = set()
        self._known_blobs: set[str] = set()
        self._messages: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.db.connect(reuse_if_open=True)
        self.applied_migrations: list[int] = []
        if not read_only:
            self.applied_migrations = self._migrate()
            self.recover_interrupted()

    # -- hooks for other databases ---------------------------------------------------------
    def _migrate(self) -> list[int]:
        """Apply the missing migrations (PostgreSQL serialises concurrent openers first)."""
        return migrate(self.db, self.m, self._write_transaction, self.where)

    def _write_transaction(self) -> AbstractContextManager[object]:
        """A transaction for writes (SQLite takes the write lock up front)."""
        return self.db.atomic()

    def _exclusive_transaction(self) -> AbstractContextManager[object]:
        """A write transaction no other writer's step can interleave with (garbage collection
        deletes frames a concurrent step might refer to). SQLite's write lock is exclusive."""
        return self._write_transaction()

    def _snapshot(self) -> AbstractContextManager[object]:
        """A read transaction that sees one consistent state (SQLite WAL: every one does)."""
        return self.db.atomic()

    def _is_alive(self, owner: str) -> bool | None:
        """Whether the process ``host:pid`` still runs; None when it cannot be told."""
        host, _, pid_text = owner.rpartition(":")
        if host != socket.gethostname() or not pid_text.isdigit():
            return None
        pid = int(pid_text)
        if pid == os.getpid():
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    # -- redaction -------------------------------------------------------------------------
    # The credentials this process uses (vlmforge.redaction.use_secret), read at each write: a
    # policy built after the store still has its key redacted.
    def _redact(self, text: str) -> str:
        return redact_text(text)

    def _redact_config(self, value: Any) -> Any:
        return redact_config(value)

    # -- runs ------------------------------------------------------------------------------
    def create_run(self, run: Run) -> None:
        """Insert a run; its settings are redacted first."""
        columns = codec.run_columns(run, self._redact_config)
        columns["system_prompt"] = run.system_prompt and self._redact(run.system_prompt)
        R = self.m.Run
        taken = RunExistsError(f"a run named '{run.name}' already exists in {self.where}")
        try:
            with self._lock, self._write_transaction():
                if R.select().where(R.name == run.name).exists():
                    raise taken
                R.insert(**columns).execute()
        except pw.IntegrityError:  # a concurrent creator committed first (row locks, no table lock)
            if R.select().where(R.name == run.name).exists():
                raise taken from None
            raise

    def update_run(self, run: Run) -> None:
        columns = codec.run_columns(run, self._redact_config)
        columns["system_prompt"] = run.system_prompt and self._redact(run.system_prompt)
        columns.pop("id")
        with self._lock, self._write_transaction():
            self.m.Run.update(**columns).where(self.m.Run.id == run.id).execute()

    def get_run(self, run_id_or_name: str) -> Run | None:
        R = self.m.Run
        row = R.get_or_none(R.id == run_id_or_name) or R.get_or_none(R.name == run_id_or_name)
        return codec.run_from_row(row) if row is not None else None

    def runs(self) -> Iterator[Run]:
        R = self.m.Run
        rows = list(R.select().order_by(R.created_at, R.id))
        return (codec.run_from_row(r) for r in rows)

    # -- episodes --------------------------------------------------------------------------
    def start_episode(self, episode: Episode) -> None:
        with self._lock, self._write_transaction():
            self._insert_episode(episode)

    def _insert_episode(self, episode: Episode) -> None:
        columns = codec.episode_columns(episode)
        columns["error"] = episode.error and self._redact(episode.error)
        self.m.Episode.insert(owner=self.owner, **columns).execute()

    def claim_episode(self, episode: Episode) -> bool:
        """Insert ``episode`` unless its seed is finished or held by a live process, in one
        write transaction (SQLite: ``BEGIN IMMEDIATE``, so claims of all processes are
        serialised; a database with row locks locks the run's row first). Earlier attempts
        (interrupted, or running in a dead process) are deleted with their steps."""
        R, E = self.m.Run, self.m.Episode
        with self._lock, self._write_transaction():
            run = R.select(R.id).where(R.id == episode.run_id)
            if self.db.for_update:
                run = run.for_update()
            if not run.exists():
                raise VlmforgeError(
                    f"run {episode.run_id} is no longer in {self.where} (removed by `vlmforge "
                    f"traces rm`?); seed {episode.seed} was not played. Start a new run."
                )
            rows = list(
                E.select(E.id, E.status, E.owner).where(
                    E.run == episode.run_id, E.seed == episode.seed
                )
            )
            stale = []
            for row in rows:
                if row.status in _FINISHED or (
                    row.status == EpisodeStatus.running.value and not self._owner_gone(row.owner)
                ):
                    return False
                stale.append(row.id)
            if stale:
                self._delete_episode_rows(stale)
            self._insert_episode(episode)
        return True

    def _owner_gone(self, owner: str | None) -> bool:
        """Whether a running episode's writer is known to be gone (another host: not known)."""
        return owner is not None and self._is_alive(owner) is False

    def finish_episode(self, episode: Episode) -> None:
        self._update_episode(episode, owner=None)

    def _update_episode(self, episode: Episode, **extra: Any) -> None:
        columns = codec.episode_columns(episode)
        columns["error"] = episode.error and self._redact(episode.error)
        for key in ("id", "run", "seed", "started_at"):
            columns.pop(key)
        E = self.m.Episode
        with self._lock, self._write_transaction():
            E.update(**columns, **extra).where(E.id == episode.id).execute()

    def delete_episode(self, episode_id: str) -> None:
        """Remove an episode, its steps and achievements (images and blobs stay: shared)."""
        with self._lock, self._write_transaction():
            self._delete_episode_rows([episode_id])

    def _delete_episode_rows(self, episode_ids: list[str]) -> None:
        """Delete episodes with their steps and achievements (inside a write transaction)."""
        m = self.m
        m.Achievement.delete().where(m.Achievement.episode.in_(episode_ids)).execute()
        m.Step.delete().where(m.Step.episode.in_(episode_ids)).execute()
        m.Episode.delete().where(m.Episode.id.in_(episode_ids)).execute()

    def recover_interrupted(self) -> int:
        """Mark running episodes of writers that are gone (on this host) as interrupted."""
        E = self.m.Episode
        rows = list(E.select(E.id, E.owner).where(E.status == EpisodeStatus.running.value))
        dead = [r.id for r in rows if r.owner and self._is_alive(r.owner) is False]
        if not dead:
            return 0
        now = codec.iso(dt.datetime.now(dt.UTC))
        with self._lock, self._write_transaction():
            return (
                E.update(
                    status=EpisodeStatus.interrupted.value,
                    termination="interrupted",
                    error="the process writing this episode ended before finishing it",
                    finished_at=now,
                    owner=None,
                )
                .where(E.id.in_(dead), E.status == EpisodeStatus.running.value)
                .execute()
            )

    # -- cleaning up (vlmforge traces rm / gc) ---------------------------------------------
    def remove_run(self, run_id_or_name: str, *, force: bool = False) -> StoreCleanup:
        """Delete the run, its episodes, steps and achievements and what no step references
        any more; refuses a run with an episode running in a live process unless ``force``."""
        return cleanup.remove_run(self, run_id_or_name, force=force)

    def collect_garbage(self, *, dry_run: bool = False) -> StoreCleanup:
        """Delete (``dry_run``: count) frames and messages no step references, and rows whose
        episode or run is gone."""
        return cleanup.collect_garbage(self, dry_run=dry_run)

    def get_episode(self, episode_id: str) -> Episode | None:
        E = self.m.Episode
        row = E.get_or_none(E.id == episode_id)
        return codec.episode_from_row(row) if row is not None else None

    def episodes(
        self, run_ids: Sequence[str] | None = None, *, query: EpisodeQuery | None = None
    ) -> Iterator[Episode]:
        """Episodes matching ``query`` (and ``run_ids``), in (run, seed, id) order, streamed."""
        query = query or EpisodeQuery()
        if run_ids is not None:
            query = EpisodeQuery(**{**query.__dict__, "run_ids": list(run_ids)})
        for row in self._episode_select(query).iterator():
            yield codec.episode_from_row(row)

    def _episode_select(self, query: EpisodeQuery) -> pw.ModelSelect:
        E, A = self.m.Episode, self.m.Achievement
        select = E.select()
        conditions = []
        if query.run_ids is not None:
            conditions.append(E.run.in_(list(query.run_ids)))
        if query.episode_ids is not None:
            conditions.append(E.id.in_(list(query.episode_ids)))
        if query.statuses is not None:
            conditions.append(E.status.in_([str(s) for s in query.statuses]))
        if query.seeds is not None:
            conditions.append(E.seed.in_(list(query.seeds)))
        if query.min_unique_achievements is not None:
            conditions.append(E.unique_achievements >= query.min_unique_achievements)
        if query.min_steps is not None:
            conditions.append(E.steps >= query.min_steps)
        if query.min_total_reward is not None:
            conditions.append(E.total_reward >= query.min_total_reward)
        for name in query.achievements:
            conditions.append(E.id.in_(A.select(A.episode).where(A.name == name)))
        if conditions:
            select = select.where(*conditions)
        select = select.order_by(E.run, E.seed, E.id)
        if query.limit is not None:
            select = select.limit(query.limit)
        return select

    # -- steps -----------------------------------------------------------------------------
    def record_step(
        self, step: Step, images: Iterable[PngImage], episode: Episode | None = None
    ) -> None:
        """Insert the step, its new images and message blobs, achievements and the episode's
        counters, in one transaction."""
        self.record_steps([(step, images, episode)])

    def record_steps(
        self, items: Sequence[tuple[Step, Iterable[PngImage], Episode | None]]
    ) -> None:
        """:meth:`record_step` for several steps (of one or more episodes, each episode's in
        order) in ONE transaction: when it returns all of them are committed, or none is. Each
        episode's counters are written once, as of its last step here (the eval runner's
        batched writes, :mod:`vlmforge.step_writer`)."""
        new_images: dict[str, PngImage] = {}
        new_blobs: dict[str, bytes] = {}
        encoded: list[tuple[Step, codec.EncodedStep]] = []
        episodes: dict[str, Episode] = {}
        for step, images, episode in items:
            enc = codec.encode_step(step, self._redact, self.level)
            encoded.append((step, enc))
            for image in images:
                if image.sha256 not in self._known_images:
                    new_images.setdefault(image.sha256, image)
            for key, text in enc.blobs.items():
                if key not in self._known_blobs and key not in new_blobs:
                    new_blobs[key] = codec.compress(text, self.level)
            if episode is not None:
                episodes[episode.id] = episode
        # sorted by key: concurrent writers of the same new rows lock them in one order (a
        # database with row locks would otherwise deadlock two steps inserting A, B and B, A)
        new_images = dict(sorted(new_images.items()))
        new_blobs = dict(sorted(new_blobs.items()))
        sql = self._sql
        with self._lock:
            with self._write_transaction():
                cursor = self.db.cursor()
                if new_blobs:
                    cursor.executemany(
                        sql["blob"], [(k, "message", v) for k, v in new_blobs.items()]
                    )
                if new_images:
                    cursor.executemany(
                        sql["image"],
                        [(i.sha256, i.width, i.height, i.png) for i in new_images.values()],
                    )
                for step, enc in encoded:
                    self._insert_step(step, enc)
                    if step.achievements:
                        cursor.executemany(
                            sql["achievement"],
                            [(step.episode_id, step.index, name) for name in step.achievements],
                        )
                for _, episode in sorted(episodes.items()):
                    columns = codec.episode_columns(episode)
                    columns["error"] = episode.error and self._redact(episode.error)
                    cursor.execute(
                        sql["episode_counters"],
                        [columns[k] for k in _COUNTER_COLUMNS] + [episode.id],
                    )
            _remember(self._known_images, new_images)
            _remember(self._known_blobs, new_blobs)

    def _insert_step(self, step: Step, enc: codec.EncodedStep) -> None:
        """The step row (inside ``record_steps``'s transaction); a step whose episode is gone
        (its run removed with ``vlmforge traces rm --force`` while this process played it) is
        a clear error rather than the database's foreign-key failure."""
        c = enc.columns
        params = (
            step.episode_id,
            c["index"],
            c["reward"],
            c["n_actions"],
            c["n_tool_calls"],
            c["invalid"],
            c["done"],
            c["has_error"],
            c["prompt_tokens"],
            c["completion_tokens"],
            c["policy_latency_s"],
            c["env_latency_s"],
            enc.payload,
        )
        try:
            self.db.execute_sql(self._sql["step"], params)
        except pw.IntegrityError:
            E = self.m.Episode
            if E.select().where(E.id == step.episode_id).exists():
                raise
            raise VlmforgeError(
                f"episode {step.episode_id} is no longer in {self.where}: its run was removed "
                "(`vlmforge traces rm --force`?) while this process was playing it; step "
                f"{step.index} was not recorded."
            ) from None

    @functools.cached_property
    def _sql(self) -> dict[str, str]:
        """Hot-path statements, written once (peewee's query builder costs ~1 ms a step)."""
        p = self.db.param
        ignore = self._insert_ignore

        def values(n: int) -> str:
            return ", ".join([p] * n)

        sets = ", ".join(f'"{_column_name(k)}" = {p}' for k in _COUNTER_COLUMNS)
        return {
            "blob": ignore(f'INSERT INTO "blob" ("sha256", "kind", "data") VALUES ({values(3)})'),
            "image": ignore(
                f'INSERT INTO "image" ("sha256", "width", "height", "png") VALUES ({values(4)})'
            ),
            "step": (
                'INSERT INTO "step" ("episode_id", "index", "reward", "n_actions", '
                '"n_tool_calls", "invalid", "done", "has_error", "prompt_tokens", '
                '"completion_tokens", "policy_latency_s", "env_latency_s", "payload") '
                f"VALUES ({values(13)})"
            ),
            "achievement": (
                'INSERT INTO "achievement" ("episode_id", "step_index", "name") '
                f"VALUES ({values(3)})"
            ),
            "episode_counters": f'UPDATE "episode" SET {sets} WHERE "id" = {p}',
        }

    def _insert_ignore(self, sql: str) -> str:
        """``INSERT`` that skips rows whose key exists (SQL standard-ish; SQLite and
        PostgreSQL both accept ``ON CONFLICT DO NOTHING``)."""
        return sql + " ON CONFLICT DO NOTHING"

    def steps(self, episode_id: str) -> Iterator[Step]:
        """The episode's steps in order, exactly as recorded."""
        S = self.m.Step
        rows = list(
            S.select(S.index, S.reward, S.policy_latency_s, S.env_latency_s, S.payload)
            .where(S.episode == episode_id)
            .order_by(S.index)
            .tuples()
        )
        return (self._decode(episode_id, row) for row in rows)

    def traces(
        self, query: EpisodeQuery | None = None, batch_size: int = 32
    ) -> Iterator[EpisodeTrace]:
        """Episodes with run and steps, read ``batch_size`` episodes per steps query."""
        runs: dict[str, Run] = {}
        batch: list[Episode] = []
        for episode in self.episodes(query=query):
            batch.append(episode)
            if len(batch) >= batch_size:
                yield from self._traces_for(batch, runs)
                batch = []
        if batch:
            yield from self._traces_for(batch, runs)

    def _traces_for(self, batch: list[Episode], runs: dict[str, Run]) -> Iterator[EpisodeTrace]:
        S = self.m.Step
        rows = list(
            S.select(S.episode, S.index, S.reward, S.policy_latency_s, S.env_latency_s, S.payload)
            .where(S.episode.in_([e.id for e in batch]))
            .order_by(S.episode, S.index)
            .tuples()
        )
        by_episode: dict[str, list[Step]] = {e.id: [] for e in batch}
        for episode_id, *rest in rows:
            by_episode[episode_id].append(self._decode(episode_id, tuple(rest)))
        for episode in batch:
            run = runs.get(episode.run_id)
            if run is None:
                run = self.get_run(episode.run_id)
                assert run is not None, f"episode {episode.id} has no run"
                runs[episode.run_id] = run
            yield EpisodeTrace(run=run, episode=episode, steps=by_episode[episode.id])

    def step_metrics(self, query: EpisodeQuery | None = None) -> Iterator[StepMetrics]:
        """Scalar step columns for the episodes matching ``query``, without decoding payloads."""
        S, E = self.m.Step, self.m.Episode
        ids = self._episode_select(query or EpisodeQuery()).select(E.id)
        select = (
            S.select(
                S.episode,
                S.index,
                S.reward,
                S.invalid,
                S.done,
                S.n_actions,
                S.n_tool_calls,
                S.prompt_tokens,
                S.completion_tokens,
                S.policy_latency_s,
                S.env_latency_s,
            )
            .where(S.episode.in_(ids))
            .order_by(S.episode, S.index)
            .tuples()
        )
        for row in select.iterator():
            yield StepMetrics(row[0], row[1], row[2], bool(row[3]), bool(row[4]), *row[5:])

    def _decode(self, episode_id: str, columns: codec.StepColumns) -> Step:
        """A stored step, or :class:`CorruptTraceError` naming run, episode and step."""
        try:
            return codec.decode_step(episode_id, columns, self._message)
        except CorruptTraceError as exc:
            raise self._corrupt(episode_id, columns[0], str(exc)) from None
        except codec.DECODE_ERRORS as exc:
            detail = f"its stored payload does not decode ({codec.describe(exc)})"
            raise self._corrupt(episode_id, columns[0], detail) from None

    def _corrupt(self, episode_id: str, index: int, detail: str) -> CorruptTraceError:
        episode = self.get_episode(episode_id)
        run = self.get_run(episode.run_id) if episode is not None else None
        names = f"run {run.name}, " if run is not None else ""
        seed = f" (seed {episode.seed})" if episode is not None else ""
        return CorruptTraceError(
            f"trace store {self.where}: {names}episode {episode_id}{seed}, step {index}: {detail}.",
            episode_id=episode_id,
            step=index,
        )

    def _message(self, sha: str) -> dict[str, Any]:
        cached = self._messages.get(sha)
        if cached is None:
            B = self.m.Blob
            data = B.select(B.data).where(B.sha256 == sha).scalar()
            if data is None:
                raise CorruptTraceError(f"its prompt message {sha} is missing")
            try:
                cached = codec.decode_message(data)
            except codec.DECODE_ERRORS as exc:
                raise CorruptTraceError(
                    f"its prompt message {sha} does not decode ({codec.describe(exc)})"
                ) from None
            self._messages[sha] = cached
            if len(self._messages) > _MESSAGE_CACHE:
                self._messages.popitem(last=False)
        return cached  # read-only: validation builds new objects from it

    # -- images ----------------------------------------------------------------------------
    def image(self, sha256: str) -> bytes:
        """The PNG bytes stored under ``sha256`` (:class:`CorruptTraceError` if absent)."""
        I = self.m.Image  # noqa: E741
        data = I.select(I.png).where(I.sha256 == sha256).scalar()
        if data is None:
            raise CorruptTraceError(f"image {sha256} is missing from trace store {self.where}")
        return bytes(data)

    def close(self) -> None:
        with self._lock:
            if not self.db.is_closed():
                self.db.close()


def _remember(known: set[str], new: dict[str, Any]) -> None:
    if len(known) + len(new) > _CACHE_LIMIT:
        known.clear()
    known.update(new)
