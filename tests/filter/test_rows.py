"""Rows: what the model saw and said, metadata, dedupe, episodes as conversations, limits."""

from __future__ import annotations

import base64
import hashlib
import json

from tests.filter.openai_format import validate_example
from tests.filter.run import export, read_jsonl
from vlmforge.dataset.config import RowsConfig
from vlmforge.dataset.rows import example_length
from vlmforge.trace import Message


def _by_step(rows):
    return {(r["metadata"]["episode"], r["metadata"]["step"]): r for r in rows}


def test_step_rows_are_the_prompt_and_the_reply(crafted_db, tmp_path):
    stats = export([crafted_db], tmp_path / "out", val_fraction=0.0, dedupe=False)
    rows = _by_step(read_jsonl(tmp_path / "out" / "train.jsonl"))
    # every step with a usable reply is one row; bad-decisions' empty and missing replies are not
    assert stats.rows.empty_reply == 1 and stats.rows.no_reply == 1
    assert len(rows) == sum([12, 6, 4, 15, 10, 8, 5, 2, 3, 3]) - 2
    row = rows[("good", 5)]
    system, user, assistant = row["messages"]
    assert system == {"role": "system", "content": "You play Crafter. Call interact_many."}
    assert user["role"] == "user"
    assert user["content"][0] == {"type": "text", "text": "good step 5"}
    url = user["content"][1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    png = base64.b64decode(url.split(",", 1)[1])
    from tests.filter.builders import png as make_png

    assert hashlib.sha256(png).hexdigest() == make_png(5).sha256
    assert assistant["content"] is None
    assert assistant["tool_calls"] == [
        {
            "id": "call_5",
            "type": "function",
            "function": {
                "name": "interact_many",
                "arguments": json.dumps({"actions": ["move_left"]}),
            },
        }
    ]
    assert row["tools"][0]["function"]["name"] == "interact_many"
    md = row["metadata"]
    assert md["run"] == "run-crafted" and md["run_name"] == "crafted"
    assert md["model"] == "tiny-vlm" and md["seed"] == 1 and md["step"] == 5
    assert md["reward"] == 1.0 and md["achievements"] == ["collect_wood"]
    assert md["episode_total_reward"] == 2.0
    assert md["episode_achievements"] == ["collect_wood", "place_table"]
    assert md["episode_unique_achievements"] == 2 and md["episode_steps"] == 12
    assert md["has_image"] and md["user_has_image"] and not md["assistant_has_image"]
    assert md["source"] == str(crafted_db)
    text_only = rows[("no-image", 0)]["metadata"]
    assert not text_only["has_image"] and not text_only["user_has_image"]
    assert rows[("good", 4)]["metadata"]["reward"] == 0.0
    # a reply whose calls were parsed from its text is kept verbatim (the text)
    parsed = rows[("bad-decisions", 5)]["messages"][-1]
    assert parsed["content"].startswith("<tool_call>") and "tool_calls" not in parsed


def test_assistant_tool_calls_mode(crafted_db, tmp_path):
    export(
        [crafted_db],
        tmp_path / "out",
        val_fraction=0.0,
        filters=[{"name": "select", "seeds": [6]}],
        rows={"assistant": "tool_calls"},
    )
    rows = _by_step(read_jsonl(tmp_path / "out" / "train.jsonl"))
    # steps without an executed call (2, 3, 4) have nothing to train on; the rest are structured
    assert sorted(s for _, s in rows) == [0, 1, 5, 6, 7]
    parsed = rows[("bad-decisions", 5)]["messages"][-1]
    assert parsed["content"] is None
    assert json.loads(parsed["tool_calls"][0]["function"]["arguments"]) == {"actions": ["move_up"]}


def test_include_tools_false(crafted_db, tmp_path):
    export([crafted_db], tmp_path / "out", val_fraction=0.0, rows={"include_tools": False})
    assert all("tools" not in r for r in read_jsonl(tmp_path / "out" / "train.jsonl"))


def test_dedupe(crafted_db, tmp_path):
    on = export([crafted_db], tmp_path / "on", val_fraction=0.0)
    off = export([crafted_db], tmp_path / "off", val_fraction=0.0, dedupe=False)
    # dup-b repeats dup-a's (frame, text, action) three times
    assert on.dedupe_removed == 3 and off.dedupe_removed == 0
    assert on.train_rows == off.train_rows - 3
    rows = read_jsonl(tmp_path / "on" / "train.jsonl")
    assert {r["metadata"]["episode"] for r in rows if r["metadata"]["seed"] in (9, 10)} == {"dup-a"}
    assert json.loads((tmp_path / "on" / "filter_stats.json").read_text())["dedupe"] == {
        "removed": 3
    }


def test_episode_rows_respect_max_images(crafted_db, tmp_path):
    stats = export(
        [crafted_db],
        tmp_path / "out",
        val_fraction=0.0,
        filters=[{"name": "select", "seeds": [1]}],
        rows={"mode": "episode", "max_images": 4},
    )
    rows = sorted(read_jsonl(tmp_path / "out" / "train.jsonl"), key=lambda r: r["metadata"]["step"])
    assert stats.train_rows == 3  # 12 steps, 4 frames per conversation
    assert [(r["metadata"]["step"], r["metadata"]["step_end"]) for r in rows] == [
        (0, 3),
        (4, 7),
        (8, 11),
    ]
    for row in rows:
        assert validate_example(row) == []
        roles = [m["role"] for m in row["messages"]]
        assert roles == ["system"] + ["user", "assistant", "tool"] * 3 + ["user", "assistant"]
        assert row["metadata"]["num_images"] == 4
    second = rows[1]
    assert second["metadata"]["reward"] == 1.0 and second["metadata"]["achievements"] == [
        "collect_wood"
    ]
    tool = json.loads(rows[0]["messages"][3]["content"])
    assert tool == {"actions": ["move_left"], "reward": 0.0, "achievements": []}
    assert rows[0]["messages"][3]["tool_call_id"] == "call_0"


def test_episode_rows_truncate_and_no_tool_results(crafted_db, tmp_path):
    stats = export(
        [crafted_db],
        tmp_path / "out",
        val_fraction=0.0,
        filters=[{"name": "select", "seeds": [1]}],
        rows={"mode": "episode", "max_images": 5, "overflow": "truncate", "tool_results": False},
    )
    rows = read_jsonl(tmp_path / "out" / "train.jsonl")
    assert len(rows) == 1 and stats.rows.truncated_steps == 7
    assert [m["role"] for m in rows[0]["messages"]].count("tool") == 0
    assert rows[0]["metadata"]["num_steps"] == 5


def test_max_sequence_length_never_cuts_an_image(crafted_db, tmp_path):
    cfg = RowsConfig(mode="episode", max_sequence_length=250)
    stats = export(
        [crafted_db],
        tmp_path / "out",
        val_fraction=0.0,
        filters=[{"name": "select", "seeds": [1]}],
        rows=cfg.model_dump(),
    )
    rows = read_jsonl(tmp_path / "out" / "train.jsonl")
    assert stats.train_rows == len(rows) > 1
    steps = sorted(
        s for r in rows for s in range(r["metadata"]["step"], r["metadata"]["step_end"] + 1)
    )
    assert steps == list(range(12))  # split, not lost
    for row in rows:
        messages = [_stored(m) for m in row["messages"]]
        assert example_length(messages, cfg) <= 250
        user_images = [
            p
            for m in row["messages"]
            if m["role"] == "user"
            for p in m["content"]
            if p["type"] == "image_url"
        ]
        assert len(user_images) == row["metadata"]["num_images"]


def _stored(m: dict) -> Message:
    """An exported OpenAI message back in stored form (images as a placeholder hash)."""
    content = m.get("content")
    if isinstance(content, list):
        content = [
            {"type": "text", "text": p["text"]}
            if p["type"] == "text"
            else {"type": "image", "sha256": "x"}
            for p in content
        ]
    return Message.model_validate({**m, "content": content})


def test_step_rows_too_long_are_counted(crafted_db, tmp_path):
    # one 8x8 frame counts 85 tokens: every row with an image is over 100
    stats = export(
        [crafted_db], tmp_path / "out", val_fraction=0.0, rows={"max_sequence_length": 100}
    )
    rows = read_jsonl(tmp_path / "out" / "train.jsonl")
    assert {r["metadata"]["episode"] for r in rows} == {"no-image"}
    assert stats.rows.too_long == 68 - 2 - 5  # steps with a reply and an image
    smaller = export(
        [crafted_db],
        tmp_path / "out2",
        val_fraction=0.0,
        rows={"max_sequence_length": 100, "image_tokens": 10, "chars_per_token": 1.0},
    )
    assert smaller.rows.too_long > 0 and smaller.train_rows != stats.train_rows


def test_step_rows_drop_oldest_history_turns_to_fit():
    """A prompt with history loses whole turns from the front, never part of one."""
    from vlmforge.components import EpisodeTrace
    from vlmforge.dataset.rows import RowBuilder
    from vlmforge.trace import Episode, ImagePart, Run, Step, StepObservation, TextPart

    def user(n: int) -> Message:
        return Message(role="user", content=[TextPart(text=f"obs {n}"), ImagePart(sha256=f"{n}")])

    def reply(n: int) -> Message:
        return Message(role="assistant", content=f"act {n}")

    prompt = [Message(role="system", content="sys")]
    for n in range(3):
        prompt += [user(n), reply(n)]
    prompt.append(user(3))
    step = Step(
        episode_id="e", index=0, observation=StepObservation(), prompt=prompt, reply=reply(3)
    )
    run = Run(id="r", name="r", vlmforge_version="0", env_name="e", policy_name="p")
    item = EpisodeTrace(run, Episode(id="e", run_id="r", seed=0), [step])
    builder = RowBuilder(RowsConfig(max_images=2))
    (example,) = builder.examples(item, "db")
    assert [m.text() for m in example.messages] == ["sys", "obs 2", "act 2", "obs 3", "act 3"]
    assert RowBuilder(RowsConfig(max_images=4)).examples(item, "db").__next__().messages == [
        *prompt,
        reply(3),
    ]
    tight = RowBuilder(RowsConfig(max_images=2, max_sequence_length=3, image_tokens=1))
    assert list(tight.examples(item, "db")) == [] and tight.counts.too_long == 1
    none = RowBuilder(RowsConfig(max_images=1))
    prompt2 = [
        *prompt[:-1],
        Message(role="user", content=[ImagePart(sha256="a"), ImagePart(sha256="b")]),
    ]
    item.steps = [step.model_copy(update={"prompt": prompt2})]
    assert list(none.examples(item, "db")) == [] and none.counts.too_many_images == 1
