"""SLA clocks count England and Wales working days: no weekends, no bank holidays."""

from datetime import date

import pytest

from portal.working_days import add_working_days, is_working_day, working_days_between


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (date(2026, 11, 20), 2, date(2026, 11, 24)),  # Friday + 2 → Tuesday
        (date(2026, 11, 21), 2, date(2026, 11, 24)),  # Saturday + 2 → Tuesday
        (date(2026, 11, 23), 0, date(2026, 11, 23)),
        (date(2026, 12, 23), 2, date(2026, 12, 29)),  # Christmas Day and Boxing Day (substitute Monday 28th)
        (date(2026, 4, 2), 1, date(2026, 4, 7)),  # Good Friday 3 April and Easter Monday 6 April 2026
        (date(2026, 5, 22), 1, date(2026, 5, 26)),  # spring bank holiday Monday 25 May 2026
    ],
)
def test_adding_working_days(start, days, due):
    assert add_working_days(start, days) == due


def test_bank_holidays_and_weekends_are_not_working_days():
    assert not is_working_day(date(2026, 12, 25))
    assert not is_working_day(date(2026, 11, 22))  # Sunday
    assert is_working_day(date(2026, 11, 23))


def test_working_days_between_counts_days_after_the_start_up_to_the_end():
    assert working_days_between(date(2026, 11, 20), date(2026, 11, 24)) == 2
    assert working_days_between(date(2026, 11, 24), date(2026, 11, 20)) == 0


def test_negative_days_are_a_programming_error():
    with pytest.raises(ValueError):
        add_working_days(date(2026, 1, 1), -1)
