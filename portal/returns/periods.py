"""Reporting periods: a calendar month ("2026-05") or a calendar quarter ("2026-Q2" is April to
June 2026), the period before it, the financial year to date (from 1 April) and the months a
chart shows. Plain date arithmetic, no database."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
QUARTER = re.compile(r"^(\d{4})-Q([1-4])$", re.IGNORECASE)
MONTHS_CHARTED = 12


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
        last = add_months(self.start, self.months - 1)
        return last.replace(day=calendar.monthrange(last.year, last.month)[1])

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


def add_months(day: date, months: int) -> date:
    """The first day of the month `months` after `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def parse_period(value: object) -> Period | None:
    """ "2026-05" as May 2026, "2026-Q2" as April to June 2026; None if it is neither."""
    text = str(value or "").strip()
    if match := MONTH.match(text):
        year, month = int(match.group(1)), int(match.group(2))
        return Period(PeriodKind.MONTH, date(year, month, 1)) if 1 <= month <= 12 and year >= 2000 else None
    if match := QUARTER.match(text):
        year, quarter = int(match.group(1)), int(match.group(2))
        return Period(PeriodKind.QUARTER, date(year, 3 * quarter - 2, 1)) if year >= 2000 else None
    return None


def period_of(kind: PeriodKind | str, start: date) -> Period:
    return Period(PeriodKind(kind), start)


def month_label(month: date) -> str:
    return f"{month:%b %Y}"
