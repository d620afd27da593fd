"""The trace-store contract, run on every SQL backend (sqlite and postgres: ``backend``).

Exact round trips, images and messages stored once, queries, recovery of a dead writer's
episodes, atomic seed claims, schema versions, redaction, read-only opens, cleanup. What is
particular to one backend (SQLite's busy timeout and WAL, PostgreSQL's DSN handling) is tested
next to that backend.
"""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tests.eval.helpers import frame, make_episode, make_run, make_step
from tests.store.backends import Backend
from vlmforge.components import CorruptTraceError, EpisodeQuery
from vlmforge.errors import ConfigError, RunExistsError, VlmforgeError
from vlmforge.trace import Episode, EpisodeStatus
from vlmforge.tracedb.migrations import LATEST_VERSION


def test_steps_round_trip_exactly_and_counters_follow(backend: Backend) -> None:
    store = backend.open()
    run = make_run()
    store.create_run(run)
    episode = make_episode("ep1")
    store.start_episode(episode)
    image = frame(1)
    written = []
    for i in range(3):
        step = make_step("ep1", i, image)
        episode.add_step(step)
        store.record_step(step, [image], episode)
        written.append(step)
    assert list(store.steps("ep1")) == written
    # counters were committed with each step, before finish_episode
    stored = store.get_episode("ep1")
    assert stored is not None and stored.steps == 3 and stored.env_steps == 6
    assert stored.status == EpisodeStatus.running
    episode.status = EpisodeStatus.done
    store.finish_episode(episode)
    assert store.get_episode("ep1") == episode
    store.close()
    # re-opened by a fresh store object: still identical
    again = backend.open()
    assert list(again.steps("ep1")) == written
    assert again.get_run("run-one") == run == again.get_run("run1")
    again.close()


def test_images_and_repeated_messages_are_stored_once(backend: Backend) -> None:
    store = backend.open()
    store.create_run(make_run())
    for ep in ("a", "b"):
        store.start_episode(make_episode(ep))
        for i in range(4):
            store.record_step(make_step(ep, i, frame(7)), [frame(7)])
    store.close()
    # a second process (a fresh store: no cache of known hashes) writes the same frame again
    other = backend.open()
    other.start_episode(make_episode("c", seed=1))
    other.record_step(make_step("c", 0, frame(7)), [frame(7)])
    other.close()
    assert backend.count("SELECT COUNT(*) FROM image") == 1
    # system prompt + the repeated history message: two blobs for 9 steps
    assert backend.count("SELECT COUNT(*) FROM blob") == 2
    assert backend.count("SELECT COUNT(*) FROM step") == 9
    assert backend.count("SELECT COUNT(*) FROM achievement WHERE name='collect_wood'") == 2


def test_image_bytes_come_back(backend: Backend) -> None:
    store = backend.open()
    image = frame(3)
    store.create_run(make_run())
    store.start_episode(make_episode("e"))
    store.record_step(make_step("e", 0, image), [image])
    assert store.image(image.sha256) == image.png
    with pytest.raises(CorruptTraceError, match="is missing"):
        store.image("0" * 64)
    store.close()


