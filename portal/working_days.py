"""England and Wales working days: weekends and bank holidays skipped, for the SLA clocks.

Uses govuk-bank-holidays' bundled copy of GOV.UK's list, never the network.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from govuk_bank_holidays.bank_holidays import BankHolidays

DIVISION = BankHolidays.ENGLAND_AND_WALES


@lru_cache(maxsize=1)
def _calendar() -> BankHolidays:
    return BankHolidays(use_cached_holidays=True)


@lru_cache(maxsize=4096)
def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and not _calendar().is_holiday(day, division=DIVISION)


def add_working_days(start: date, days: int) -> date:
    """The date `days` working days after `start` (`start` itself is not counted).

    A referral sent on Friday with 2 working days to answer is due on Tuesday; sent on
    Saturday, also Tuesday.
    """
    if days < 0:
        raise ValueError("days must not be negative")
    current = start
    remaining = days
    while remaining:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (0 if `end` is not after `start`)."""
    count = 0
    current = start
    while current < end:
        current += timedelta(days=1)
        if is_working_day(current):
            count += 1
    return count


OPENING, CLOSING = time(9), time(17)


def add_working_hours(start: datetime, hours: int) -> datetime:
    """The moment `hours` working hours after `start`: hours from 09:00 to 17:00 (Europe/London) on
    working days. A concern raised at 16:00 on a Friday with 4 hours is due at 12:00 on Monday (or
    Tuesday after a bank holiday); one raised at 20:00 counts from 09:00 on the next working day."""
    from portal.formatting import LONDON

    if hours < 0:
        raise ValueError("hours must not be negative")
    remaining = timedelta(hours=hours)
    cursor = start.astimezone(LONDON)
    while True:
        day = cursor.date()
        opening = datetime.combine(day, OPENING, tzinfo=LONDON)
        closing = datetime.combine(day, CLOSING, tzinfo=LONDON)
        if is_working_day(day) and cursor < closing:
            cursor = max(cursor, opening)
            available = closing - cursor
            if remaining <= available:
                return (cursor + remaining).astimezone(UTC)
            remaining -= available
        cursor = datetime.combine(day + timedelta(days=1), OPENING, tzinfo=LONDON)
