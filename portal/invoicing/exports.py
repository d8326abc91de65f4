"""Invoices as CSV files: a list of invoices, their lines, and the events one line bills.

UTF-8 with a header row; money in pounds with two decimal places (negative on credit notes),
dates as YYYY-MM-DD, and every text cell spreadsheet-safe (portal.csv_files), streamed a batch of rows at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal

from sqlalchemy import Select, select
from sqlalchemy.orm import aliased

from portal.contracts.models import Contract
from portal.csv_files import csv_text, stream_rows
from portal.dates import london_day
from portal.extensions import db
from portal.invoicing.models import Invoice, InvoiceLine
from portal.invoicing.queries import EventRow
from portal.organisations.models import Organisation

INVOICE_COLUMNS = (
    "number",
    "kind",
    "status",
    "partner",
    "contract",
    "period",
    "subtotal",
    "vat_rate",
    "vat",
    "total",
    "submitted_on",
    "due_date",
    "paid_on",
    "overdue",
    "credits_invoice",
    "received_on",
    "days_held",
    "payment_reference",
    "days_to_pay",
    "paid_late",
)
LINE_COLUMNS = (
    "invoice_number",
    "kind",
    "status",
    "contract",
    "period",
    "line",
    "item_code",
    "service_code",
    "description",
    "unit",
    "quantity",
    "unit_price",
    "amount",
    "includes_earlier_work",
)
EVENT_COLUMNS = (
    "invoice_number",
    "line",
    "item_code",
    "event",
    "event_date",
    "month",
    "session_date",
    "start_time",
    "duration_minutes",
    "attendance",
    "outcome_type",
    "achieved_on",
    "referral",
    "referral_accepted_on",
    "person",
    "crn",
    "minutes_billed",
)


def pounds(pence: int) -> Decimal:
    """123456 -> Decimal('1234.56'): a number to a spreadsheet, never a float."""
    return (Decimal(pence) / 100).quantize(Decimal("0.01"))


def _period(invoice: Invoice) -> str:
    return invoice.period_start.strftime("%Y-%m")


def _number(invoice: Invoice) -> str:
    return invoice.number or f"draft {invoice.id}"


def invoice_rows(statement: Select[tuple[Invoice]]) -> Iterator[tuple[object, ...]]:
    """The invoices `statement` selects, one row each, fetched a batch at a time: the number each
    credit note credits and each partner's name come in the same query, so memory stays flat and
    the queries do not grow with the rows."""
    credited = aliased(Invoice)
    rows = (
        statement.add_columns(Contract.reference, Organisation.name, credited.number)
        .join(Contract, Contract.id == Invoice.contract_id)
        .join(Organisation, Organisation.id == Contract.partner_id)
        .outerjoin(credited, credited.id == Invoice.credited_invoice_id)
    )
    for invoice, contract_reference, partner_name, credited_number in stream_rows(rows):
        yield (
            _number(invoice),
            invoice.kind.value,
            invoice.status.value,
            partner_name,
            contract_reference,
            _period(invoice),
            pounds(invoice.subtotal_pence),
            Decimal(invoice.vat_rate_bp) / 100,
            pounds(invoice.vat_pence),
            pounds(invoice.total_pence),
            london_day(invoice.submitted_at) if invoice.submitted_at else None,
            invoice.due_date,
            invoice.paid_on,
            invoice.overdue,
            credited_number if invoice.credited_invoice_id else None,
            invoice.received_on,
            invoice.days_held or 0,
            invoice.payment_reference,
            invoice.days_to_pay,
            invoice.paid_late,
        )


def invoices_csv(statement: Select[tuple[Invoice]]) -> str:
    """The invoices `statement` selects, one row each, as one CSV text."""
    return csv_text(INVOICE_COLUMNS, invoice_rows(statement))


def line_rows(invoice_ids: Select) -> Iterator[tuple[object, ...]]:
    """The lines of the invoices whose ids `invoice_ids` selects, invoice by invoice, fetched a
    batch at a time."""
    statement = (
        select(InvoiceLine, Invoice, Contract.reference)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .join(Contract, Contract.id == Invoice.contract_id)
        .where(Invoice.id.in_(invoice_ids))
        .order_by(Invoice.period_start.desc(), Invoice.id.desc(), InvoiceLine.position)
    )
    for line, invoice, contract_reference in stream_rows(statement):
        yield (
            _number(invoice),
            invoice.kind.value,
            invoice.status.value,
            contract_reference,
            _period(invoice),
            line.position,
            line.item_code,
            line.service_code,
            line.description,
            line.unit.value,
            line.quantity,
            pounds(line.unit_price_pence),
            pounds(line.amount_pence),
            line.includes_earlier_work,
        )


def lines_csv(invoice_ids: Select) -> str:
    return csv_text(LINE_COLUMNS, line_rows(invoice_ids))


def _contract_references(contract_ids: set[int]) -> dict[int, str]:
    if not contract_ids:
        return {}
    return dict(db.session.execute(select(Contract.id, Contract.reference).where(Contract.id.in_(contract_ids))).all())


def event_rows(invoice: Invoice, line: InvoiceLine, rows: Iterable[EventRow]) -> Iterator[tuple[object, ...]]:
    """The events one line bills, with what the records say of each (as the drill-down shows them)."""
    # Read now: the file is written after the request's records have left its session.
    number, position, item_code = _number(invoice), line.position, line.item_code
    return _event_rows(number, position, item_code, rows)


def _event_rows(number: str, position: int, item_code: str, rows: Iterable[EventRow]) -> Iterator[tuple[object, ...]]:
    for row in rows:
        yield (
            number,
            position,
            item_code,
            row.kind,
            row.event_date,
            row.month.strftime("%Y-%m"),
            row.session_date,
            row.start_time.strftime("%H:%M") if row.start_time else None,
            row.duration_minutes,
            row.attendance.value if row.attendance else None,
            row.outcome_type,
            row.achieved_on,
            row.referral_reference,
            row.accepted_on,
            row.person_name,
            row.crn,
            row.minutes,
        )


def events_csv(invoice: Invoice, line: InvoiceLine, rows: Iterable[EventRow]) -> str:
    return csv_text(EVENT_COLUMNS, event_rows(invoice, line, rows))
