"""Invoices: the partner generates (re-posting replaces the draft) and submits; the CRC's contract
managers approve, query, reject and mark paid. Figures come only from portal.invoicing, and the PDF
is portal.invoicing.documents', as on the invoice pages.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from portal import access
from portal.accounts.models import User
from portal.api import schemas
from portal.api.blueprint import api
from portal.api.contracts import find_contract
from portal.api.registry import ID, file_response, paginate
from portal.contracts.models import Contract
from portal.dates import parse_month
from portal.extensions import db
from portal.invoicing import einvoice, service
from portal.invoicing.documents import invoice_pdf, pdf_filename
from portal.invoicing.models import Invoice, InvoiceLine, quantity_of
from portal.problems import ApiProblem

INVOICE_OPTIONS = (joinedload(Invoice.contract), selectinload(Invoice.lines))


def load_invoice(user: User, invoice_id: int) -> Invoice:
    return access.get_visible_or_404(Invoice, invoice_id, user, options=INVOICE_OPTIONS)


# What the API shows of a line: read as plain rows for a page of invoices (fifty invoices hold
# hundreds of lines, each a mapped object otherwise), in the order of Invoice.lines.
LINE_COLUMNS = (
    InvoiceLine.invoice_id,
    InvoiceLine.item_code,
    InvoiceLine.service_code,
    InvoiceLine.description,
    InvoiceLine.unit,
    InvoiceLine.quantity_hundredths,
    InvoiceLine.unit_price_pence,
    InvoiceLine.amount_pence,
    InvoiceLine.includes_earlier_work,
)


def lines_of(invoice_ids: list[int]) -> dict[int, list[Any]]:
    """The lines of these invoices, by invoice, in position order (one query)."""
    found: dict[int, list[Any]] = {invoice_id: [] for invoice_id in invoice_ids}
    if invoice_ids:
        rows = db.session.execute(
            select(*LINE_COLUMNS)
            .where(InvoiceLine.invoice_id.in_(invoice_ids))
            .order_by(InvoiceLine.invoice_id, InvoiceLine.position)
        )
        for row in rows:
            found[row.invoice_id].append(row)
    return found


def _line(line: Any) -> schemas.InvoiceLine:
    """A line, from an InvoiceLine or a row of LINE_COLUMNS."""
    return schemas.InvoiceLine(
        item_code=line.item_code,
        service_code=line.service_code,
        description=line.description,
        unit=line.unit,
        quantity=schemas.decimal_string(quantity_of(line.quantity_hundredths)),
        unit_price_pence=line.unit_price_pence,
        amount_pence=line.amount_pence,
        includes_earlier_work=line.includes_earlier_work,
    )


def present(
    invoice: Invoice, balance: service.Balance | None = None, *, lines: list[Any] | None = None
) -> schemas.Invoice:
    """An invoice as the API gives it; `lines` (rows of LINE_COLUMNS) when read for a whole page,
    otherwise its loaded lines."""
    if balance is None and not invoice.is_credit_note:
        balance = service.balance(invoice)
    return schemas.Invoice(
        id=invoice.id,
        kind=invoice.kind,
        number=invoice.number,
        contract=invoice.contract.reference,
        period=invoice.period_start.strftime("%Y-%m"),
        status=invoice.status,
        lines=[_line(line) for line in (invoice.lines if lines is None else lines)],
        subtotal_pence=invoice.subtotal_pence,
        vat_rate=schemas.decimal_string(invoice.vat_rate, "0.0001"),
        vat_pence=invoice.vat_pence,
        total_pence=invoice.total_pence,
        due_date=invoice.due_date,
        submitted_at=invoice.submitted_at,
        approved_at=invoice.approved_at,
        paid_on=invoice.paid_on,
        payment_reference=invoice.payment_reference,
        received_on=invoice.received_on,
        days_held=invoice.days_held or 0,
        days_to_pay=invoice.days_to_pay,
        paid_late=invoice.paid_late,
        early_reason=invoice.early_reason,
        credited_pence=balance.credited_pence if balance else None,
        outstanding_pence=balance.outstanding_pence if balance else None,
        query_reason=invoice.query_reason,
        rejection_reason=invoice.rejection_reason,
        cap_excess_pence=invoice.cap_excess_pence,
        needs_excess_approval=invoice.needs_excess_approval,
        credited_invoice_id=invoice.credited_invoice_id,
        version=invoice.version,
        created_at=invoice.created_at,
        updated_at=invoice.updated_at,
    )


def invoice_now(user: User, invoice_id: int) -> schemas.Invoice:
    return present(load_invoice(user, invoice_id))


@api.route(
    "POST",
    "/invoices",
    body=schemas.NewInvoice,
    response=schemas.Invoice,
    status=201,
    location=lambda result: url_for("api.get_invoice", invoice_id=result.id),
    errors=(403,),
    who="Partner manager",
    tag="Invoices",
    summary="Generate the draft invoice for a month",
    description="Bills every billable event dated on or before the month's last day that no live invoice "
    "has billed. A contract has one draft at a time: posting again replaces it (the answer carries the "
    "draft's `id`).",
)
def generate_invoice(user: User, body: schemas.NewInvoice) -> Any:
    contract = find_contract(user, body.contract)
    if contract is None:
        raise ApiProblem("validation", errors={"contract": ["Enter the reference of a contract you can see"]})
    draft = service.generate_draft(user, contract, body.period, early_reason=body.early_reason)
    return invoice_now(user, draft.id)


@api.route(
    "GET",
    "/invoices",
    query=schemas.InvoiceQuery,
    response=schemas.InvoicePage,
    who="Partner (own invoices), CRC",
    tag="Invoices",
    summary="List invoices and credit notes",
)
def list_invoices(user: User, query: schemas.InvoiceQuery) -> Any:
    statement = access.visible(Invoice, user)
    if query.status is not None:
        statement = statement.where(Invoice.status == query.status)
    if query.contract is not None:
        statement = statement.where(
            Invoice.contract_id.in_(select(Contract.id).where(Contract.reference == query.contract.strip().upper()))
        )
    if query.period is not None:
        start = parse_month(query.period)
        if start is None:
            raise ApiProblem("validation", errors={"period": ["Enter the month as YYYY-MM, like 2026-03"]})
        statement = statement.where(Invoice.period_start == start)
    if query.updated_since is not None:
        statement = statement.where(Invoice.updated_at >= query.updated_since)
    page = paginate(statement.options(joinedload(Invoice.contract)).order_by(Invoice.id), query)
    balances = service.balances(page.items)
    lines = lines_of([invoice.id for invoice in page.items])
    return schemas.InvoicePage(
        items=[present(invoice, balances.get(invoice.id), lines=lines[invoice.id]) for invoice in page.items],
        page=page.page,
        per_page=page.per_page,
        total=page.total,
        next=page.next,
    )


@api.route(
    "GET",
    f"/invoices/<{ID}:invoice_id>",
    load=load_invoice,
    response=schemas.Invoice,
    who="Partner (own invoices), CRC",
    tag="Invoices",
    summary="Get an invoice with its lines",
)
def get_invoice(user: User, record: Invoice) -> Any:
    return present(record)


@api.route(
    "GET",
    f"/invoices/<{ID}:invoice_id>.pdf",
    load=load_invoice,
    response=None,
    media_type="application/pdf",
    who="Partner (own invoices), CRC",
    tag="Invoices",
    summary="Get an invoice as PDF",
    description="The invoice or credit note as the pages give it: a draft is marked as not valid for payment; "
    "a submitted invoice's figures never change.",
)
def get_invoice_pdf(user: User, record: Invoice) -> Any:
    return file_response(invoice_pdf(record), pdf_filename(record))


@api.route(
    "GET",
    f"/invoices/<{ID}:invoice_id>.xml",
    load=load_invoice,
    response=None,
    media_type="application/xml",
    errors=(409,),
    who="Partner (own invoices), CRC",
    tag="Invoices",
    summary="Get an invoice or credit note as a UBL 2.1 e-invoice",
    description="A UBL 2.1 Invoice (type 380) or CreditNote (type 381) following PEPPOL BIS Billing 3.0 "
    "(EN 16931): lines, VAT breakdown, totals, the partner's confirmed bank account and the contract's purchase "
    "order. A draft has none yet (409); nor has an invoice whose partner or CRC has no VAT number or PEPPOL "
    "participant ID to address it to (409 saying which).",
)
def get_invoice_xml(user: User, record: Invoice) -> Any:
    return file_response(einvoice.document(record), einvoice.filename(record), "application/xml")


def _action(name: str, summary: str, who: str, body: type, description: str = "", **options: Any) -> Any:
    return api.route(
        "POST",
        f"/invoices/<{ID}:invoice_id>/{name}",
        load=load_invoice,
        body=body,
        response=schemas.Invoice,
        errors=(403, 409),
        who=who,
        tag="Invoices",
        summary=summary,
        description=description,
        **options,
    )


@_action(
    "submit",
    "Submit an invoice",
    "Partner manager",
    schemas.InvoiceAction,
    "It takes its number and its figures are frozen. If the records changed since the draft was generated, "
    "the draft is brought up to date and the answer is 409: check the figures and submit again.",
    body_required=False,
)
def submit_invoice(user: User, record: Invoice, body: schemas.InvoiceAction) -> Any:
    service.submit_invoice(user, record, version=body.version)
    return invoice_now(user, record.id)


@_action(
    "approve",
    "Approve an invoice",
    "Contract manager",
    schemas.InvoiceAction,
    "A credit note is approved by a contract manager other than the one who raised it (403 for its raiser).",
    body_required=False,
)
def approve_invoice(user: User, record: Invoice, body: schemas.InvoiceAction) -> Any:
    service.approve_invoice(user, record, version=body.version)
    return invoice_now(user, record.id)


@_action("query", "Query an invoice", "Contract manager", schemas.InvoiceReason, "The partner revises and resubmits.")
def query_invoice(user: User, record: Invoice, body: schemas.InvoiceReason) -> Any:
    service.query_invoice(user, record, reason=body.reason, version=body.version)
    return invoice_now(user, record.id)


@_action("reject", "Reject an invoice", "Contract manager", schemas.InvoiceReason, "Its work can be billed again.")
def reject_invoice(user: User, record: Invoice, body: schemas.InvoiceReason) -> Any:
    service.reject_invoice(user, record, reason=body.reason, version=body.version)
    return invoice_now(user, record.id)


@_action(
    "mark-paid",
    "Mark an invoice paid",
    "Contract manager",
    schemas.MarkPaid,
    "Takes the date paid and the payment reference on the bank transfer (both required: a missing reference "
    "is 422 naming `payment_reference`). Records days to pay (received to paid, less days held in query) and "
    "whether it was paid after its due date.",
)
def mark_invoice_paid(user: User, record: Invoice, body: schemas.MarkPaid) -> Any:
    service.mark_paid(
        user, record, paid_on=body.paid_on, payment_reference=body.payment_reference, version=body.version
    )
    return invoice_now(user, record.id)


def _message(message: Any) -> schemas.InvoiceMessage:
    return schemas.InvoiceMessage(
        id=message.id,
        kind=message.kind,
        author=message.author.name,
        organisation=message.author.organisation.name,
        body=message.body,
        created_at=message.created_at,
    )


@api.route(
    "GET",
    # Not /messages: a GET and a POST on one path answer 405, not 404, for an id past the range.
    f"/invoices/<{ID}:invoice_id>/thread",
    load=load_invoice,
    response=schemas.InvoiceMessages,
    who="Partner (own invoices), CRC",
    tag="Invoices",
    summary="Read an invoice's query thread",
    description="The CRC's queries, the partner's replies and the CRC's answers, oldest first; kept after "
    "the invoice is resubmitted.",
)
def list_invoice_messages(user: User, record: Invoice) -> Any:
    return schemas.InvoiceMessages(items=[_message(message) for message in service.query_thread(record)])


@api.route(
    "POST",
    f"/invoices/<{ID}:invoice_id>/messages",
    load=load_invoice,
    body=schemas.NewInvoiceMessage,
    response=schemas.InvoiceMessage,
    status=201,
    errors=(403, 409),
    who="Partner manager (while queried), contract manager (while queried or resubmitted)",
    tag="Invoices",
    summary="Reply to a query, or answer a reply",
    description="The partner replies while the invoice is queried; the CRC answers while it is queried or, "
    "once resubmitted, before deciding. The other side is emailed.",
)
def add_invoice_message(user: User, record: Invoice, body: schemas.NewInvoiceMessage) -> Any:
    message = service.add_query_message(user, record, body.body)
    return _message(next(item for item in service.query_thread(record) if item.id == message.id))
