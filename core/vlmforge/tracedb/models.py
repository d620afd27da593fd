"""The trace tables, as peewee models built per database (no global binding).

The same models serve any peewee database: :func:`make_models` binds a fresh set of model
classes to one database object, so several stores (a test's two files, SQLite and PostgreSQL)
can be open in one process at once. Floats are ``DoubleField`` (8 bytes: SQLite's ``FLOAT``,
PostgreSQL's ``DOUBLE PRECISION``; PostgreSQL's ``REAL`` would round rewards and latencies).

Layout (see docs/trace-store.md):

- ``run``: one row per eval run; configs, tool schemas and the system prompt stored once.
- ``episode``: one row per (run, seed) attempt, with counters kept in step with its steps.
- ``step``: indexed scalar columns (reward, invalid, done, tokens, latencies) for queries, plus a
  zlib-compressed JSON ``payload`` holding the rest of the :class:`vlmforge.trace.Step`.
  Prompt messages other than the last (the system prompt, history turns) are stored by reference
  into ``blob``, so a system prompt repeated every step is stored once.
- ``blob``: content-addressed (sha256) compressed JSON: prompt messages.
- ``image``: content-addressed (sha256 of the PNG bytes) PNG frames, stored once.
- ``achievement``: one row per achievement unlocked (episode, step, name), for filter queries.
- ``schema_version``: the applied migrations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import peewee as pw


@dataclass(frozen=True)
class Models:
    """The model classes bound to one database.

    Typed ``Any``: the classes are built at run time, so a type checker cannot see their
    fields (``Step.episode``, ``Run.name``, ...) as attributes of ``type[pw.Model]``.
    """

    SchemaVersion: Any
    Run: Any
    Episode: Any
    Step: Any
    Blob: Any
    Image: Any
    Achievement: Any

    def all(self) -> list[type[pw.Model]]:
        """In creation order (referenced tables first)."""
        return [
            self.SchemaVersion,
            self.Run,
            self.Episode,
            self.Step,
            self.Blob,
            self.Image,
            self.Achievement,
        ]


def make_models(database: pw.Database) -> Models:
    """Model classes bound to ``database``."""

    class Base(pw.Model):
        class Meta:
            pass

    Base._meta.database = database

    class SchemaVersion(Base):
        version = pw.IntegerField(primary_key=True)
        applied_at = pw.TextField()
        description = pw.TextField()

        class Meta:
            table_name = "schema_version"

    class Run(Base):
        id = pw.CharField(max_length=32, primary_key=True)
        name = pw.TextField(unique=True)
        created_at = pw.TextField()  # ISO 8601, UTC
        vlmforge_version = pw.TextField()
        trace_schema_version = pw.IntegerField()
        env_name = pw.TextField()
        env_config = pw.TextField()  # JSON
        policy_name = pw.TextField()
        policy_config = pw.TextField()  # JSON, secrets removed
        model = pw.TextField(null=True)
        seeds = pw.TextField()  # JSON list
        tools = pw.TextField()  # JSON list of tool schemas
        system_prompt = pw.TextField(null=True)
        achievements = pw.TextField(default="[]")  # JSON list: every unlockable achievement
        tags = pw.TextField()  # JSON list

        class Meta:
            table_name = "run"

    class Episode(Base):
        id = pw.CharField(max_length=32, primary_key=True)
        run = pw.ForeignKeyField(Run, column_name="run_id", on_delete="CASCADE", index=False)
        seed = pw.IntegerField()
        status = pw.CharField(max_length=16, index=True)
        steps = pw.IntegerField(default=0)
        env_steps = pw.IntegerField(default=0)
        total_reward = pw.DoubleField(default=0.0)
        achievements = pw.TextField(default="[]")  # JSON list, unique, in unlock order
        unique_achievements = pw.IntegerField(default=0, index=True)
        termination = pw.TextField(null=True)
        error = pw.TextField(null=True)
        tool_calls = pw.IntegerField(default=0)
        invalid_decisions = pw.IntegerField(default=0)
        prompt_tokens = pw.IntegerField(null=True)
        completion_tokens = pw.IntegerField(null=True)
        total_tokens = pw.IntegerField(null=True)
        started_at = pw.TextField()
        finished_at = pw.TextField(null=True)
        policy_time_s = pw.DoubleField(default=0.0)
        env_time_s = pw.DoubleField(default=0.0)
        owner = pw.TextField(null=True)  # "host:pid" of the writing process while running

        class Meta:
            table_name = "episode"
            indexes = ((("run", "seed"), False), (("total_reward",), False))

    class Step(Base):
        id = pw.AutoField()
        episode = pw.ForeignKeyField(
            Episode, column_name="episode_id", on_delete="CASCADE", index=False
        )
        index = pw.IntegerField()  # type: ignore[assignment]  # the column shadows Model.index
        reward = pw.DoubleField()
        n_actions = pw.IntegerField()
        n_tool_calls = pw.IntegerField()
        invalid = pw.BooleanField()  # an invalid decision (no usable tool call, or invalid parts)
        done = pw.BooleanField()
        has_error = pw.BooleanField()
        prompt_tokens = pw.IntegerField(null=True)
        completion_tokens = pw.IntegerField(null=True)
        policy_latency_s = pw.DoubleField()
        env_latency_s = pw.DoubleField()
        payload = pw.BlobField()  # zlib(JSON) of the rest of the Step, see codec.py

        class Meta:
            table_name = "step"
            indexes = ((("episode", "index"), True),)

    class Blob(Base):
        sha256 = pw.CharField(max_length=64, primary_key=True)
        kind = pw.CharField(max_length=16)
        data = pw.BlobField()  # zlib(JSON)

        class Meta:
            table_name = "blob"

    class Image(Base):
        sha256 = pw.CharField(max_length=64, primary_key=True)
        width = pw.IntegerField()
        height = pw.IntegerField()
        png = pw.BlobField()

        class Meta:
            table_name = "image"

    class Achievement(Base):
        id = pw.AutoField()
        episode = pw.ForeignKeyField(
            Episode, column_name="episode_id", on_delete="CASCADE", index=True
        )
        step_index = pw.IntegerField()
        name = pw.TextField(index=True)

        class Meta:
            table_name = "achievement"

    return Models(SchemaVersion, Run, Episode, Step, Blob, Image, Achievement)
