import pytest

from kameng.core.money import apply_percent, format_yuan, parse_yuan, round_half_up, yuan_str


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (5, 10, 1),
        (4, 10, 0),
        (15, 10, 2),
        (25, 10, 3),
        (-25, 10, -3),
        (169915, 100, 1699),
        (169950, 100, 1700),
    ],
)
def test_round_half_up_rounds_halves_away_from_zero(numerator, denominator, expected):
    assert round_half_up(numerator, denominator) == expected


def test_round_half_up_refuses_a_zero_denominator():
    with pytest.raises(ValueError):
        round_half_up(1, 0)


def test_vip_price_of_85_percent_rounds_once_half_up():
    assert apply_percent(1999, 85) == 1699  # 1699.15
    assert apply_percent(1990, 85) == 1692  # 1691.5 rounds up, never banker's rounding


def test_yuan_formatting_is_exact_and_never_uses_float():
    assert format_yuan(123456789) == "¥1,234,567.89"
    assert format_yuan(-5) == "-¥0.05"
    assert yuan_str(2880) == "28.80"


@pytest.mark.parametrize(("text", "fen"), [("28.80", 2880), ("28.8", 2880), ("0.01", 1), ("100", 10000)])
def test_parse_yuan(text, fen):
    assert parse_yuan(text) == fen


@pytest.mark.parametrize("text", ["1.234", "abc", "", "1e3", "1.2.3", " . "])
def test_parse_yuan_refuses_anything_but_a_plain_amount(text):
    with pytest.raises(ValueError):
        parse_yuan(text)
