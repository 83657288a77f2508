"""Durations, sizes, token counts and costs as people write them."""

import pytest

from fleet_tui.config import parse_cost, parse_duration, parse_size, parse_tokens


@pytest.mark.parametrize("text, seconds", [
    ("90s", 90), ("30m", 1800), ("1h30m", 5400), ("2h", 7200), (45, 45), ("45", 45), ("1.5h", 5400),
    ("250ms", 0.25), ("1h 5m 3s", 3903),
])
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text, size", [
    ("512MB", 512_000_000), ("2GiB", 2 * 1024**3), ("2G", 2 * 1024**3), ("2GB", 2_000_000_000),
    (4096, 4096), ("100", 100), ("1.5KiB", 1536),
])
def test_sizes(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text, tokens", [("200k", 200_000), ("1.5M", 1_500_000), (5000, 5000), ("42", 42)])
def test_tokens(text, tokens):
    assert parse_tokens(text) == tokens


@pytest.mark.parametrize("text, dollars", [(5, 5.0), ("5", 5.0), ("$5.00", 5.0), (0.25, 0.25), ("$ 12.5", 12.5)])
def test_costs(text, dollars):
    assert parse_cost(text) == dollars


@pytest.mark.parametrize("parse, bad, hint", [
    (parse_duration, "30 minutes", "try 30m"), (parse_duration, "soon", "try 30m"),
    (parse_duration, -5, "negative"), (parse_duration, True, "not a duration"),
    (parse_size, "2 bananas", "try 512MB"), (parse_size, "2i", "try 512MB"),
    (parse_tokens, "lots", "try 200k"), (parse_cost, "5 EUR", "US dollars"),
])
def test_bad_values_say_what_is_expected(parse, bad, hint):
    with pytest.raises(ValueError, match=hint):
        parse(bad)
