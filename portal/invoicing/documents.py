"""The invoice (or credit note) as a PDF: A4, tagged PDF/UA, from the invoice's stored figures.

The pages and the API both call `invoice_pdf`. Figures come only from the stored invoice and its
lines (frozen on submission), so the PDF of a submitted invoice never changes.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from portal.contracts.models import Contract
from portal.dates import london_day, month_end
from portal.extensions import db
from portal.invoicing.models import Invoice, InvoiceLine, InvoiceStatus
from portal.pdf import render_pdf


def vat_rate_label(basis_points: int) -> str:
    """2000 -> '20%', 1750 -> '17.5%', 0 -> '0%'."""
    rate = (Decimal(basis_points) / 100).normalize()
    return f"{rate:f}%"


def pdf_filename(invoice: Invoice) -> str:
    return f"{invoice.number}.pdf" if invoice.number else f"draft-invoice-{invoice.id}.pdf"


def invoice_pdf(invoice: Invoice) -> bytes:
    """The PDF of an invoice or credit note, in a Flask app context."""
    contract = db.session.get(Contract, invoice.contract_id)  # with its partner and CRC
    lines = list(
        db.session.scalars(
            select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).order_by(InvoiceLine.position)
        )
    )
    credited = db.session.get(Invoice, invoice.credited_invoice_id) if invoice.credited_invoice_id else None
    from portal.contracts.services import service_names
    from portal.invoicing.service import balance
    from portal.invoicing.uncovered import uncovered_work
    from portal.remittance.service import remittance_of

    uncovered = ([], 0) if invoice.is_credit_note else uncovered_work(invoice)
    return render_pdf(
        "pdf/invoice.html",
        invoice=invoice,
        contract=contract,
        partner=contract.partner,
        crc=contract.crc,
        lines=lines,
        credited=credited,
        is_draft=invoice.status == InvoiceStatus.DRAFT,
        issued_on=london_day(invoice.submitted_at) if invoice.submitted_at else None,
        generated_on=london_day(invoice.generated_at) if invoice.generated_at else None,
        vat_rate=vat_rate_label(invoice.vat_rate_bp),
        period_end=month_end(invoice.period_start),
        balance=balance(invoice),
        remittance=remittance_of(invoice, contract),
        service_names=service_names(invoice.contract_id),
        # As the invoice page lists it: verified work of the month no price covers.
        uncovered=uncovered[0],
        uncovered_total=uncovered[1],
    )
