"""How promptly the CRC pays its partners: paid invoices counted in SQL by partner, contract and
the month they were paid, with the share paid within terms and within 30 days.

The figures (each invoice's `days_to_pay` and `paid_late` are stored when it is marked paid, by
portal.invoicing.payment_terms):
- Paid: invoices (not credit notes) paid in the month.
- Paid late: of those, paid after their due date (due dates move on by the days held in query).
- Within terms: paid on or before the due date, as a share of those paid.
- Within 30 days: paid within 30 days of receipt, less days held in query, as a share of those paid
  (the public contracts rule for primes paying their supply chain: see payment_terms).
- Average days to pay: the mean of days to pay, to one decimal place.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, case, func, select

from portal.contracts.models import Contract
from portal.extensions import db
from portal.invoicing.models import Invoice, InvoiceKind, InvoiceStatus
from portal.invoicing.payment_terms import PROMPT_PAYMENT_DAYS, PaymentFigures
from portal.organisations.models import Organisation


def total(rows: Iterable[PaymentFigures]) -> PaymentFigures:
    result = PaymentFigures()
    for row in rows:
        result = result + row
    return result


@dataclass(frozen=True)
class PaymentRow(PaymentFigures):
    partner: str = ""
    contract: str = ""
    month: date | None = None


def _month(column: Any) -> ColumnElement[str]:
    """'YYYY-MM' of a date column, in the database's own words."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)


def paid_invoices(contract_ids: list[int], start: date, end: date) -> Any:
    """The conditions of an invoice counted: paid between `start` and `end`, on these contracts."""
    return (
        Invoice.contract_id.in_(contract_ids),
        Invoice.kind == InvoiceKind.INVOICE,
        Invoice.status == InvoiceStatus.PAID,
        Invoice.paid_on.between(start, end),
        Invoice.days_to_pay.is_not(None),
    )


def by_contract_and_month(contract_ids: list[int], start: date, end: date) -> list[PaymentRow]:
    """Paid invoices by partner, contract and month paid: one grouped query, however many invoices."""
    if not contract_ids:
        return []
    month = _month(Invoice.paid_on).label("month")
    statement = (
        select(
            Organisation.name,
            Contract.reference,
            month,
            func.count(),
            func.sum(case((Invoice.paid_late.is_(True), 1), else_=0)),
            func.sum(case((Invoice.days_to_pay <= PROMPT_PAYMENT_DAYS, 1), else_=0)),
            func.coalesce(func.sum(Invoice.days_to_pay), 0),
            func.coalesce(func.max(Invoice.days_to_pay), 0),
        )
        .join(Contract, Contract.id == Invoice.contract_id)
        .join(Organisation, Organisation.id == Contract.partner_id)
        .where(*paid_invoices(contract_ids, start, end))
        .group_by(Organisation.name, Contract.reference, month)
        .order_by(Organisation.name, Contract.reference, month)
    )
    return [
        PaymentRow(
            partner=partner,
            contract=reference,
            month=date(int(text[:4]), int(text[5:7]), 1),
            paid=int(paid),
            late=int(late or 0),
            within_30=int(within or 0),
            days_total=int(days or 0),
            longest=int(longest or 0),
        )
        for partner, reference, text, paid, late, within, days, longest in db.session.execute(statement)
    ]


@dataclass(frozen=True)
class PromptPaymentReport:
    rows: list[PaymentRow]

    @property
    def overall(self) -> PaymentFigures:
        return total(self.rows)

    def grouped(self, key: str) -> list[tuple[Any, PaymentFigures]]:
        """Totals by 'partner', 'contract' or 'month', in order."""
        groups: dict[Any, PaymentFigures] = {}
        for row in self.rows:
            value = (row.partner, row.contract) if key == "contract" else getattr(row, key)
            groups[value] = groups.get(value, PaymentFigures()) + row
        return sorted(groups.items(), key=lambda item: item[0])


def report(contract_ids: list[int], start: date, end: date) -> PromptPaymentReport:
    return PromptPaymentReport(by_contract_and_month(contract_ids, start, end))