def test_secrets_are_redacted(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-live-0123456789abcdefSECRET"
    monkeypatch.setenv("MY_PROVIDER_API_KEY", secret)
    store = backend.open()
    run = make_run(
        policy_config={
            "model": "m",
            "api_key": "hunter2-not-env",
            "headers": {"Authorization": "Bearer abcdefghijklmnop"},
        }
    )
    store.create_run(run)
    episode = make_episode("e")
    store.start_episode(episode)
    step = make_step("e", 0, frame(1), error=f"401: bad key {secret}")
    store.record_step(step, [frame(1)])
    episode.error = f"failed with {secret}"
    store.finish_episode(episode)
    stored = store.get_run("run1")
    assert stored is not None
    assert stored.policy_config["api_key"] == "[redacted]"
    assert stored.policy_config["headers"]["Authorization"] == "[redacted]"
    assert "[redacted]" in (next(iter(store.steps("e"))).error or "")
    store.close()
    everything = backend.all_text()
    assert "[redacted]" in everything and "You play Crafter." in everything  # decompressed
    for leaked in (secret, "hunter2", "abcdefghijklmnop"):
        assert leaked not in everything


def test_queries_filter_with_indexes(backend: Backend) -> None:
    store = backend.open()
    store.create_run(make_run())
    store.create_run(make_run("run2", "run-two"))
    for i, (run_id, seed, status, ach) in enumerate(
        [
            ("run1", 0, "done", ["collect_wood"]),
            ("run1", 1, "done", ["collect_wood", "place_table"]),
            ("run1", 2, "failed", []),
            ("run2", 0, "done", ["place_table"]),
        ]
    ):
        ep = make_episode(f"e{i}", run_id, seed)
        store.start_episode(ep)
        for j, name in enumerate(ach):
            store.record_step(make_step(ep.id, j, frame(j), achievements=[name]), [frame(j)])
        ep.achievements = ach
        ep.steps = len(ach)
        ep.status = EpisodeStatus(status)
        store.finish_episode(ep)

    def ids(**kw):
        return [e.id for e in store.episodes(query=EpisodeQuery(**kw))]

    assert ids() == ["e0", "e1", "e2", "e3"]
    assert ids(run_ids=["run1"], statuses=["done"]) == ["e0", "e1"]
    assert ids(min_unique_achievements=2) == ["e1"]
    assert ids(achievements=["place_table"]) == ["e1", "e3"]
    assert ids(achievements=["place_table", "collect_wood"]) == ["e1"]
    assert ids(seeds=[0]) == ["e0", "e3"]
    assert ids(min_steps=1, limit=2) == ["e0", "e1"]
    assert ids(min_total_reward=0.0, statuses=["failed"]) == ["e2"]
    assert [e.id for e in store.episodes(["run2"])] == ["e3"]
    traces = list(store.traces(EpisodeQuery(statuses=["done"]), batch_size=2))
    assert [t.episode.id for t in traces] == ["e0", "e1", "e3"]
    assert [len(t.steps) for t in traces] == [1, 2, 1]
    assert traces[2].run.name == "run-two"
    assert traces[1].steps == list(store.steps("e1"))
    metrics = list(store.step_metrics(EpisodeQuery(episode_ids=["e1"])))
    assert [(m.episode_id, m.index) for m in metrics] == [("e1", 0), ("e1", 1)]
    assert metrics[0].prompt_tokens == 100 and metrics[1].invalid
    assert [r.id for r in store.runs()] == ["run1", "run2"]
    store.delete_episode("e1")
    assert ids(run_ids=["run1"]) == ["e0", "e2"]
    assert list(store.steps("e1")) == []
    store.close()


def _dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(proc.stdout.strip())


def _set_owner(backend: Backend, episode_id: str, owner: str) -> None:
    backend.execute("UPDATE episode SET owner = ? WHERE id = ?", (owner, episode_id))


def test_running_episodes_of_a_dead_process_become_interrupted(backend: Backend) -> None:
    store = backend.open()
    store.create_run(make_run())
    store.start_episode(make_episode("mine"))
    store.start_episode(make_episode("theirs", seed=1))
    store.start_episode(make_episode("elsewhere", seed=2))
    _set_owner(backend, "theirs", f"{socket.gethostname()}:{_dead_pid()}")
    _set_owner(backend, "elsewhere", f"another-host.example:{_dead_pid()}")  # cannot be told
    assert store.recover_interrupted() == 1
    assert store.get_episode("theirs").status == EpisodeStatus.interrupted
    assert store.get_episode("mine").status == EpisodeStatus.running  # this process is alive
    assert store.get_episode("elsewhere").status == EpisodeStatus.running
    store.close()


def test_schema_version_and_newer_databases_refused(backend: Backend) -> None:
    store = backend.open()
    assert store.applied_migrations == list(range(1, LATEST_VERSION + 1))
    store.close()
    assert backend.count("SELECT MAX(version) FROM schema_version") == LATEST_VERSION
    again = backend.open()  # re-opening applies nothing twice
    assert again.applied_migrations == []
    again.close()
    assert backend.count("SELECT COUNT(*) FROM schema_version") == LATEST_VERSION
    backend.execute("INSERT INTO schema_version VALUES (99, 'x', 'from the future')")
    with pytest.raises(VlmforgeError, match="newer"):
        backend.open()
    with pytest.raises(VlmforgeError, match="newer"):
        backend.open(read_only=True)


def test_another_applications_database_is_refused_untouched(backend: Backend) -> None:
    backend.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    for read_only in (False, True):
        with pytest.raises(ConfigError, match=r"not a vlmforge trace store.*invoices"):
            backend.open(read_only=read_only)
    tables = backend.query(
        "SELECT name FROM sqlite_master WHERE type = 'table'"
        if backend.name == "sqlite"
        else "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    )
    assert [t[0] for t in tables] == ["invoices"]


def test_read_only_writes_nothing(backend: Backend) -> None:
    store = backend.open()
    store.create_run(make_run())
    store.start_episode(make_episode("e"))  # running, owned by this live process
    store.record_step(make_step("e", 0, frame(1)), [frame(1)])
    store.close()
    before = backend.all_text()
    reader = backend.open(read_only=True)
    assert reader.applied_migrations == []
    assert [len(t.steps) for t in reader.traces()] == [1]
    with pytest.raises(ConfigError, match="read_only"):
        reader.create_run(make_run("run2", "run-two"))
    with pytest.raises(ConfigError, match="read_only"):
        reader.claim_episode(make_episode("f", seed=1))
    reader.close()
    assert backend.all_text() == before


# -- seed claims (what concurrent resumers rely on) --------------------------------------
def test_claim_episode_takes_a_free_seed_once(backend: Backend) -> None:
    store = backend.open()
    store.create_run(make_run())
    assert store.claim_episode(make_episode("a", seed=0)) is True
    assert store.claim_episode(make_episode("b", seed=0)) is False  # running, this live process
    done = make_episode("a", seed=0)
    done.status = EpisodeStatus.done
    store.finish_episode(done)
    assert store.claim_episode(make_episode("c", seed=0)) is False  # finished
    assert [e.id for e in store.episodes(["run1"])] == ["a"]
    store.close()


def test_claim_episode_replaces_an_interrupted_or_orphaned_attempt(backend: Backend) -> None:
    store = backend.open()
    store.create_run(make_run())
    assert store.claim_episode(make_episode("old", seed=0))
    store.record_step(make_step("old", 0, frame(1)), [frame(1)])
    stopped = Episode(id="old", run_id="run1", seed=0, status=EpisodeStatus.interrupted)
    store.finish_episode(stopped)
    assert store.claim_episode(make_episode("new", seed=0))
    assert [e.id for e in store.episodes(["run1"])] == ["new"]
    assert list(store.steps("old")) == []  # the earlier attempt's steps went with it
    # a running episode whose writer is gone (this host, dead pid) is taken over as well
    _set_owner(backend, "new", f"{socket.gethostname()}:{_dead_pid()}")
    assert store.claim_episode(make_episode("newer", seed=0))
    assert [e.id for e in store.episodes(["run1"])] == ["newer"]
    store.close()


def test_claim_episode_of_a_removed_run_is_a_clear_error(backend: Backend) -> None:
    store = backend.open()
    with pytest.raises(VlmforgeError, match="run1"):
        store.claim_episode(make_episode("a", seed=0))
    store.close()


def test_creating_a_taken_run_name_is_run_exists_error(backend: Backend) -> None:
    """What a second process creating the same run at once gets (``--resume`` continues it)."""
    first, second = backend.open(), backend.open()
    first.create_run(make_run())
    with pytest.raises(RunExistsError, match="run-one"):
        second.create_run(make_run(run_id="run2"))
    assert [r.id for r in second.runs()] == ["run1"]
    first.close()
    second.close()


# -- cleanup (vlmforge traces rm / gc) ----------------------------------------------------
def test_remove_run_and_collect_garbage(backend: Backend) -> None:
    store = backend.open()
    store.create_run(make_run())
    store.create_run(make_run("run2", "run-two"))
    for run_id, episode_id, shade in (("run1", "a", 1), ("run2", "b", 2)):
        episode = make_episode(episode_id, run_id)
        store.start_episode(episode)
        store.record_step(make_step(episode_id, 0, frame(shade)), [frame(shade)])
        store.record_step(make_step(episode_id, 1, frame(9)), [frame(9)])  # shared frame
        episode.status = EpisodeStatus.done
        store.finish_episode(episode)
    kept = list(store.traces(EpisodeQuery(run_ids=["run2"])))
    assert store.collect_garbage(dry_run=True).total() == 0
    removed = store.remove_run("run-one")
    assert (removed.runs, removed.episodes, removed.steps, removed.images) == (1, 1, 2, 1)
    assert removed.bytes_freed > 0
    assert list(store.traces()) == kept  # the other run exactly as it was
    assert store.image(frame(9).sha256) == frame(9).png
    with pytest.raises(CorruptTraceError):
        store.image(frame(1).sha256)
    # an interrupted attempt deleted by a claim leaves its frame behind: gc finds it
    store.start_episode(make_episode("c", "run2", seed=1))
    store.record_step(make_step("c", 0, frame(5)), [frame(5)])
    store.delete_episode("c")
    assert store.collect_garbage(dry_run=True).images == 1
    assert backend.count("SELECT COUNT(*) FROM image") == 3  # a dry run deletes nothing
    assert store.collect_garbage().images == 1
    assert backend.count("SELECT COUNT(*) FROM image") == 2
    assert list(store.traces()) == kept
    store.close()


def test_remove_run_refuses_a_run_a_live_process_plays(backend: Backend) -> None:
    store = backend.open()
    store.create_run(make_run())
    store.start_episode(make_episode("a"))
    with pytest.raises(VlmforgeError, match="running"):
        store.remove_run("run1")
    assert store.get_run("run1") is not None
    assert store.remove_run("run1", force=True).runs == 1
    store.close()


def test_compress_level_is_honoured(backend: Backend) -> None:
    sizes = {}
    for level in (0, 9):
        store = backend.open(compress_level=level)
        run_id = f"run{level}"
        store.create_run(make_run(run_id, f"run-{level}"))
        store.start_episode(make_episode(f"e{level}", run_id))
        step = make_step(f"e{level}", 0, frame(1), info={"long": "crafter " * 400})
        store.record_step(step, [frame(1)])
        assert next(iter(store.steps(f"e{level}"))) == step
        store.close()
        sizes[level] = backend.count(
            f"SELECT length(payload) FROM step WHERE episode_id = 'e{level}'"
        )
    assert sizes[0] > 3000 > 1000 > sizes[9]
