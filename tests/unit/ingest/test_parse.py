"""Tests of crm_core.ingest.parse. Expected values are worked out by hand from the input."""

from __future__ import annotations

from datetime import date, datetime, timezone

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_core.ingest.parse import (
    ParseResult,
    clean_text,
    deal_status_from_stage,
    parse_bool,
    parse_dates,
    parse_deal_status,
    parse_integer,
    parse_money,
    parse_number,
    parse_transaction_status,
)


def col(*values, dtype=None) -> pl.Series:
    return pl.Series("raw", list(values), dtype=dtype, strict=False)


# ---------------------------------------------------------------------------------------------
# Money
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cells", "expected", "currencies"),
    [
        (["$1,234.50", "$12,400.00", "USD 1,234.50", "12"], [1234.5, 12400.0, 1234.5, 12.0], {"USD"}),
        (["1.234,50 €", "€1.234,50", "1 234,50", "EUR 12", "0,5"], [1234.5, 1234.5, 1234.5, 12.0, 0.5], {"EUR"}),
        (["CHF 1'234.50", "1’000.25"], [1234.5, 1000.25], {"CHF"}),
        (["£3.50", "¥1,200", "₹99.99", "US$5.00"], [3.5, 1200.0, 99.99, 5.0], {"GBP", "JPY", "INR", "USD"}),
        (["(12.00)", "-12.50", "12.25-", "-$3.10", "$-3.10", "−4.00"], [-12.0, -12.5, -12.25, -3.1, -3.1, -4.0], {"USD"}),
        (["12 usd", "7.5 EUR"], [12.0, 7.5], {"USD", "EUR"}),
    ],
)
def test_money_formats(cells, expected, currencies):
    result = parse_money(col(*cells))
    assert result.values.to_list() == pytest.approx(expected)
    assert result.bad_rows == []
    assert result.currencies == currencies


def test_money_empty_cells_are_null_not_bad():
    result = parse_money(col("", "   ", "-", None, "n/a", "12.50"))
    assert result.values.to_list() == [None, None, None, None, None, 12.5]
    assert result.bad_rows == []


def test_money_comma_with_three_digits_is_thousands_by_default():
    result = parse_money(col("42,000", "1,500", "12"))
    assert result.values.to_list() == [42000.0, 1500.0, 12.0]
    assert not result.ambiguous
    assert "'42,000'" in result.note and "thousands" in result.note


def test_money_one_eu_value_decides_the_whole_column():
    # "12,5" can only be a decimal comma, so "42,000" is 42 (per column, not per row)
    result = parse_money(col("42,000", "12,5"))
    assert result.values.to_list() == [42.0, 12.5]
    assert "'12,5'" in result.note


def test_money_dot_with_three_digits_is_eu_thousands():
    result = parse_money(col("1.234", "5.000 €"))
    assert result.values.to_list() == [1234.0, 5000.0]


def test_money_one_us_value_decides_dot_with_three_digits():
    result = parse_money(col("1.234", "12.50"))
    assert result.values.to_list() == [1.234, 12.5]


def test_money_repeated_separator_is_thousands():
    assert parse_money(col("1.234.567")).values.to_list() == [1234567.0]
    assert parse_money(col("1,234,567")).values.to_list() == [1234567.0]


def test_money_mixed_styles_majority_wins_and_others_are_bad():
    result = parse_money(col("12.50", "abc", "", "1.234,50", "3.25"))
    assert result.values.to_list() == [12.5, None, None, None, 3.25]
    assert result.bad_rows == [1, 3]
    assert "both styles" in result.note
    assert not result.ambiguous


def test_money_tied_styles_are_ambiguous():
    result = parse_money(col("12.50", "12,50"))
    assert result.ambiguous
    assert result.values.to_list() == [12.5, None]
    assert result.bad_rows == [1]


def test_money_bad_rows_and_their_currency_is_ignored():
    result = parse_money(col("$12.00", "abc 12", "12abc", "1,2,3.4.5", "€"))
    assert result.values.to_list() == [12.0, None, None, None, None]
    assert result.bad_rows == [1, 2, 3, 4]
    assert result.currencies == {"USD"}


def test_money_mixed_currencies_are_all_reported():
    assert parse_money(col("$12", "€5", "GBP 3")).currencies == {"USD", "EUR", "GBP"}


def test_money_decimal_argument_forces_the_separator():
    forced_comma = parse_money(col("1.234", "42,000"), decimal=",")
    assert forced_comma.values.to_list() == [1234.0, 42.0]
    forced_dot = parse_money(col("1,5", "1.234,50"), decimal=".")
    assert forced_dot.values.to_list() == [None, None]
    assert forced_dot.bad_rows == [0, 1]
    assert "as chosen" in forced_dot.note


def test_money_rejects_unknown_decimal_argument():
    with pytest.raises(ValueError, match="decimal"):
        parse_money(col("1"), decimal=";")


