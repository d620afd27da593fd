import pytest

from vlmforge.errors import ConfigError
from vlmforge.seeds import format_seeds, parse_seeds


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("0-3", [0, 1, 2, 3]),
        ("0,3,5-7", [0, 3, 5, 6, 7]),
        (" 4 ", [4]),
        (7, [7]),
        ([1, "3-4", 9], [1, 3, 4, 9]),
        ("5-5", [5]),
    ],
)
def test_parse_seeds(spec, expected):
    assert parse_seeds(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty"),
        ([], "empty"),
        ("9-3", "reversed; write '3-9'"),
        ("a-b", "not a seed"),
        ("1,,2", "empty item"),
        ("-3", "not a seed"),
        (-1, "negative"),
        ("1,2,1", "more than once"),
        (True, "expected a seed spec"),
        ([1.5], "not a seed"),
    ],
)
def test_parse_seeds_rejects(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_seeds(spec)


def test_format_seeds_round_trips():
    seeds = [0, 1, 2, 3, 7, 9, 10]
    assert format_seeds(seeds) == "0-3,7,9-10"
    assert parse_seeds(format_seeds(seeds)) == seeds
