"""``vlmforge filter -o KEY=VALUE``: any filter-config key from the command line."""

from __future__ import annotations

import json


def test_set_options_are_honoured(crafted_db, tmp_path, cli):
    cfg = tmp_path / "f.toml"
    cfg.write_text('[[filters]]\nname = "min-steps"\nmin_steps = 2\n')
    result = cli(
        "filter", "--config", str(cfg), "--trace-db", str(crafted_db),
        "--output-dir", str(tmp_path / "out"), "--no-progress", "--json",
        "-o", "filters.0.min_steps=10", "-o", "val_fraction=0", "-o", "rows.mode=episode",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["settings"]["filters"][0] == {"name": "min-steps", "min_steps": 10}
    assert stats["settings"]["rows"]["mode"] == "episode" and stats["val"]["episodes"] == 0
    assert cfg.read_text() == '[[filters]]\nname = "min-steps"\nmin_steps = 2\n'


def test_a_bad_filter_setting_names_the_flag(crafted_db, tmp_path, cli):
    cfg = tmp_path / "f.toml"
    cfg.write_text('[[filters]]\nname = "min-steps"\nmin_steps = 2\n')
    result = cli(
        "filter", "--config", str(cfg), "--trace-db", str(crafted_db),
        "--output-dir", str(tmp_path / "out"), "-o", "filters.0.min_stepz=3",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "--set filters.0.min_stepz: unknown key" in result.stderr
    assert "Did you mean 'min_steps'?" in result.stderr
