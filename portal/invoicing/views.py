"""Pages for invoices and credit notes: the lists and the approval queue, generating a draft, an
invoice with its lines and each line's events, the decisions, credit notes, the PDF and the CSVs.

Every page finds the invoice through `portal.access` (another partner's invoice is a 404), each
form calls one operation in `portal.invoicing.service`, and its domain errors come back as GOV.UK
error messages on the page the user was on.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response as BaseResponse

from portal import access, keyset
from portal.audit.service import record_read
from portal.contracts.models import Contract
from portal.contracts.services import service_names
from portal.csv_files import csv_response
from portal.dates import london_today
from portal.extensions import db
from portal.formatting import format_date, format_money
from portal.invoicing import exports, payment_terms, queries, service
from portal.invoicing.documents import invoice_pdf, pdf_filename, vat_rate_label
from portal.invoicing.einvoice import document as einvoice_document
from portal.invoicing.einvoice import download as einvoice_download
from portal.invoicing.einvoice import filename as einvoice_filename
from portal.invoicing.forms import (
    ConfirmForm,
    CreditNoteForm,
    GenerateForm,
    InvoiceFilterForm,
    MarkPaidForm,
    QueryMessageForm,
    ReasonForm,
)
from portal.invoicing.models import Invoice, InvoiceLine, InvoiceStatus
from portal.invoicing.uncovered import uncovered_work
from portal.organisations.models import Organisation
from portal.pdf import pdf_response
from portal.web import Page, attempt, attempt_and_redirect, paginate

bp = Blueprint("invoicing", __name__, url_prefix="/invoices")

PAGE_SIZE = 50
EVENTS_PAGE_SIZE = 100
# A line with more events than this is credited whole on the credit note form, not event by event.
LISTED_EVENTS = 100


# --- finding records -----------------------------------------------------------------------------------


def load_invoice(invoice_id: int) -> Invoice:
    """The invoice or credit note, if the current user may see it; else 404."""
    return access.get_visible_or_404(Invoice, invoice_id, current_user, options=[joinedload(Invoice.contract)])


def load_line(invoice: Invoice, line_id: int) -> InvoiceLine:
    """The line of *this* invoice with this id; else 404."""
    line = db.session.scalars(
        access.visible(InvoiceLine, current_user).where(InvoiceLine.id == line_id, InvoiceLine.invoice_id == invoice.id)
    ).first()
    if line is None:
        abort(404)
    return line


def invoice_url(invoice: Invoice, **values: Any) -> str:
    return url_for("invoicing.show", invoice_id=invoice.id, **values)


def title_of(invoice: Invoice) -> str:
    """'Invoice NACRO-000001', 'Credit note NACRO-000002' or 'Draft invoice'."""
    if invoice.number:
        return f"{invoice.kind.label} {invoice.number}"
    return "Draft invoice"


# --- mapping the service's answers onto pages ------------------------------------------------------------


def _run(form: Any, operation: Any) -> Any:
    """Run an operation for a valid form: its result, or None with the reason on the form."""
    return attempt(form, operation).result


# --- the lists -------------------------------------------------------------------------------------------


def _filter_form(filters: queries.Filters) -> InvoiceFilterForm:
    form = InvoiceFilterForm(request.args)
    contracts = queries.contract_options(current_user)
    form.contract.choices = {"": "All contracts"} | {
        contract.reference: f"{contract.reference}: {contract.title}" for contract in contracts
    }
    if current_user.is_crc_user:
        form.partner.choices = {"": "All partners"} | {
            str(partner.id): partner.name for partner in queries.partner_options(current_user)
        }
    else:
        del form.partner  # a partner sees only its own invoices anyway
    form.status.data, form.contract.data = filters.status, filters.contract
    return form


@bp.route("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    user = current_user._get_current_object()
    today = london_today()
    filters = queries.Filters.from_args(request.args)
    page = paginate(queries.invoice_list(user, filters), per_page=PAGE_SIZE)
    return render_template(
        "invoicing/index.html",
        filters=filters,
        filter_form=_filter_form(filters),
        page=page,
        totals=queries.totals_by_status(user, filters),
        today=today,
        show_partner=user.is_crc_user,
        can_bill=access.can(user, "bill", Invoice),
        can_decide=access.can(user, "decide", Invoice),
        can_see_remittance=access.can(user, "see_remittance", Organisation),
        pending_bank_changes=_pending_bank_changes(user),
    )


def _pending_bank_changes(user: Any) -> int:
    """Changes of bank account a contract manager may confirm (one count query)."""
    if not access.can(user, "confirm_bank_details", Organisation):
        return 0
    from portal.remittance.models import BankDetailsChange, ChangeStatus

    return (
        db.session.scalar(
            select(func.count())
            .select_from(BankDetailsChange)
            .join(Organisation, Organisation.id == BankDetailsChange.organisation_id)
            .where(BankDetailsChange.status == ChangeStatus.PENDING, access.visibility_clause(Organisation, user))
        )
        or 0
    )


@bp.route("/queue")
@login_required
def queue():  # type: ignore[no-untyped-def]
    user = current_user._get_current_object()
    access.require(user, "decide", Invoice)
    today = london_today()
    filters = queries.Filters.from_args(request.args)
    return render_template(
        "invoicing/queue.html",
        filters=filters,
        filter_form=_filter_form(filters),
        page=paginate(queries.approval_queue(user, filters), per_page=PAGE_SIZE),
        excess=queries.waiting_for_excess_approval(user, filters),
        today=today,
    )


@bp.route("/export.csv")
@login_required
def export_invoices():  # type: ignore[no-untyped-def]
    """The filtered list (every page of it) as CSV."""
    user = current_user._get_current_object()
    filters = queries.Filters.from_args(request.args)
    return csv_response(
        exports.INVOICE_COLUMNS, exports.invoice_rows(queries.invoice_list(user, filters)), "invoices.csv"
    )


@bp.route("/lines.csv")
@login_required
def export_lines():  # type: ignore[no-untyped-def]
    """The lines of every invoice in the filtered list, as CSV."""
    user = current_user._get_current_object()
    filters = queries.Filters.from_args(request.args)
    return csv_response(
        exports.LINE_COLUMNS, exports.line_rows(queries.invoice_ids(user, filters)), "invoice-lines.csv"
    )


# --- generating ---------------------------------------------------------------------------------------------


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():  # type: ignore[no-untyped-def]
    user = current_user._get_current_object()
    access.require(user, "generate_invoices", Contract)
    contracts = queries.contract_choices(user, billable_only=True)
    form = GenerateForm()
    form.contract.choices = {"": "Choose a contract"} | {
        contract.reference: f"{contract.reference}: {contract.title}" for contract in contracts
    }
    if request.method == "GET":
        wanted = (request.args.get("contract") or "").upper()
        form.contract.data = wanted if wanted in form.contract.choices else ""
        if len(contracts) == 1:
            form.contract.data = contracts[0].reference
        form.period.data = _last_month()
    if form.validate_on_submit():
        contract = next((c for c in contracts if c.reference == form.contract.data), None)
        if contract is None:
            form.contract.errors = ["Select one of your organisation's active contracts"]
        else:
            draft = _run(
                form,
                lambda: service.generate_draft(user, contract, form.period.data, early_reason=form.early_reason.data),
            )
            if draft is not None:
                flash(
                    f"Draft invoice for {format_date(draft.period_start).split(' ', 1)[1]} generated from the "
                    "records. Check its lines, then submit it.",
                    "success",
                )
                return redirect(invoice_url(draft))
    this_month = london_today().replace(day=1)
    return render_template(
        "invoicing/new.html",
        form=form,
        contracts=contracts,
        drafts=queries.drafts_of(user),
        this_month=this_month,
        last_working_day=payment_terms.last_working_day(this_month),
    )


def _last_month() -> date:
    first = london_today().replace(day=1)
    return first.replace(year=first.year - 1, month=12) if first.month == 1 else first.replace(month=first.month - 1)


# --- an invoice ------------------------------------------------------------------------------------------------


def _render_invoice(invoice: Invoice, *, form: Any = None, message_form: Any = None, status: int = 200) -> Any:
    """The invoice page; `form` is a button's form that failed, whose errors the summary shows."""
    user = current_user._get_current_object()
    contract: Contract = invoice.contract
    today = london_today()
    lines = queries.lines_of(invoice)
    changes = invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.QUERIED) and not invoice.is_credit_note
    unpriced, unpriced_total = queries.unpriced_work(invoice) if changes else ([], 0)
    uncovered, uncovered_total = ([], 0) if invoice.is_credit_note else uncovered_work(invoice)
    credit_notes = [] if invoice.is_credit_note else queries.credit_notes_of(invoice)
    people = queries.names_of(
        {
            invoice.generated_by_id,
            invoice.submitted_by_id,
            invoice.queried_by_id,
            invoice.approved_by_id,
            invoice.rejected_by_id,
            invoice.paid_by_id,
            invoice.excess_approved_by_id,
            invoice.raised_by_id,
        }
    )
    return (
        render_template(
            "invoicing/show.html",
            invoice=invoice,
            contract=contract,
            title=title_of(invoice),
            lines=lines,
            # Every line carries its count (integrity.lines_count_their_events): no count of events.
            event_counts={line.id: line.event_count for line in lines},
            unpriced=unpriced,
            unpriced_total=unpriced_total,
            service_names=service_names(invoice.contract_id),
            uncovered=uncovered,
            uncovered_total=uncovered_total,
            cap=service.cap_position(invoice) if invoice.cap_excess_pence > 0 else None,
            credit_notes=credit_notes,
            credited=queries.credited_invoice_of(invoice),
            people=people,
            actions=service.actions_for(user, invoice),
            overdue=invoice.overdue,
            vat_rate=vat_rate_label(invoice.vat_rate_bp),
            form=form,
            today=today,
            thread=service.query_thread(invoice),
            message_form=message_form or QueryMessageForm(),
            can_message=_can_message(user, invoice),
            balance=service.balance(invoice),
            prompt_payment_days=payment_terms.PROMPT_PAYMENT_DAYS,
        ),
        status,
    )


