"""Calendar helpers: reading dates people type, and UTC bounds of London days."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from portal.formatting import LONDON

DAY_MONTH_YEAR = re.compile(r"^\s*(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})\s*$")
ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})\s*$")


def parse_user_date(text: str | None) -> date | None:
    """'3/3/2026', '03-03-2026' or '2026-03-03' as a date; None if it is not a real date."""
    if not text:
        return None
    if match := DAY_MONTH_YEAR.match(text):
        day, month, year = (int(part) for part in match.groups())
    elif match := ISO_DATE.match(text):
        year, month, day = (int(part) for part in match.groups())
    else:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def london_today() -> date:
    """Today's date in England: the day SLA clocks and "future date" checks count from."""
    return datetime.now(UTC).astimezone(LONDON).date()


def financial_year_start(day: date) -> date:
    """1 April of the financial year `day` falls in (the UK public sector's year runs April to March)."""
    return date(day.year if day.month >= 4 else day.year - 1, 4, 1)


def london_date(moment: datetime) -> date:
    return moment.astimezone(LONDON).date()


def start_of_london_day(day: date) -> datetime:
    """The UTC moment a London calendar day begins (so BST days start at 23:00 UTC the day before)."""
    return datetime.combine(day, time.min, tzinfo=LONDON).astimezone(UTC)


def end_of_london_day(day: date) -> datetime:
    return start_of_london_day(day + timedelta(days=1))
