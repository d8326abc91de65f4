"""The calendar, in one place: today and the London day of a moment, the UTC bounds of a London day,
dates people type, month arithmetic, and reporting periods (a month, "2026-05", or a quarter,
"2026-Q2") with the period before, the financial year to date and the months a chart shows.
Plain date arithmetic, no database."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache

from portal.formatting import LONDON

DAY_MONTH_YEAR = re.compile(r"^\s*(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})\s*$")
ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})\s*$")
MONTH = re.compile(r"^(\d{4})-(\d{2})$")
QUARTER = re.compile(r"^(\d{4})-Q([1-4])$", re.IGNORECASE)
MONTHS_CHARTED = 12


# --- days ------------------------------------------------------------------------------------------


# Every date people give (a birth, a session, a price, a payment) lies between these: anything
# outside is a slip of the keyboard (9999-12-31), and date arithmetic past year 9999 fails.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2099, 12, 31)
OUTSIDE_BOUNDS = "must be between 1 January 1900 and 31 December 2099"
EARLIEST_PERIOD_YEAR = 2000  # invoices, returns and dashboards: the portal holds nothing earlier


def within_bounds(day: date) -> bool:
    return EARLIEST_DATE <= day <= LATEST_DATE


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
        parsed = date(year, month, day)
    except ValueError:
        return None
    return parsed if within_bounds(parsed) else None


def london_today() -> date:
    """Today's date in England: the day SLA clocks and "future date" checks count from."""
    return datetime.now(UTC).astimezone(LONDON).date()


def financial_year_start(day: date) -> date:
    """1 April of the financial year `day` falls in (the UK public sector's year runs April to March)."""
    return date(day.year if day.month >= 4 else day.year - 1, 4, 1)


def london_day(moment: datetime | None) -> date | None:
    """The London calendar day of an aware moment (None for None). London's offset from UTC is a
    whole number of hours and changes on the hour, so the answer depends only on the UTC day and
    hour: cached by those, as figures ask it of every row of a year."""
    if moment is None:
        return None
    return _london_day_of_hour(moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0, tzinfo=None))


@lru_cache(maxsize=65_536)
def _london_day_of_hour(hour: datetime) -> date:
    return hour.replace(tzinfo=UTC).astimezone(LONDON).date()


def start_of_london_day(day: date) -> datetime:
    """The UTC moment a London calendar day begins (so BST days start at 23:00 UTC the day before)."""
    return datetime.combine(day, time.min, tzinfo=LONDON).astimezone(UTC)


def end_of_london_day(day: date) -> datetime:
    return start_of_london_day(day + timedelta(days=1))


# --- months ----------------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The first day of the month `months` after `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_end(day: date) -> date:
    """The last day of `day`'s month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def months_between(first: date, last: date) -> list[date]:
    """First days of every month from `first`'s month to `last`'s month inclusive."""
    months = []
    current = first.replace(day=1)
    while current <= last:
        months.append(current)
        current = add_months(current, 1)
    return months


def _period_year(year: int) -> bool:
    """Invoices, returns and dashboards hold nothing before 2000, and no period after 2099 (the
    probe's /dashboard/?period=9999-Q4 broke the charts' month arithmetic near year 9999)."""
    return EARLIEST_PERIOD_YEAR <= year <= LATEST_DATE.year


def parse_month(value: object) -> date | None:
    """ "2026-03" (or a date) as the first day of that month; None if it is not a month."""
    if isinstance(value, date):
        return value.replace(day=1)
    match = MONTH.match(str(value or "").strip())
    if not match:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    return date(year, month, 1) if 1 <= month <= 12 and _period_year(year) else None


def month_label(month: date) -> str:
    return f"{month:%b %Y}"


# --- reporting periods -----------------------------------------------------------------------------


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"

    @property
    def label(self) -> str:
        return {"month": "Monthly", "quarter": "Quarterly"}[self.value]


@dataclass(frozen=True)
class Window:
    """An inclusive range of calendar days."""

    start: date
    end: date

    def __contains__(self, day: object) -> bool:
        return day is not None and self.start <= day <= self.end  # type: ignore[operator]

    def as_json(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    start: date

    @property
    def end(self) -> date:
        return month_end(add_months(self.start, self.months - 1))

    @property
    def months(self) -> int:
        return 3 if self.kind == PeriodKind.QUARTER else 1

    @property
    def window(self) -> Window:
        return Window(self.start, self.end)

    @property
    def code(self) -> str:
        """ "2026-05" or "2026-Q2": how URLs, files and the API name the period."""
        if self.kind == PeriodKind.QUARTER:
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start:%Y-%m}"

    @property
    def label(self) -> str:
        """ "May 2026" or "April to June 2026"."""
        if self.kind == PeriodKind.QUARTER:
            return f"{self.start:%B} to {self.end:%B %Y}"
        return f"{self.start:%B %Y}"

    def previous(self) -> Period:
        return Period(self.kind, add_months(self.start, -self.months))

    def following(self) -> Period:
        return Period(self.kind, add_months(self.start, self.months))

    def year_to_date(self, contract_start: date | None = None) -> Window:
        """From the 1 April on or before the period's start (the financial year), or the
        contract's start if later, to the period's end."""
        year = self.start.year if self.start.month >= 4 else self.start.year - 1
        start = date(year, 4, 1)
        if contract_start is not None and contract_start > start:
            start = contract_start
        return Window(start, self.end)

    def charted_months(self, contract_start: date | None = None) -> list[date]:
        """First days of up to 12 months ending with the period's last month, none before the contract."""
        last = add_months(self.start, self.months - 1)
        months = [add_months(last, -offset) for offset in range(MONTHS_CHARTED - 1, -1, -1)]
        if contract_start is not None:
            months = [month for month in months if month >= contract_start.replace(day=1)] or [last]
        return months


def quarter_of(day: date) -> Period:
    """The calendar quarter holding `day` (the dashboard's default period)."""
    return Period(PeriodKind.QUARTER, day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1))


def parse_period(value: object) -> Period | None:
    """ "2026-05" as May 2026, "2026-Q2" as April to June 2026; None if it is neither."""
    text = str(value or "").strip()
    if match := MONTH.match(text):
        year, month = int(match.group(1)), int(match.group(2))
        return Period(PeriodKind.MONTH, date(year, month, 1)) if 1 <= month <= 12 and _period_year(year) else None
    if match := QUARTER.match(text):
        year, quarter = int(match.group(1)), int(match.group(2))
        return Period(PeriodKind.QUARTER, date(year, 3 * quarter - 2, 1)) if _period_year(year) else None
    return None
