"""Pure parsing rules: money is exact, dates follow the configured day order, nothing is guessed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ltv_pipeline.lib import sql_parsing as sp

CONN = duckdb.connect()


def evaluate(sql_of, value: str | None):
    return CONN.execute(
        f"SELECT {sql_of(sp.clean_text_sql('v'))} FROM (SELECT ?::VARCHAR AS v)", [value]
    ).fetchone()[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$1,234.50", Decimal("1234.50")),
        ("1234.5", Decimal("1234.50")),
        ("-$5.00", Decimal("-5.00")),
        ("($5.00)", Decimal("-5.00")),
        ("$-5", Decimal("-5.00")),
        ("€12", Decimal("12.00")),
        ("£1,000,000.00", Decimal("1000000.00")),
        ("12 USD", Decimal("12.00")),
        ("USD 12.00", Decimal("12.00")),
        ("  $0.00 ", Decimal("0.00")),
        ("$.50", Decimal("0.50")),
        ("12.500", Decimal("12.50")),
    ],
)
def test_money_parses_exactly(text: str, expected: Decimal) -> None:
    value = evaluate(sp.money_sql, text)
    assert isinstance(value, Decimal)
    assert value == expected


@pytest.mark.parametrize(
    "text",
    [
        "abc",
        "1,23.00",
        "12,50",
        "1.005",
        "--5",
        "(-5)",
        "$",
        "1.2.3",
        "5-",
        "$10,000,000,000,000,000.00",  # beyond DECIMAL(18,2): refused, never an error
        "123456789012345678901234567890.00",
    ],
)
def test_money_rejects_what_it_cannot_read_exactly(text: str) -> None:
    assert evaluate(sp.money_sql, text) is None


@given(cents=st.integers(min_value=-(10**12), max_value=10**12))
def test_money_round_trips_every_amount_formatted_like_samcart(cents: int) -> None:
    amount = Decimal(cents) / 100
    text = f"${abs(amount):,.2f}"
    if amount < 0:
        text = "-" + text
    assert evaluate(sp.money_sql, text) == amount


MONEY_TEXT = st.text(alphabet="$€-(),.0123456789 USD", max_size=14)


@given(text=MONEY_TEXT)
def test_money_fast_paths_agree_with_the_full_pattern(text: str) -> None:
    """The cheap paths for `$47.00` and `$1,497.00` are shortcuts, never other rules."""
    assert evaluate(sp.money_sql, text) == evaluate(sp._money_full_sql, text)


@given(text=st.text(alphabet="aAzZ09._+-@ \t\u00a0", max_size=12))
def test_email_fast_path_agrees_with_trimming_and_folding(text: str) -> None:
    def slow(expr: str) -> str:
        folded = f"lower(trim({expr}, {sp.WHITESPACE}))"
        return f"CASE WHEN regexp_full_match({folded}, '[^@\\s]+@[^@\\s]+') THEN {folded} END"

    assert evaluate(sp.email_sql, text) == evaluate(slow, text)


def timestamp(text: str, order: str = "MDY"):
    return CONN.execute(
        f"SELECT {sp.timestamp_sql('v', order)} FROM (SELECT ?::VARCHAR AS v)", [text]
    ).fetchone()[0]


def test_dates_follow_the_configured_day_order() -> None:
    assert timestamp("03/04/2024", "MDY") == dt.datetime(2024, 3, 4)
    assert timestamp("03/04/2024", "DMY") == dt.datetime(2024, 4, 3)
    assert timestamp("2024/03/04", "YMD") == dt.datetime(2024, 3, 4)


def test_iso_dates_and_times_are_always_understood() -> None:
    assert timestamp("2024-01-10") == dt.datetime(2024, 1, 10)
    assert timestamp("2024-01-10T10:00:00Z") == dt.datetime(2024, 1, 10, 10)
    assert timestamp("01/10/2024 10:00:00") == dt.datetime(2024, 1, 10, 10)
    assert timestamp("03/14/2024 9:26 AM") == dt.datetime(2024, 3, 14, 9, 26)


@pytest.mark.parametrize("text", ["02/30/2024", "13/01/2024", "01/05/24", "yesterday", "1/1/1889"])
def test_impossible_or_ambiguous_dates_are_never_guessed(text: str) -> None:
    assert timestamp(text) is None


def test_email_is_trimmed_and_case_folded() -> None:
    assert evaluate(sp.email_sql, " Ada.Lovelace@Example.com\u00a0") == "ada.lovelace@example.com"
    assert evaluate(sp.email_sql, "not-an-email") is None
    assert evaluate(sp.email_sql, "a@b@c") is None


def test_integers_are_whole_non_negative_numbers() -> None:
    assert evaluate(sp.integer_sql, "1,200") == 1200
    assert evaluate(sp.integer_sql, "2.5") is None
    assert evaluate(sp.integer_sql, "-1") is None


def test_vocabulary_matches_spellings_case_and_punctuation_insensitively() -> None:
    spellings = {"canceled": "canceled", "cancelled": "canceled", "active": "active"}
    assert evaluate(lambda e: sp.vocabulary_sql(e, spellings), "  CANCELLED ") == "canceled"
    assert evaluate(lambda e: sp.vocabulary_sql(e, spellings), "Paused") is None


def test_empty_cells_are_null_not_errors() -> None:
    assert evaluate(sp.money_sql, "   ") is None
    assert evaluate(lambda e: e, " \t") is None