def test_money_typed_input_passes_through():
    floats = parse_money(col(1234.5, None, float("nan"), dtype=pl.Float64))
    assert floats.values.to_list() == [1234.5, None, None]
    assert floats.bad_rows == []
    ints = parse_money(col(3, 4, dtype=pl.Int64))
    assert ints.values.dtype == pl.Float64
    assert ints.values.to_list() == [3.0, 4.0]


def test_money_keeps_name_and_length():
    result = parse_money(pl.Series("Amount", ["1", None, "x"]))
    assert result.values.name == "Amount"
    assert result.values.dtype == pl.Float64
    assert len(result.values) == 3


def _us(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) / 100:,.2f}"


def _eu(cents: int) -> str:
    us = f"{abs(cents) / 100:,.2f}"
    sign = "-" if cents < 0 else ""
    return sign + us.translate(str.maketrans(",.", ".,")) + " €"


@given(st.lists(st.integers(min_value=-10**13, max_value=10**13), min_size=1, max_size=30))
def test_money_us_and_eu_strings_round_trip_to_the_cent(cents):
    expected = [c / 100 for c in cents]
    us = parse_money(pl.Series([_us(c) for c in cents]))
    eu = parse_money(pl.Series([_eu(c) for c in cents]))
    assert us.bad_rows == [] and eu.bad_rows == []
    assert us.values.to_list() == pytest.approx(expected, abs=0.005)
    assert eu.values.to_list() == pytest.approx(expected, abs=0.005)
    assert us.currencies == {"USD"} and eu.currencies == {"EUR"}


# ---------------------------------------------------------------------------------------------
# Numbers and integers
# ---------------------------------------------------------------------------------------------


def test_number_uses_money_separator_rules_without_currency():
    result = parse_number(col("1.5", "2", "1,234.25", "$3", "30 EUR"))
    assert result.values.to_list() == [1.5, 2.0, 1234.25, None, None]
    assert result.bad_rows == [3, 4]
    assert result.currencies == set()
    assert parse_number(col("2,5", "10")).values.to_list() == [2.5, 10.0]


def test_integer_from_text():
    result = parse_integer(col("9", "9.0", "abc", "11", "9.5", "", "0", "10"), bounds=(0, 10))
    assert result.values.dtype == pl.Int64
    assert result.values.to_list() == [9, 9, None, None, None, None, 0, 10]
    assert result.bad_rows == [2, 3, 4]


def test_integer_from_floats_with_bounds_inclusive():
    result = parse_integer(col(9.0, 1.0, 5.0, 6.0, None, float("nan"), 2.5, dtype=pl.Float64), bounds=(1, 5))
    assert result.values.to_list() == [None, 1, 5, None, None, None, None]
    assert result.bad_rows == [0, 3, 6]


def test_integer_without_bounds_and_eu_decimal():
    assert parse_integer(col("1,000", "-3")).values.to_list() == [1000, -3]
    assert parse_integer(col("10,0", "7")).values.to_list() == [10, 7]


# ---------------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------------


def test_iso_dates_with_times_and_offsets():
    result = parse_dates(
        col(
            "2024-03-05",
            "2024-03-05T10:20:00Z",
            "2024-03-05 10:20:00",
            "2024-03-05 10:20",  # HubSpot
            "2024-03-05 10:20:00 -0500",  # Shopify
            "2024-03-05T10:20:00.123+02:00",
            "2024/03/05",
        )
    )
    assert result.values.to_list() == [
        datetime(2024, 3, 5),
        datetime(2024, 3, 5, 10, 20),
        datetime(2024, 3, 5, 10, 20),
        datetime(2024, 3, 5, 10, 20),
        datetime(2024, 3, 5, 15, 20),
        datetime(2024, 3, 5, 8, 20, 0, 123000),
        datetime(2024, 3, 5),
    ]
    assert result.values.dtype == pl.Datetime("us")
    assert result.bad_rows == []
    assert "ISO" in result.note and "UTC" in result.note


def test_us_dates_with_am_pm():
    result = parse_dates(col("03/05/2024", "3/5/24", "03/05/2024 10:20 AM", "12/31/2024 12:05 PM", "1/1/24 12:00 AM"))
    assert result.values.to_list() == [
        datetime(2024, 3, 5),
        datetime(2024, 3, 5),
        datetime(2024, 3, 5, 10, 20),
        datetime(2024, 12, 31, 12, 5),
        datetime(2024, 1, 1, 0, 0),
    ]
    assert not result.ambiguous
    assert "month/day/year" in result.note and "'12/31/2024 12:05 PM'" in result.note


