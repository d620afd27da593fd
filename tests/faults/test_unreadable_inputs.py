"""Input files that are not UTF-8 text give one clear error naming the file and line, not a
``UnicodeDecodeError`` traceback (issue 17, item 4): ``--env-file`` (a config input: exit 2),
``train --dataset`` (a bad row: exit 1, like a row that is not JSON) and
``models tiny --tokenizer-corpus``."""

from __future__ import annotations

from pathlib import Path

import pytest

SECRET = "sk-test-0123456789abcdef"
GOOD = b'{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}'


def test_env_file_not_utf8_names_file_and_line(tmp_path: Path, cli) -> None:
    env = tmp_path / "keys.env"
    env.write_bytes(b"# keys\nOTHER=1\nOPENAI_API_KEY=" + SECRET.encode() + b"\xff\xfe\n")
    result = cli("--env-file", str(env), "plugins")
    assert result.returncode == 2
    assert f"--env-file '{env}', line 3, column 40: not UTF-8 text" in result.stderr
    assert "Traceback" not in result.stderr and "UnicodeDecodeError" not in result.stderr
    assert SECRET not in result.stderr + result.stdout


def _dataset(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_bytes(data)
    (tmp_path / "model").mkdir()  # the model is checked for existence, never loaded
    return path


@pytest.mark.train
def test_train_on_a_binary_dataset_names_file_and_line(tmp_path: Path, cli) -> None:
    good = GOOD
    path = _dataset(tmp_path, good + b"\n\n" + b"\x89PNG\r\n\x1a\n\x00\xff" + b"\n")
    result = cli(
        "train", "--trainer", "sft", "--model", str(tmp_path / "model"),
        "--dataset", str(path), "--output-dir", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert f"{path}:3: not UTF-8 text" in result.stderr
    assert "Traceback" not in result.stderr and "UnicodeDecodeError" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.train
def test_a_binary_dataset_row_is_skipped_and_counted_with_skip_bad_rows(tmp_path: Path) -> None:
    from vlmforge_hf.sft.data import read_dataset

    good = GOOD
    path = _dataset(tmp_path, good + b"\n\xff\xfe\n" + good + b"\n")
    examples, stats = read_dataset(path, skip_bad_rows=True)
    assert len(examples) == 2 and stats.rows == 3 and stats.skipped == 1
    assert "train.jsonl:2: not UTF-8 text" in stats.skipped_reasons[0]


@pytest.mark.train
def test_tokenizer_corpus_not_utf8_names_file_and_line(tmp_path: Path, cli) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(b"hello\n\xc3\x28\n")
    result = cli("models", "tiny", "--out", str(tmp_path / "m"), "--tokenizer-corpus", str(corpus))
    assert result.returncode == 2
    assert f"tokenizer corpus '{corpus}', line 2, column 1: not UTF-8 text" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "m").exists()