def _can_message(user: Any, invoice: Invoice) -> bool:
    if access.can(user, "bill", invoice):
        return invoice.status == InvoiceStatus.QUERIED
    return (
        access.can(user, "decide", invoice)
        and invoice.queried_at is not None
        and invoice.status in (InvoiceStatus.QUERIED, InvoiceStatus.SUBMITTED)
    )


@bp.route("/<int:invoice_id>/messages", methods=["POST"])
@login_required
def add_message(invoice_id: int):  # type: ignore[no-untyped-def]
    """A reply to the CRC's query, or the CRC's answer: kept on the invoice in its thread."""
    invoice = load_invoice(invoice_id)
    form = QueryMessageForm()
    if form.validate_on_submit():
        done = attempt_and_redirect(
            form,
            lambda: service.add_query_message(current_user._get_current_object(), invoice, form.body.data),
            success="Your message has been sent.",
            back=invoice_url(invoice) + "#query",
        )
        if done:
            return done
    db.session.expire_all()
    return _render_invoice(load_invoice(invoice_id), form=form, message_form=form)


@bp.route("/<int:invoice_id>")
@login_required
def show(invoice_id: int):  # type: ignore[no-untyped-def]
    return _render_invoice(load_invoice(invoice_id))


def _button(invoice_id: int, operation: Any, success: Any) -> Any:
    """A button on the invoice page: run the operation, or show the page again with why not."""
    invoice = load_invoice(invoice_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        form.form_errors.append("The form had expired. Try again")
        return _render_invoice(invoice, form=form)
    done = _run(form, lambda: operation(current_user._get_current_object(), invoice, form.version_read))
    if done is None:
        db.session.expire_all()
        return _render_invoice(load_invoice(invoice_id), form=form)
    flash(success(done), "success")
    return redirect(invoice_url(done))


@bp.route("/<int:invoice_id>/regenerate", methods=["POST"])
@login_required
def regenerate(invoice_id: int):  # type: ignore[no-untyped-def]
    return _button(
        invoice_id,
        lambda user, invoice, version: service.regenerate_draft(user, invoice),
        lambda draft: "The draft has been generated again from the records.",
    )


@bp.route("/<int:invoice_id>/submit", methods=["POST"])
@login_required
def submit(invoice_id: int):  # type: ignore[no-untyped-def]
    return _button(
        invoice_id,
        lambda user, invoice, version: service.submit_invoice(user, invoice, version=version),
        lambda invoice: (
            f"Invoice {invoice.number} submitted to the CRC. Payment is due by {format_date(invoice.due_date)}."
        ),
    )


@bp.route("/<int:invoice_id>/revise", methods=["POST"])
@login_required
def revise(invoice_id: int):  # type: ignore[no-untyped-def]
    return _button(
        invoice_id,
        lambda user, invoice, version: service.revise_invoice(user, invoice, version=version),
        lambda invoice: (
            f"Invoice {invoice.number} has been generated again from the records. "
            "Check the figures, then submit it again."
        ),
    )


@bp.route("/<int:invoice_id>/approve", methods=["POST"])
@login_required
def approve(invoice_id: int):  # type: ignore[no-untyped-def]
    return _button(
        invoice_id,
        lambda user, invoice, version: service.approve_invoice(user, invoice, version=version),
        lambda invoice: f"{title_of(invoice)} approved.",
    )


@bp.route("/<int:invoice_id>/approve-excess", methods=["POST"])
@login_required
def approve_excess(invoice_id: int):  # type: ignore[no-untyped-def]
    return _button(
        invoice_id,
        lambda user, invoice, version: service.approve_excess(user, invoice, version=version),
        lambda invoice: "The excess over the contract's value cap is approved. The partner can now submit the invoice.",
    )


def _refusal(invoice: Invoice, action: str) -> BaseResponse:
    """Back to the invoice, saying why: it has moved on since the link was shown."""
    flash(service.refusal(invoice, action), "error")
    return redirect(invoice_url(invoice))


def _decision_page(invoice_id: int, action: str) -> Invoice | BaseResponse:
    """The invoice a contract manager's decision form is for (403 for others); on GET, back to
    the invoice if the decision is no longer open."""
    invoice = load_invoice(invoice_id)
    access.require(current_user, "decide", invoice)
    if request.method == "GET" and action not in service.actions_for(current_user, invoice):
        return _refusal(invoice, action)
    return invoice


def _reason_page(invoice_id: int, *, action: str) -> Any:
    invoice = _decision_page(invoice_id, action)
    if not isinstance(invoice, Invoice):
        return invoice
    form = ReasonForm(data={"version": str(invoice.version)} if request.method == "GET" else None)
    if form.validate_on_submit():
        user = current_user._get_current_object()
        operation = service.query_invoice if action == "query" else service.reject_invoice
        done = _run(form, lambda: operation(user, invoice, reason=form.reason.data, version=form.version_read))
        if done is not None:
            if action == "query":
                message = f"Invoice {done.number} queried. The partner will check it and submit it again."
            else:
                message = f"{title_of(done)} rejected."
            flash(message, "success")
            return redirect(invoice_url(done))
    return render_template(
        "invoicing/reason.html",
        form=form,
        invoice=invoice,
        contract=invoice.contract,
        title=title_of(invoice),
        action=action,
    )


@bp.route("/<int:invoice_id>/query", methods=["GET", "POST"])
@login_required
def query(invoice_id: int):  # type: ignore[no-untyped-def]
    return _reason_page(invoice_id, action="query")


@bp.route("/<int:invoice_id>/reject", methods=["GET", "POST"])
@login_required
def reject(invoice_id: int):  # type: ignore[no-untyped-def]
    return _reason_page(invoice_id, action="reject")


@bp.route("/<int:invoice_id>/mark-paid", methods=["GET", "POST"])
@login_required
def mark_paid(invoice_id: int):  # type: ignore[no-untyped-def]
    invoice = _decision_page(invoice_id, "pay")
    if not isinstance(invoice, Invoice):
        return invoice
    form = MarkPaidForm(data={"version": str(invoice.version)} if request.method == "GET" else None)
    if form.validate_on_submit():
        user = current_user._get_current_object()
        done = _run(
            form,
            lambda: service.mark_paid(
                user,
                invoice,
                paid_on=form.paid_on.data,
                payment_reference=form.payment_reference.data,
                version=form.version_read,
            ),
        )
        if done is not None:
            flash(
                f"Invoice {done.number} marked as paid on {format_date(done.paid_on)}, "
                f"payment reference {done.payment_reference}.",
                "success",
            )
            return redirect(invoice_url(done))
    return render_template(
        "invoicing/mark_paid.html", form=form, invoice=invoice, contract=invoice.contract, title=title_of(invoice)
    )


# --- credit notes -------------------------------------------------------------------------------------------


@bp.route("/<int:invoice_id>/credit-note", methods=["GET", "POST"])
@login_required
def credit_note(invoice_id: int):  # type: ignore[no-untyped-def]
    invoice = load_invoice(invoice_id)
    user = current_user._get_current_object()
    access.require(user, "credit", invoice)
    if request.method == "GET" and "credit" not in service.actions_for(user, invoice):
        return _refusal(invoice, "credit")
    groups = queries.creditable_by_line(user, invoice)
    form = CreditNoteForm(data={"version": str(invoice.version)} if request.method == "GET" else None)
    if form.validate_on_submit():
        whole = {value for value in form.line_ids.data or [] if value.isdigit()}
        chosen = list(form.event_ids.data or [])
        chosen += [str(row.id) for line, rows in groups if str(line.id) in whole for row in rows]
        note = _run(
            form,
            lambda: service.raise_credit_note(
                user,
                invoice,
                event_ids=list(dict.fromkeys(chosen)),
                reason=form.reason.data,
                rebill=form.rebill.data == "yes",
                version=form.version_read,
            ),
        )
        if note is not None:
            flash(
                f"Credit note {note.number} raised for {format_money(note.total_pence)}. "
                "A contract manager must approve it.",
                "success",
            )
            return redirect(invoice_url(note))
        groups = queries.creditable_by_line(user, invoice)
    return render_template(
        "invoicing/credit_note.html",
        form=form,
        invoice=invoice,
        contract=invoice.contract,
        title=title_of(invoice),
        groups=groups,
        listed_events=LISTED_EVENTS,
        chosen=set(form.event_ids.data or []),
        chosen_lines=set(form.line_ids.data or []),
    )


# --- lines and their events ------------------------------------------------------------------------------------


@bp.route("/<int:invoice_id>/lines/<int:line_id>")
@login_required
def line(invoice_id: int, line_id: int):  # type: ignore[no-untyped-def]
    invoice = load_invoice(invoice_id)
    shown = load_line(invoice, line_id)
    after, before = request.args.get("after") or None, request.args.get("before") or None
    credit = invoice.is_credit_note
    try:
        window, totals = queries.line_page(
            current_user, shown, per_page=EVENTS_PAGE_SIZE, after=after, before=before, credit=credit
        )
    except keyset.BadCursor:
        window, totals = queries.line_page(current_user, shown, per_page=EVENTS_PAGE_SIZE, credit=credit)
    page = Page(
        items=window.items,
        per_page=EVENTS_PAGE_SIZE,
        total=totals.events,
        offset=window.offset,
        next_cursor=window.next_cursor,
        previous_cursor=window.previous_cursor,
    )
    html = render_template(
        "invoicing/line.html",
        invoice=invoice,
        contract=invoice.contract,
        title=title_of(invoice),
        line=shown,
        totals=totals,
        page=page,
        service_names=service_names(invoice.contract_id),
    )
    # The events name people by CRN; audited after rendering, so the commit reloads nothing.
    record_read(current_user, "invoice.line_viewed", record=invoice, details={"line": shown.position})
    return html


@bp.route("/<int:invoice_id>/lines/<int:line_id>.csv")
@login_required
def line_csv(invoice_id: int, line_id: int):  # type: ignore[no-untyped-def]
    invoice = load_invoice(invoice_id)
    shown = load_line(invoice, line_id)
    rows = queries.streamed_event_rows(current_user, shown)
    name = pdf_filename(invoice).removesuffix(".pdf")
    # The events name people by CRN: a download of personal data.
    record_read(current_user, "invoice.line_events_downloaded", record=invoice, details={"line": shown.position})
    return csv_response(
        exports.EVENT_COLUMNS, exports.event_rows(invoice, shown, rows), f"{name}-line-{shown.position}.csv"
    )


@bp.route("/<int:invoice_id>/lines.csv")
@login_required
def invoice_lines_csv(invoice_id: int):  # type: ignore[no-untyped-def]
    invoice = load_invoice(invoice_id)
    ids = select(Invoice.id).where(access.visibility_clause(Invoice, current_user), Invoice.id == invoice.id)
    return csv_response(
        exports.LINE_COLUMNS, exports.line_rows(ids), f"{pdf_filename(invoice).removesuffix('.pdf')}-lines.csv"
    )


@bp.route("/<int:invoice_id>.pdf")
@login_required
def pdf(invoice_id: int) -> BaseResponse:
    invoice = load_invoice(invoice_id)
    return pdf_response(invoice_pdf(invoice), pdf_filename(invoice))


@bp.route("/<int:invoice_id>.xml")
@login_required
def einvoice(invoice_id: int) -> BaseResponse:
    """The invoice or credit note as a UBL 2.1 document (PEPPOL BIS Billing 3.0)."""
    invoice = load_invoice(invoice_id)
    return einvoice_download(einvoice_document(invoice), einvoice_filename(invoice))