def test_eu_dates_with_dots_and_dashes():
    result = parse_dates(col("05.03.2024", "5-3-2024", "25.12.2023 18:30"))
    assert result.values.to_list() == [datetime(2024, 3, 5), datetime(2024, 3, 5), datetime(2023, 12, 25, 18, 30)]
    assert "day/month/year" in result.note


def test_day_month_order_is_decided_per_column():
    result = parse_dates(col("01/02/2024", "13/02/2024"))
    assert result.values.to_list() == [datetime(2024, 2, 1), datetime(2024, 2, 13)]
    assert not result.ambiguous
    assert "(EU)" in result.note
    us = parse_dates(col("01/02/2024", "02/13/2024"))
    assert us.values.to_list() == [datetime(2024, 1, 2), datetime(2024, 2, 13)]


def test_rows_the_chosen_order_cannot_read_are_bad():
    result = parse_dates(col("13/02/2024", "14/02/2024", "02/13/2024", "", "soon", "31/04/2024"))
    assert result.values.to_list() == [datetime(2024, 2, 13), datetime(2024, 2, 14), None, None, None, None]
    assert result.bad_rows == [2, 4, 5]


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["01/02/2024", "03/04/2024"], [datetime(2024, 1, 2), datetime(2024, 3, 4)]),  # slashes: month first
        (["01.02.2024", "03.04.2024"], [datetime(2024, 2, 1), datetime(2024, 4, 3)]),  # dots: day first
    ],
)
def test_ambiguous_day_month_is_flagged(cells, expected):
    result = parse_dates(col(*cells))
    assert result.ambiguous
    assert result.values.to_list() == expected
    assert "please check" in result.note


def test_dayfirst_resolves_ambiguity():
    day_first = parse_dates(col("01/02/2024", "03/04/2024"), dayfirst=True)
    assert day_first.values.to_list() == [datetime(2024, 2, 1), datetime(2024, 4, 3)]
    assert not day_first.ambiguous
    month_first = parse_dates(col("01.02.2024"), dayfirst=False)
    assert month_first.values.to_list() == [datetime(2024, 1, 2)]


def test_month_names():
    result = parse_dates(
        col("Mar 5, 2024", "05 Mar 2024", "March 5, 2024 10:20 AM", "5-Mar-24", "Tue, 05 Mar 2024 10:20:00 +0100", "Foo 5, 2024")
    )
    assert result.values.to_list() == [
        datetime(2024, 3, 5),
        datetime(2024, 3, 5),
        datetime(2024, 3, 5, 10, 20),
        datetime(2024, 3, 5),
        datetime(2024, 3, 5, 9, 20),
        None,
    ]
    assert result.bad_rows == [5]


def test_excel_serials_as_text_and_numbers():
    assert parse_dates(col("45292", "45292.5")).values.to_list() == [datetime(2024, 1, 1), datetime(2024, 1, 1, 12)]
    numbers = parse_dates(col(45292, 45292.25, 5, None, dtype=pl.Float64))
    assert numbers.values.to_list() == [datetime(2024, 1, 1), datetime(2024, 1, 1, 6), None, None]
    assert numbers.bad_rows == [2]
    assert "Excel" in numbers.note
    assert parse_dates(col(45292, dtype=pl.Int64)).values.to_list() == [datetime(2024, 1, 1)]


def test_two_digit_years_pivot_at_70():
    result = parse_dates(col("1/2/69", "1/2/70"))
    assert result.values.to_list() == [datetime(2069, 1, 2), datetime(1970, 1, 2)]


def test_impossible_dates_and_times_are_bad():
    result = parse_dates(col("2024-02-30", "2024-02-29", "2024-01-01 25:00", "2024-01-01 13:00 PM"))
    assert result.values.to_list() == [None, datetime(2024, 2, 29), None, None]
    assert result.bad_rows == [0, 2, 3]


def test_format_with_most_values_wins():
    result = parse_dates(col("2024-03-05", "2024-03-06", "03/07/2024"))
    assert result.values.to_list() == [datetime(2024, 3, 5), datetime(2024, 3, 6), None]
    assert result.bad_rows == [2]


def test_empty_and_unreadable_date_columns():
    empty = parse_dates(col("", None, " "))
    assert empty.values.null_count() == 3 and empty.bad_rows == [] and empty.note is None
    garbage = parse_dates(col("soon", "later"))
    assert garbage.bad_rows == [0, 1]
    assert garbage.values.dtype == pl.Datetime("us")


def test_typed_dates_pass_through():
    assert parse_dates(col(date(2024, 1, 1))).values.to_list() == [datetime(2024, 1, 1)]
    aware = pl.Series([datetime(2024, 1, 1, 5, tzinfo=timezone.utc)]).dt.convert_time_zone("America/New_York")
    result = parse_dates(aware)
    assert result.values.dtype == pl.Datetime("us")
    assert result.values.to_list() == [datetime(2024, 1, 1, 5)]
    ms = pl.Series([datetime(2024, 1, 1, 5)], dtype=pl.Datetime("ms"))
    assert parse_dates(ms).values.dtype == pl.Datetime("us")


