"""The money kernel: fen ↔ yuan exactly, the page format, the yuan form field."""

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from retail.money import (
    MAX_FEN,
    MAX_YUAN,
    YuanField,
    fen_to_yuan,
    yuan,
    yuan_input,
    yuan_short,
    yuan_to_fen,
)


@pytest.mark.parametrize(
    ("fen", "text"),
    [(0, "0.00"), (1, "0.01"), (5, "0.05"), (29900, "299.00"), (-5, "-0.05"), (-1234, "-12.34")],
)
def test_fen_to_yuan_is_exact_with_two_decimals(fen, text):
    amount = fen_to_yuan(fen)
    assert isinstance(amount, Decimal) and str(amount) == text


def test_fen_to_yuan_keeps_none_and_refuses_floats():
    assert fen_to_yuan(None) is None
    with pytest.raises(TypeError):
        fen_to_yuan(12.5)


def test_yuan_input_is_the_text_a_field_shows():
    assert (yuan_input(29900), yuan_input(-5), yuan_input(0), yuan_input(None)) == (
        "299.00",
        "-0.05",
        "0.00",
        "",
    )


def test_big_amounts_convert_exactly_both_ways():
    big = 10**30 + 7  # past Decimal's default 28 digits of precision
    assert str(fen_to_yuan(big)) == "10000000000000000000000000000.07"
    assert yuan_to_fen(fen_to_yuan(big)) == big
    assert yuan(big) == "¥10,000,000,000,000,000,000,000,000,000.07"
    assert fen_to_yuan(MAX_FEN) == MAX_YUAN


@pytest.mark.parametrize(
    ("value", "fen"),
    [
        (Decimal("299.00"), 29900),
        ("59.9", 5990),
        (" 0.01 ", 1),
        (Decimal("-12.34"), -1234),
        (7, 700),
        (Decimal("0.005"), 0),  # finer than a fen: to the nearest, half to even
        (Decimal("0.015"), 2),
        (Decimal("0.0151"), 2),
    ],
)
def test_yuan_to_fen(value, fen):
    assert yuan_to_fen(value) == fen


@pytest.mark.parametrize("value", ["abc", "", "NaN", "Infinity", Decimal("NaN")])
def test_yuan_to_fen_refuses_what_is_not_an_amount(value):
    with pytest.raises(ValueError):
        yuan_to_fen(value)


def test_yuan_to_fen_refuses_floats():
    with pytest.raises(TypeError):
        yuan_to_fen(0.1)


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (0, "¥0.00"),
        (5, "¥0.05"),
        (1234, "¥12.34"),
        (123456, "¥1,234.56"),
        (-300, "-¥3.00"),
        (-5, "-¥0.05"),
        ("1234", "¥12.34"),
        (Decimal("100"), "¥1.00"),
        (None, "—"),
        ("", "—"),
        ("abc", "—"),
    ],
)
def test_yuan_for_pages(fen, text):
    assert yuan(fen) == text


def test_yuan_short_drops_zero_fen_only():
    assert yuan_short(120000) == "¥1,200"
    assert yuan_short(120050) == "¥1,200.50"
    assert yuan_short(None) == "—"


def test_template_filter():
    html = Template("{% load money %}{{ a|yuan }} {{ b|yuan }} {{ c|yuan }}").render(
        Context({"a": 123456, "b": -5, "c": None})
    )
    assert html == "¥1,234.56 -¥0.05 —"


# --- the form field ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "fen"),
    [("299", 29900), ("299.00", 29900), ("¥1,299.5", 129950), ("￥0.01", 1), (" 8.88 ", 888), ("0", 0)],
)
def test_yuan_field_cleans_to_fen(typed, fen):
    assert YuanField().clean(typed) == fen


def test_yuan_field_empty_is_none_when_optional():
    assert YuanField(required=False).clean("") is None


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("abc", "invalid"),
        ("1e5", "invalid"),
        ("NaN", "invalid"),
        ("inf", "invalid"),
        ("1.234", "max_decimal_places"),
        ("-1", "min_value"),
        ("100000000.01", "max_value"),
    ],
)
def test_yuan_field_bad_input(typed, code):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        YuanField().clean(typed)
    assert exc.value.error_list[0].code == code


def test_yuan_field_limits_in_fen_and_own_messages():
    from django.core.exceptions import ValidationError

    field = YuanField(min_fen=1, max_fen=10_000, error_messages={"min_value": "at least a fen"})
    assert field.clean("100") == 10_000
    with pytest.raises(ValidationError) as exc:
        field.clean("0")
    assert exc.value.messages == ["at least a fen"]
    with pytest.raises(ValidationError) as exc:
        field.clean("100.01")
    assert exc.value.error_list[0].code == "max_value"
    with translation.override("en"):
        assert str(YuanField().error_messages["invalid"]) == "Enter an amount in yuan, e.g. 299.00."
