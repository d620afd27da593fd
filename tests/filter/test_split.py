"""The train/validation split is by episode, seeded, optionally stratified; rows are shuffled."""

from __future__ import annotations

from collections import Counter

from tests.filter.run import export, read_jsonl
from vlmforge.dataset.split import row_order, validation_episodes


def _episodes(path):
    return {r["metadata"]["episode"] for r in read_jsonl(path)}


def test_split_never_shares_an_episode(crafted_db, random_db, tmp_path):
    stats = export([crafted_db, random_db], tmp_path / "out", val_fraction=0.3, seed=3)
    train, val = _episodes(tmp_path / "out/train.jsonl"), _episodes(tmp_path / "out/val.jsonl")
    assert train and val and not train & val
    assert stats.train_episodes == len(train) and stats.val_episodes == len(val)
    kept = stats.train_episodes + stats.val_episodes
    assert stats.val_episodes == round(kept * 0.3)
    # every row of a validation episode is in val
    rows = read_jsonl(tmp_path / "out/train.jsonl") + read_jsonl(tmp_path / "out/val.jsonl")
    assert len(rows) == stats.train_rows + stats.val_rows


def test_split_and_shuffle_are_seeded(crafted_db, tmp_path):
    a = export([crafted_db], tmp_path / "a", val_fraction=0.3, seed=7)
    b = export([crafted_db], tmp_path / "b", val_fraction=0.3, seed=7)
    for name in ("train.jsonl", "val.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert a.as_dict()["train"] == b.as_dict()["train"]
    splits = {
        seed: _episodes(tmp_path / f"s{seed}/val.jsonl")
        for seed in range(6)
        if export([crafted_db], tmp_path / f"s{seed}", val_fraction=0.3, seed=seed)
    }
    assert len({frozenset(v) for v in splits.values()}) > 1  # the seed changes the split


def test_identical_traces_split_the_same_way(tmp_path):
    """The split keys on (run, seed), not on the random episode ids: a second recording of the
    same seeds puts the same seeds in validation (by chance: 1 in 70)."""
    from tests.filter.builders import record_random_eval

    first_db, again = tmp_path / "first.db", tmp_path / "again.db"
    for db in (first_db, again):
        record_random_eval(db, seeds="0-7", max_steps=8)

    def val_seeds(db, out):
        export([db], out, val_fraction=0.5, seed=11)
        return {r["metadata"]["seed"] for r in read_jsonl(out / "val.jsonl")}

    first = val_seeds(first_db, tmp_path / "a")
    assert len(first) == 4
    assert val_seeds(again, tmp_path / "b") == first
    ids = {r["metadata"]["episode"] for r in read_jsonl(tmp_path / "a/val.jsonl")}
    assert not ids & {r["metadata"]["episode"] for r in read_jsonl(tmp_path / "b/val.jsonl")}


def test_shuffle_false_keeps_store_order(crafted_db, tmp_path):
    export([crafted_db], tmp_path / "out", val_fraction=0.0, shuffle=False, dedupe=False)
    rows = read_jsonl(tmp_path / "out/train.jsonl")
    good = [r["metadata"]["step"] for r in rows if r["metadata"]["episode"] == "good"]
    assert good == list(range(12))
    export([crafted_db], tmp_path / "shuf", val_fraction=0.0, shuffle=True, dedupe=False)
    shuffled = read_jsonl(tmp_path / "shuf/train.jsonl")
    assert [r["metadata"] for r in shuffled] != [r["metadata"] for r in rows]
    assert sorted(map(repr, shuffled)) == sorted(map(repr, rows))


def test_stratified_split_keeps_achievement_mix():
    keys = [f"e{i}" for i in range(40)]
    strata = [0] * 30 + [3] * 10
    val = validation_episodes(keys, strata, 0.2, seed=1, stratify=True)
    assert len(val) == 8
    assert Counter(strata[i] for i in val) == {0: 6, 3: 2}
    # without stratification the mix is whatever the shuffle gives, same size
    assert len(validation_episodes(keys, strata, 0.2, seed=1)) == 8


def test_split_edge_cases():
    assert validation_episodes([], [], 0.5, 0) == set()
    assert validation_episodes(["a"], [0], 0.5, 0) == set()  # never all episodes
    assert len(validation_episodes(["a", "b"], [0, 0], 0.01, 0)) == 1  # at least one
    assert validation_episodes(["a", "b"], [0, 0], 0.0, 0) == set()
    # independent of the order the episodes were read in
    keys = [f"e{i}" for i in range(20)]
    val = {keys[i] for i in validation_episodes(keys, [0] * 20, 0.25, 5)}
    rev = keys[::-1]
    assert {rev[i] for i in validation_episodes(rev, [0] * 20, 0.25, 5)} == val
    assert sorted(row_order(50, 1, True)) == list(range(50))
    assert list(row_order(5, 1, False)) == [0, 1, 2, 3, 4]


def test_stratify_from_config(crafted_db, tmp_path):
    stats = export([crafted_db], tmp_path / "out", val_fraction=0.5, stratify=True, seed=0)
    val = read_jsonl(tmp_path / "out/val.jsonl")
    train = read_jsonl(tmp_path / "out/train.jsonl")
    # 9 kept episodes with rows: 7 with no achievement, 1 with one, 1 with two
    assert stats.train_episodes + stats.val_episodes == 9

    def by_stratum(rows):
        return Counter(
            {
                r["metadata"]["episode"]: r["metadata"]["episode_unique_achievements"] for r in rows
            }.values()
        )

    assert by_stratum(val)[0] in (3, 4) and by_stratum(train)[0] in (3, 4)


def test_feistel_permutation_is_a_seeded_permutation():
    from vlmforge.dataset.split import FeistelPermutation

    for n in (0, 1, 2, 3, 17, 1000, 4097):
        perm = FeistelPermutation(n, seed=3)
        assert sorted(perm) == list(range(n))
    a, b = list(FeistelPermutation(500, 1)), list(FeistelPermutation(500, 2))
    assert a != b and a == list(FeistelPermutation(500, 1))
    assert a != list(range(500))
    # well mixed: few elements stay near their place
    assert sum(abs(v - i) < 5 for i, v in enumerate(a)) < 25


def test_on_disk_dedupe_matches_the_in_memory_one(tmp_path):
    from vlmforge.dataset.dedupe import Deduper

    keys = [bytes([i % 7]) * 8 for i in range(100)]
    disk, memory = Deduper(True, tmp_path / "d.sqlite"), Deduper(True)
    assert [disk.seen(k) for k in keys] == [memory.seen(k) for k in keys]
    assert disk.removed == memory.removed == 93
    off = Deduper(False, tmp_path / "off.sqlite")
    assert not any(off.seen(k) for k in keys) and off.removed == 0
    disk.close()