# ---------------------------------------------------------------------------------------------
# Statuses and booleans
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("paid", "completed"),
        ("Pending", "completed"),
        ("authorized", "completed"),
        ("partially_paid", "completed"),
        ("refunded", "refunded"),
        ("partially_refunded", "refunded"),
        ("voided", "cancelled"),
        (" Completed ", "completed"),
        ("complete", "completed"),
        ("closed", "completed"),
        ("FULFILLED", "completed"),
        ("shipped", "completed"),
        ("delivered", "completed"),
        ("success", "completed"),
        ("refund", "refunded"),
        ("Returned", "refunded"),
        ("return", "refunded"),
        ("cancelled", "cancelled"),
        ("Canceled", "cancelled"),
        ("void", "cancelled"),
    ],
)
def test_transaction_status_words(word, status):
    assert parse_transaction_status(col(word)).values.to_list() == [status]


def test_transaction_status_unknown_is_bad_and_empty_is_null():
    result = parse_transaction_status(col("paid", "on hold", "", None, "refunded"))
    assert result.values.to_list() == ["completed", None, None, None, "refunded"]
    assert result.bad_rows == [1]


def test_deal_status_words():
    result = parse_deal_status(
        col("won", "Closed Won", "closedwon", "Win", "lost", "Closed Lost", "closed - lost", "lose", "open",
            "In Progress", "Gewonnen", "Verloren", "Gagné", "Perdu", "Ganado", "Perdido", "Prospecting", "")
    )  # fmt: skip
    assert result.values.to_list() == [
        "won", "won", "won", "won", "lost", "lost", "lost", "lost", "open",
        "open", "won", "lost", "won", "lost", "won", "lost", None, None,
    ]  # fmt: skip
    assert result.bad_rows == [16]


def test_deal_status_from_stage_is_never_bad():
    result = deal_status_from_stage(
        col("Closed Won", "closedwon", "Closed Lost", "Closed - Lost", "closedlost", "Gewonnen", "Verloren",
            "Gagné", "Perdu", "Ganado", "Perdido", "Prospecting", "Qualification", "Negotiation/Review",
            "appointmentscheduled", "Wonderful pitch", None, "")
    )  # fmt: skip
    assert result.values.to_list() == [
        "won", "won", "lost", "lost", "lost", "won", "lost",
        "won", "lost", "won", "lost", "open", "open", "open",
        "open", "open", None, None,
    ]  # fmt: skip
    assert result.bad_rows == []


def test_bool_words_numbers_and_booleans():
    words = parse_bool(col("Yes", "no", "TRUE", "false", "y", "N", "1", "0", "x", "1.0", "maybe", ""))
    assert words.values.to_list() == [True, False, True, False, True, False, True, False, True, True, None, None]
    assert words.bad_rows == [10]
    numbers = parse_bool(col(1, 0, 2, None, dtype=pl.Int64))
    assert numbers.values.to_list() == [True, False, None, None]
    assert numbers.bad_rows == [2]
    booleans = parse_bool(col(True, None, dtype=pl.Boolean))
    assert booleans.values.to_list() == [True, None] and booleans.bad_rows == []


# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------


def test_clean_text():
    assert clean_text(col(" Ada ", "", "   ", None, "B  c")).to_list() == ["Ada", None, None, None, "B  c"]
    assert clean_text(col(123.0, 1.5, float("nan"), None, dtype=pl.Float64)).to_list() == ["123", "1.5", None, None]
    assert clean_text(col(42, dtype=pl.Int64)).to_list() == ["42"]
    assert clean_text(col(" - ")).to_list() == ["-"]  # placeholders are text, not empty


def test_parse_result_defaults():
    result = ParseResult(pl.Series([1.0]), [])
    assert result.note is None and not result.ambiguous and result.currencies == set()


def test_unambiguous_forms_mix_with_the_column_format():
    # Zoho exports can hold "Mar 5, 2024" beside "2024-03-12": both read one way only.
    r = parse_dates(pl.Series(["Mar 5, 2024", "2024-03-12", "Apr 1, 2024", "not a date"]))
    assert r.values.to_list()[:3] == [datetime(2024, 3, 5), datetime(2024, 3, 12), datetime(2024, 4, 1)]
    assert r.bad_rows == [3]
    assert "year-month-day" in r.note


def test_day_month_order_is_still_decided_once_per_column():
    # 13/02 proves day-first; 02/03 is then March 2nd, never February 3rd, even beside ISO rows.
    r = parse_dates(pl.Series(["13/02/2024", "02/03/2024", "2024-01-31"]))
    assert r.values.to_list() == [datetime(2024, 2, 13), datetime(2024, 3, 2), datetime(2024, 1, 31)]
