"""Invoices as CSV files: a list of invoices, their lines, and the events one line bills.

UTF-8 with a header row; money in pounds with two decimal places (negative on credit notes),
dates as YYYY-MM-DD, and every text cell spreadsheet-safe (portal.csv_files.csv_text).
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Select, select

from portal.contracts.models import Contract
from portal.csv_files import csv_text
from portal.dates import london_day
from portal.extensions import db
from portal.invoicing.models import Invoice, InvoiceLine
from portal.invoicing.queries import EventRow

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


def invoices_csv(statement: Select[tuple[Invoice]]) -> str:
    """The invoices `statement` selects (with their contracts loaded), one row each."""
    invoices = list(db.session.scalars(statement).unique())
    credited_ids = {invoice.credited_invoice_id for invoice in invoices if invoice.credited_invoice_id}
    credited = (
        dict(db.session.execute(select(Invoice.id, Invoice.number).where(Invoice.id.in_(credited_ids))).all())
        if credited_ids
        else {}
    )
    rows = [
        (
            _number(invoice),
            invoice.kind.value,
            invoice.status.value,
            invoice.contract.partner.name,
            invoice.contract.reference,
            _period(invoice),
            pounds(invoice.subtotal_pence),
            Decimal(invoice.vat_rate_bp) / 100,
            pounds(invoice.vat_pence),
            pounds(invoice.total_pence),
            london_day(invoice.submitted_at) if invoice.submitted_at else None,
            invoice.due_date,
            invoice.paid_on,
            invoice.overdue,
            credited.get(invoice.credited_invoice_id) if invoice.credited_invoice_id else None,
            invoice.received_on,
            invoice.days_held or 0,
            invoice.payment_reference,
            invoice.days_to_pay,
            invoice.paid_late,
        )
        for invoice in invoices
    ]
    return csv_text(INVOICE_COLUMNS, rows)


def lines_csv(invoice_ids: Select) -> str:
    """The lines of the invoices whose ids `invoice_ids` selects, invoice by invoice."""
    result = db.session.execute(
        select(InvoiceLine, Invoice)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(Invoice.id.in_(invoice_ids))
        .order_by(Invoice.period_start.desc(), Invoice.id.desc(), InvoiceLine.position)
    ).all()
    contracts = _contract_references({invoice.contract_id for _, invoice in result})
    rows = [
        (
            _number(invoice),
            invoice.kind.value,
            invoice.status.value,
            contracts[invoice.contract_id],
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
        for line, invoice in result
    ]
    return csv_text(LINE_COLUMNS, rows)


def _contract_references(contract_ids: set[int]) -> dict[int, str]:
    if not contract_ids:
        return {}
    return dict(db.session.execute(select(Contract.id, Contract.reference).where(Contract.id.in_(contract_ids))).all())


def events_csv(invoice: Invoice, line: InvoiceLine, rows: list[EventRow]) -> str:
    """The events one line bills, with what the records say of each (as the drill-down shows them)."""
    return csv_text(
        EVENT_COLUMNS,
        [
            (
                _number(invoice),
                line.position,
                line.item_code,
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
            for row in rows
        ],
    )
