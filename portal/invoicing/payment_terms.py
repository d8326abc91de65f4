"""When an invoice may be raised and how promptly it was paid: the month's last working day, the
payment clock (stopped while an invoice is queried), days to pay and paid late, each defined once
here for the operations, the pages and the figures alike.

Days are calendar days, as payment terms are. An invoice is received on the London day it was
first submitted; it falls due `payment_terms_days` later, plus every day it was held in query.
Days to pay are received to paid, less the days held; it was paid late if paid after its due date
(the same thing: more days to pay than the terms). "Within 30 days" is the public-sector rule that
a prime contractor pays valid, undisputed invoices of its supply chain within 30 days (Public
Contracts Regulations 2015, regulation 113, which puts the term in each public contract and
requires it to be passed down every subcontract; Procurement Policy Note 08/21 made it a test of
bidding for contracts over £5 million).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from portal.dates import month_end
from portal.working_days import is_working_day

# Public Contracts Regulations 2015, reg. 113: valid and undisputed invoices paid within 30 days.
PROMPT_PAYMENT_DAYS = 30


def last_working_day(month_start: date) -> date:
    """The month's last working day in England and Wales (weekends and bank holidays skipped)."""
    day = month_end(month_start)
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day


def invoiced_early(period_start: date, today: date) -> bool:
    """True if invoicing the month starting `period_start` on `today` is before its last working day
    (the month is still running), which needs a recorded reason."""
    return today < last_working_day(period_start)


def days_to_pay(received_on: date, paid_on: date, days_held: int) -> int:
    """Days from receipt to payment, the days held in query left out (never below zero)."""
    return max(0, (paid_on - received_on).days - max(0, days_held))


def within_terms(days: int, terms: int) -> bool:
    return days <= terms


def within_prompt_payment(days: int) -> bool:
    return days <= PROMPT_PAYMENT_DAYS


def paid_figures(rows: Iterable[tuple[int, bool]]) -> PaymentFigures:
    """The figures of paid invoices given as (days to pay, paid late): the one definition the
    service returns use over their plain rows; portal.invoicing.prompt_payment counts the same in SQL."""
    result = PaymentFigures()
    for days, late in rows:
        result = result + PaymentFigures(
            paid=1, late=int(bool(late)), within_30=int(within_prompt_payment(days)), days_total=days, longest=days
        )
    return result


@dataclass(frozen=True)
class PaymentFigures:
    """Paid invoices of one group (a partner, a contract, a month, or all of them)."""

    paid: int = 0
    late: int = 0
    within_30: int = 0
    days_total: int = 0
    longest: int = 0

    @property
    def within_terms(self) -> int:
        return self.paid - self.late

    @property
    def within_terms_share(self) -> dict[str, int]:
        """n/d, as portal.returns.kpis shows percentages."""
        return {"n": self.within_terms, "d": self.paid}

    @property
    def within_30_share(self) -> dict[str, int]:
        return {"n": self.within_30, "d": self.paid}

    @property
    def within_terms_text(self) -> str:
        from portal.returns.kpis import percent_text  # shown as every percentage of the figures is

        return percent_text(self.within_terms_share)

    @property
    def within_30_text(self) -> str:
        from portal.returns.kpis import percent_text

        return percent_text(self.within_30_share)

    @property
    def average_days(self) -> Decimal | None:
        if not self.paid:
            return None
        return (Decimal(self.days_total) / self.paid).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    def __add__(self, other: PaymentFigures) -> PaymentFigures:
        return PaymentFigures(
            paid=self.paid + other.paid,
            late=self.late + other.late,
            within_30=self.within_30 + other.within_30,
            days_total=self.days_total + other.days_total,
            longest=max(self.longest, other.longest),
        )
