"""Dates as "3 March 2026", times in Europe/London, money from integer pence."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from portal.dates import end_of_london_day, parse_user_date, start_of_london_day
from portal.formatting import format_date, format_datetime, format_money, format_time


def test_dates_read_like_3_march_2026():
    assert format_date(date(2026, 3, 3)) == "3 March 2026"
    assert format_date(None) == ""


def test_times_are_shown_in_london_time_across_daylight_saving():
    assert format_datetime(datetime(2026, 1, 15, 14, 5, tzinfo=UTC)) == "15 January 2026 at 2:05pm"
    assert format_datetime(datetime(2026, 7, 15, 14, 0, tzinfo=UTC)) == "15 July 2026 at 3pm"  # BST
    assert format_time(datetime(2026, 7, 14, 23, 30, tzinfo=UTC)) == "12:30am"
    assert format_time(datetime(2026, 1, 14, 12, 0, tzinfo=UTC)) == "midday"
    # Just before midnight UTC in summer is already the next day in London.
    assert format_date(datetime(2026, 6, 30, 23, 30, tzinfo=UTC)) == "1 July 2026"


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        format_datetime(datetime(2026, 1, 1, 9, 0))


@pytest.mark.parametrize(
    ("pence", "shown"),
    [(0, "£0.00"), (5, "£0.05"), (123456, "£1,234.56"), (-1250, "-£12.50"), (Decimal("1999.5"), "£20.00")],
)
def test_money_is_shown_in_pounds_from_pence(pence, shown):
    assert format_money(pence) == shown


def test_money_refuses_floats():
    with pytest.raises(TypeError):
        format_money(12.5)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("3/3/2026", date(2026, 3, 3)),
        ("03-03-2026", date(2026, 3, 3)),
        ("2026-03-03", date(2026, 3, 3)),
        ("31/2/2026", None),
        ("tomorrow", None),
        ("", None),
    ],
)
def test_dates_people_type_are_read_or_refused(typed, expected):
    assert parse_user_date(typed) == expected


def test_london_days_start_at_the_right_utc_moment():
    assert start_of_london_day(date(2026, 7, 1)) == datetime(2026, 6, 30, 23, 0, tzinfo=UTC)
    assert start_of_london_day(date(2026, 1, 1)) == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    assert end_of_london_day(date(2026, 3, 28)) == datetime(2026, 3, 29, 0, 0, tzinfo=UTC)
