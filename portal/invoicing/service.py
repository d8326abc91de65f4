"""Operations on invoices and credit notes: generate, submit, approve, query, reject, mark paid,
approve an excess over the cap, and credit.

Figures come only from portal.invoicing.billing. Each operation checks who is acting and the
invoice's state, writes the change with its audit event and commits, or raises a domain error
and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError

from portal import access
from portal.audit.service import record_event
from portal.contracts import service as contracts_service
from portal.contracts.models import Contract, RateCardPrice
from portal.dates import london_day, london_today, month_end, parse_month, parse_user_date
from portal.db import utcnow
from portal.delivery import corrections
from portal.delivery.models import Outcome
from portal.delivery.outcomes import credit_outcomes
from portal.errors import InvalidTransition, NotAllowed, StaleRecord, ValidationFailed
from portal.extensions import db
from portal.formatting import format_date, format_money
from portal.grants import service as grants
from portal.invoicing import billing, payment_terms
from portal.invoicing.models import (
    LIVE_STATUSES,
    Invoice,
    InvoiceEvent,
    InvoiceKind,
    InvoiceLine,
    InvoiceMessage,
    InvoiceSequence,
    InvoiceStatus,
)
from portal.money import round_half_up
from portal.organisations.models import Organisation
from portal.persistence import check_version, commit, guards_versions, lock
from portal.urls import as_id
from portal.workflow import StateMachine, Transition

S = InvoiceStatus
INVOICE_WORKFLOW = StateMachine(
    "invoice",
    [
        Transition(
            "submit", frozenset({S.DRAFT, S.QUERIED}), S.SUBMITTED, "Only a draft or queried invoice can be submitted"
        ),
        Transition("approve", frozenset({S.SUBMITTED}), S.APPROVED, "Only a submitted invoice can be approved"),
        Transition("query", frozenset({S.SUBMITTED}), S.QUERIED, "Only a submitted invoice can be queried"),
        Transition("reject", frozenset({S.SUBMITTED}), S.REJECTED, "Only a submitted invoice can be rejected"),
        Transition("pay", frozenset({S.APPROVED}), S.PAID, "Only an approved invoice can be marked paid"),
    ],
)
CREDITABLE = frozenset({S.SUBMITTED, S.APPROVED, S.PAID})


def _contract(invoice: Invoice) -> Contract:
    return db.session.get(Contract, invoice.contract_id)


def _tell(event: str, invoice: Invoice, actor: Any, **context: Any) -> None:
    """Hand the news to portal/notifications/rules.py, which decides who is told."""
    from portal.notifications.rules import notify

    notify(
        event,
        invoice,
        actor=actor,
        invoice=invoice,
        contract=_contract(invoice),
        partner=db.session.get(Organisation, invoice.partner_id),
        **context,
    )


# --- periods --------------------------------------------------------------------------------------


def check_period(contract: Contract, period: Any) -> date:
    start = parse_month(period)
    if start is None:
        raise ValidationFailed.single("period", "Enter the month as YYYY-MM, like 2026-03")
    if start > london_today().replace(day=1):
        raise ValidationFailed.single("period", "You cannot invoice for a month that has not started")
    if month_end(start) < contract.start_date:
        raise ValidationFailed.single("period", "This month is before the contract started")
    if start > contract.end_date:
        raise ValidationFailed.single("period", "This month is after the contract ended")
    if not billing.contract_can_be_billed(contract):
        raise ValidationFailed.single("contract", "A draft contract cannot be invoiced: it must be active first")
    return start


MAX_EARLY_REASON = 2000
# How many pieces of work no price covers a draft keeps to show (its page lists the first 50).
UNPRICED_KEPT = 50


def _early_reason(period_start: date, reason: Any) -> str | None:
    """The reason for invoicing a month still running before its last working day: required then,
    and not kept otherwise (there is nothing to explain)."""
    if not payment_terms.invoiced_early(period_start, london_today()):
        return None
    text = str(reason or "").strip()
    if not text:
        last = payment_terms.last_working_day(period_start)
        raise ValidationFailed.single(
            "early_reason",
            f"{format_date(period_start).split(' ', 1)[1]} is still running: its last working day is "
            f"{format_date(last)}. Say why it must be invoiced before then",
        )
    if len(text) > MAX_EARLY_REASON:
        raise ValidationFailed.single("early_reason", f"The reason must be {MAX_EARLY_REASON:,} characters or fewer")
    return text


# --- numbers ----------------------------------------------------------------------------------------


def _prefix_for(partner: Organisation) -> str:
    words = re.findall(r"[A-Za-z0-9]+", partner.name)
    base = words[0].upper()[:10] if len(words) == 1 else "".join(word[0] for word in words).upper()[:8]
    candidate, suffix = base or "PARTNER", 1
    while db.session.scalar(select(InvoiceSequence.partner_id).where(InvoiceSequence.prefix == candidate)) is not None:
        suffix += 1
        candidate = f"{base[:9]}{suffix}"
    return candidate


def ensure_sequence(partner: Organisation) -> None:
    """Create the partner's number sequence the first time it is needed."""
    if db.session.get(InvoiceSequence, partner.id) is not None:
        return
    try:
        with db.session.begin_nested():
            db.session.add(InvoiceSequence(partner_id=partner.id, prefix=_prefix_for(partner), last_number=0))
    except IntegrityError:
        pass  # someone else created it a moment ago: theirs will do


def take_number(partner_id: int) -> str:
    """The partner's next number. One atomic UPDATE … RETURNING: concurrent submissions queue
    on the row, and a rolled-back submission gives its number back, so there are no gaps."""
    row = db.session.execute(
        update(InvoiceSequence)
        .where(InvoiceSequence.partner_id == partner_id)
        .values(last_number=InvoiceSequence.last_number + 1)
        .returning(InvoiceSequence.prefix, InvoiceSequence.last_number)
    ).one()
    return f"{row.prefix}-{row.last_number:06d}"


# --- generating ----------------------------------------------------------------------------------------


def _store_lines(invoice: Invoice, bill: billing.Bill) -> None:
    """Replace the invoice's lines (and any events it had) with the bill's. A draft stores only
    its lines: its events are what the rules give, and are frozen when it is submitted."""
    db.session.execute(delete(InvoiceEvent).where(InvoiceEvent.invoice_id == invoice.id))
    db.session.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id))
    db.session.add_all(
        InvoiceLine(
            invoice_id=invoice.id,
            position=position,
            item_id=line.item.id,
            price_id=line.price.id,
            item_code=line.item.code,
            service_code=line.item.service_code,
            description=line.description,
            unit=line.item.unit,
            quantity_hundredths=line.quantity_hundredths,
            unit_price_pence=line.price.unit_price_pence,
            amount_pence=line.amount_pence,
            includes_earlier_work=line.includes_earlier_work,
            event_count=line.events,
            minutes=line.minutes,
        )
        for position, line in enumerate(bill.lines, start=1)
    )
    db.session.flush()
    invoice.subtotal_pence, invoice.vat_pence, invoice.total_pence = (
        bill.subtotal_pence,
        bill.vat_pence,
        bill.total_pence,
    )
    # Kept beside the lines, from the same pass of the rules: the draft's page shows them as they
    # were generated, with the lines, instead of reading the contract's whole history again.
    invoice.unpriced_count = bill.unpriced_count
    invoice.unpriced = [work.as_json() for work in bill.unpriced[:UNPRICED_KEPT]]
    invoice.generated_at = utcnow()


def _freeze_events(invoice: Invoice, contract: Contract) -> None:
    """Store the invoice's events, live, so no other invoice can bill them; roll back if the
    records moved while they were being stored, or another invoice took some of the work."""
    try:
        matches = billing.store_events(invoice, contract)
        db.session.flush()
    except IntegrityError:
        matches = False
    if matches:
        billing.refresh_billed_marks(billing.sessions_marked_by(invoice.id))
    if not matches:
        db.session.rollback()
        raise StaleRecord(
            "Some of this work changed, or was invoiced on another invoice, a moment ago. "
            "Generate the invoice again to see what is left to bill"
        )


def _cap_excess(contract: Contract, invoice: Invoice) -> int:
    """How far this invoice would take approved and submitted spend past the contract's cap."""
    spent = billing.spend_pence(contract) - invoice.spend_pence
    return max(0, spent + invoice.subtotal_pence - contract.value_cap_pence)


def generate_draft(actor: Any, contract: Contract, period: Any, *, early_reason: Any = None) -> Invoice:
    """The draft invoice for a month, built from the records by the billing rules. A contract has
    one draft at a time: generating again replaces it. A month still running is invoiced before its
    last working day only with `early_reason`, which the draft keeps (and the invoice shows)."""
    access.require(actor, "generate_invoices", contract)
    lock(contract)  # one draft per contract: a second generation waits, then replaces the first's
    grants.refuse_rate_card_invoice(contract)
    period_start = check_period(contract, period)
    reason = _early_reason(period_start, early_reason)
    partner = db.session.get(Organisation, contract.partner_id)
    ensure_sequence(partner)
    draft = db.session.scalars(
        select(Invoice).where(
            Invoice.contract_id == contract.id, Invoice.kind == InvoiceKind.INVOICE, Invoice.status == S.DRAFT
        )
    ).first()
    replaced = draft is not None
    if draft is None:
        draft = Invoice(
            kind=InvoiceKind.INVOICE,
            contract_id=contract.id,
            partner_id=contract.partner_id,
            status=S.DRAFT,
            vat_rate_bp=contract.vat_rate_bp,
            period_start=period_start,
        )
        db.session.add(draft)
        db.session.flush()
    draft.period_start = period_start
    draft.early_reason = reason
    draft.vat_rate_bp = contract.vat_rate_bp
    draft.generated_by_id = actor.id
    draft.excess_approved_pence = draft.excess_approved_at = draft.excess_approved_by_id = None
    _store_lines(draft, billing.bill_for(contract, period_start))
    draft.cap_excess_pence = _cap_excess(contract, draft)
    record_event(
        "invoice.generated",
        actor=actor,
        record=draft,
        details={
            "contract": contract.reference,
            "period": period_start.strftime("%Y-%m"),
            "replaced_draft": replaced,
            "subtotal_pence": draft.subtotal_pence,
            "total_pence": draft.total_pence,
            "cap_excess_pence": draft.cap_excess_pence,
            "early_reason": reason,
        },
    )
    commit("invoice")
    return draft


def regenerate_draft(actor: Any, invoice: Invoice) -> Invoice:
    """Generate a draft again for its own month (the records may have changed since), keeping the
    reason it was generated early, if it still is."""
    if invoice.status != S.DRAFT or invoice.is_credit_note:
        raise InvalidTransition("Only a draft invoice is generated again: this one has been submitted")
    return generate_draft(actor, _contract(invoice), invoice.period_start, early_reason=invoice.early_reason)


@guards_versions("invoice")
def revise_invoice(actor: Any, invoice: Invoice, *, version: int | None = None) -> Invoice:
    """A queried invoice is revised by generating its figures again (its own events count as
    free); it keeps its number and is then resubmitted."""
    access.require(actor, "bill", invoice)
    lock(invoice)
    contract = _contract(invoice)
    check_version(invoice, version, "invoice")
    if invoice.status != S.QUERIED:
        raise InvalidTransition("Only a queried invoice can be revised")
    # Its own events count as free while it is counted again: they are replaced by the new ones.
    # (Their sessions' marks are cleared with them, or the freezing would take them for billed.)
    were_marked = db.session.scalars(billing.sessions_marked_by(invoice.id)).all()
    _store_lines(invoice, billing.bill_for(contract, invoice.period_start, exclude_invoice_id=invoice.id))
    billing.refresh_billed_marks(were_marked)
    _freeze_events(invoice, contract)
    invoice.cap_excess_pence = _cap_excess(contract, invoice)
    invoice.generated_by_id = actor.id
    record_event(
        "invoice.revised",
        actor=actor,
        record=invoice,
        details={"total_pence": invoice.total_pence, "subtotal_pence": invoice.subtotal_pence},
    )
    commit("invoice")
    return invoice


@guards_versions("invoice")
def submit_invoice(actor: Any, invoice: Invoice, *, version: int | None = None) -> Invoice:
    """Submit a draft (or a revised, queried invoice): it takes its number, its figures are frozen
    and its events can be billed on no other invoice. If the records changed since the draft
    was made, the draft is brought up to date and nothing is submitted."""
    access.require(actor, "bill", invoice)
    lock(invoice)
    contract = _contract(invoice)
    check_version(invoice, version, "invoice")
    INVOICE_WORKFLOW.check(invoice, "submit")
    if invoice.is_credit_note:
        raise InvalidTransition("Credit notes are submitted when they are raised")
    queried = invoice.status == S.QUERIED
    current = billing.bill_for(contract, invoice.period_start, exclude_invoice_id=invoice.id if queried else None)
    if current.signature != billing.stored_signature(invoice):
        if not queried:
            _store_lines(invoice, current)
            invoice.cap_excess_pence = _cap_excess(contract, invoice)
            commit("invoice")
        raise ValidationFailed.single(
            "invoice",
            "The records changed since this invoice was generated. "
            + (
                "Revise it to see the updated figures, then submit again"
                if queried
                else "Check the updated figures, then submit again"
            ),
        )
    if not _has_lines(invoice):
        raise ValidationFailed.single("invoice", "There is nothing to bill for this month")
    if not queried and payment_terms.invoiced_early(invoice.period_start, london_today()) and not invoice.early_reason:
        raise ValidationFailed.single(
            "early_reason",
            "This month is still running. Generate the invoice again giving the reason it must be invoiced "
            f"before {format_date(payment_terms.last_working_day(invoice.period_start))}",
        )
    invoice.cap_excess_pence = _cap_excess(contract, invoice)
    if invoice.needs_excess_approval:
        raise ValidationFailed.single(
            "invoice",
            f"This invoice takes spend {format_money(invoice.cap_excess_pence)} past the contract's "
            "value cap. A contract manager must approve the excess before it can be submitted",
        )
    first_submission = invoice.number is None
    if first_submission:
        invoice.number = take_number(contract.partner_id)
    today = london_today()
    held = 0
    if queried:
        # The payment clock stood stopped from the query to now: the due date moves on by as much.
        held = max(0, (today - (london_day(invoice.queried_at) or today)).days)
    from portal.remittance.service import freeze_remittance

    freeze_remittance(invoice, contract)
    INVOICE_WORKFLOW.apply(
        invoice,
        "submit",
        actor,
        details={
            "number": invoice.number,
            "total_pence": invoice.total_pence,
            "resubmitted": not first_submission,
            "days_held": held,
            "early_reason": invoice.early_reason,
        },
    )
    if invoice.received_on is None or invoice.due_date is None:
        invoice.received_on = today
        invoice.due_date = today + timedelta(days=contract.payment_terms_days)
    else:
        invoice.days_held = (invoice.days_held or 0) + held
        invoice.due_date = invoice.due_date + timedelta(days=held)
    if not queried:
        _freeze_events(invoice, contract)
    _tell("invoice_submitted", invoice, actor, resubmitted=not first_submission)
    commit("invoice")
    return invoice


def _has_lines(invoice: Invoice) -> bool:
    return db.session.scalar(select(exists().where(InvoiceLine.invoice_id == invoice.id))) or False


# --- the CRC's decisions ----------------------------------------------------------------------------------


@guards_versions("invoice")
def approve_invoice(actor: Any, invoice: Invoice, *, version: int | None = None) -> Invoice:
    access.require(actor, "decide", invoice)
    lock(invoice)
    check_version(invoice, version, "invoice")
    if invoice.is_credit_note and invoice.raised_by_id == actor.id:
        raise NotAllowed(RAISER_CANNOT_APPROVE)
    INVOICE_WORKFLOW.apply(
        invoice, "approve", actor, details={"number": invoice.number, "total_pence": invoice.total_pence}
    )
    if invoice.is_credit_note and invoice.rebill:
        # The credited work may now be billed again.
        db.session.execute(
            update(InvoiceEvent)
            .where(
                InvoiceEvent.id.in_(select(InvoiceEvent.credits_event_id).where(InvoiceEvent.invoice_id == invoice.id))
            )
            .values(live=False)
        )
        # The credit note's events are copies of the credited ones: they name the same sessions.
        billing.refresh_billed_marks(billing.sessions_marked_by(invoice.id))
    elif invoice.is_credit_note:
        # Outcomes credited for good are `credited`: out of every figure that counts verified outcomes.
        credited = db.session.scalars(
            select(InvoiceEvent.outcome_id).where(
                InvoiceEvent.invoice_id == invoice.id, InvoiceEvent.outcome_id.is_not(None)
            )
        ).all()
        credit_outcomes(actor, sorted(set(credited)), credit_note=invoice.number)
    _tell(
        "invoice_decided",
        invoice,
        actor,
        decision="approved",
        reason=None,
        next_step="It is due for payment on " + format_date(invoice.due_date) + "."
        if not invoice.is_credit_note
        else "",
    )
    commit("invoice")
    return invoice


RAISER_CANNOT_APPROVE = "Another contract manager must approve this credit note: you raised it"


def _reason(value: Any, message: str) -> str:
    text = str(value or "").strip()
    if not text:
        raise ValidationFailed.single("reason", message)
    return text[:2000]


def _decide_with_reason(
    actor: Any, invoice: Invoice, transition: str, version: int | None, reason: Any, ask: str
) -> str:
    """A contract manager's decision that gives its reason (query, reject): checked and applied."""
    access.require(actor, "decide", invoice)
    lock(invoice)
    check_version(invoice, version, "invoice")
    INVOICE_WORKFLOW.check(invoice, transition)
    if transition == "query" and invoice.is_credit_note:
        raise InvalidTransition("A credit note is approved or rejected, not queried")
    reason = _reason(reason, ask)
    INVOICE_WORKFLOW.apply(invoice, transition, actor, details={"number": invoice.number, "reason": reason})
    return reason


@guards_versions("invoice")
def query_invoice(actor: Any, invoice: Invoice, *, reason: str, version: int | None = None) -> Invoice:
    ask = "Say what needs checking, so the partner can put it right"
    invoice.query_reason = _decide_with_reason(actor, invoice, "query", version, reason, ask)
    db.session.add(InvoiceMessage(invoice_id=invoice.id, author_id=actor.id, kind="query", body=invoice.query_reason))
    _tell(
        "invoice_decided",
        invoice,
        actor,
        decision="queried",
        reason=invoice.query_reason,
        next_step="Reply to the query on the invoice's page, or revise the invoice and submit it again.",
    )
    commit("invoice")
    return invoice


@guards_versions("invoice")
def reject_invoice(actor: Any, invoice: Invoice, *, reason: str, version: int | None = None) -> Invoice:
    """Reject: the invoice is void and its events can be billed again on a new one."""
    ask = "Say why the invoice is rejected"
    invoice.rejection_reason = _decide_with_reason(actor, invoice, "reject", version, reason, ask)
    db.session.execute(update(InvoiceEvent).where(InvoiceEvent.invoice_id == invoice.id).values(live=False))
    billing.refresh_billed_marks(billing.sessions_marked_by(invoice.id))
    if invoice.is_credit_note:
        db.session.execute(
            update(InvoiceEvent).where(InvoiceEvent.credited_by_id == invoice.id).values(credited_by_id=None)
        )
    _tell(
        "invoice_decided",
        invoice,
        actor,
        decision="rejected",
        reason=invoice.rejection_reason,
        next_step="" if invoice.is_credit_note else "Its work can be billed again on the next invoice you generate.",
    )
    commit("invoice")
    return invoice


MAX_PAYMENT_REFERENCE = 60


@guards_versions("invoice")
def mark_paid(
    actor: Any, invoice: Invoice, *, paid_on: Any, payment_reference: Any, version: int | None = None
) -> Invoice:
    """Record the payment: its date and the reference on the bank transfer (so the partner can match
    it), and how promptly it was paid (payment_terms: days to pay, paid late)."""
    access.require(actor, "decide", invoice)
    lock(invoice)
    check_version(invoice, version, "invoice")
    INVOICE_WORKFLOW.check(invoice, "pay")
    errors: dict[str, list[str]] = {}
    day = paid_on if isinstance(paid_on, date) else parse_user_date(str(paid_on or ""))
    received = invoice.received_on or london_day(invoice.submitted_at)
    if day is None:
        errors["paid_on"] = ["Enter the date it was paid, as a real date"]
    elif day > london_today():
        errors["paid_on"] = ["The payment date cannot be in the future"]
    elif received is not None and day < received:
        errors["paid_on"] = ["The payment date cannot be before the invoice was submitted"]
    reference = " ".join(str(payment_reference or "").split())
    if not reference:
        errors["payment_reference"] = ["Enter the payment reference, as it appears on the bank transfer"]
    elif len(reference) > MAX_PAYMENT_REFERENCE:
        errors["payment_reference"] = [f"The payment reference must be {MAX_PAYMENT_REFERENCE} characters or fewer"]
    if errors:
        raise ValidationFailed(errors)
    assert day is not None
    days = payment_terms.days_to_pay(received or day, day, invoice.days_held or 0)
    late = invoice.due_date is not None and day > invoice.due_date
    INVOICE_WORKFLOW.apply(
        invoice,
        "pay",
        actor,
        details={
            "number": invoice.number,
            "paid_on": day,
            "payment_reference": reference,
            "days_to_pay": days,
            "paid_late": late,
        },
    )
    invoice.paid_on, invoice.payment_reference = day, reference
    invoice.days_to_pay, invoice.paid_late = days, late
    _tell(
        "invoice_decided",
        invoice,
        actor,
        decision="marked as paid",
        reason=None,
        next_step=f"Paid on {format_date(day)}, payment reference {reference}.",
    )
    commit("invoice")
    return invoice


@guards_versions("invoice")
def approve_excess(actor: Any, invoice: Invoice, *, version: int | None = None) -> Invoice:
    """A contract manager explicitly allows this invoice to take spend past the cap (recorded)."""
    access.require(actor, "decide", invoice)
    lock(invoice)
    contract = _contract(invoice)
    check_version(invoice, version, "invoice")
    if invoice.status not in (S.DRAFT, S.QUERIED) or invoice.cap_excess_pence <= 0:
        raise InvalidTransition("Only a draft that goes past the cap needs its excess approved")
    invoice.excess_approved_pence = invoice.cap_excess_pence
    invoice.excess_approved_at, invoice.excess_approved_by_id = utcnow(), actor.id
    record_event(
        "invoice.excess_approved",
        actor=actor,
        record=invoice,
        details={
            "contract": contract.reference,
            "excess_pence": invoice.cap_excess_pence,
            "cap_pence": contract.value_cap_pence,
        },
    )
    commit("invoice")
    return invoice


# --- the query thread -------------------------------------------------------------------------------------

MAX_MESSAGE = 2000


def add_query_message(actor: Any, invoice: Invoice, body: str) -> InvoiceMessage:
    """A message in a queried invoice's thread: the partner replies while it is queried; the CRC
    answers while it is queried or, once resubmitted, before deciding. Both sides are told."""
    text = str(body or "").strip()
    if access.can(actor, "bill", invoice):
        kind, event = "reply", "invoice_query_replied"
        lock(invoice)  # a reply racing the CRC's decision waits for it, then sees the invoice as decided
        if invoice.status != S.QUERIED:
            raise InvalidTransition("You can reply while the invoice is queried")
    else:
        access.require(actor, "decide", invoice)
        kind, event = "answer", "invoice_query_answered"
        lock(invoice)
        if invoice.status not in (S.QUERIED, S.SUBMITTED) or invoice.queried_at is None:
            raise InvalidTransition("You can answer while the invoice's query is open")
    if not text:
        raise ValidationFailed.single("body", "Enter your message")
    if len(text) > MAX_MESSAGE:
        raise ValidationFailed.single("body", f"Your message must be {MAX_MESSAGE:,} characters or fewer")
    message = InvoiceMessage(invoice_id=invoice.id, author_id=actor.id, kind=kind, body=text)
    db.session.add(message)
    db.session.flush()
    record_event(f"invoice.query_{kind}", actor=actor, record=invoice, details={"number": invoice.number})
    _tell(event, invoice, actor, message=message, author=actor)
    commit("invoice")
    return message


def query_thread(invoice: Invoice) -> list[InvoiceMessage]:
    """The invoice's query thread, oldest first (an invoice the caller can see)."""
    from sqlalchemy.orm import joinedload

    return list(
        db.session.scalars(
            select(InvoiceMessage)
            .where(InvoiceMessage.invoice_id == invoice.id)
            .options(joinedload(InvoiceMessage.author))
            .order_by(InvoiceMessage.created_at, InvoiceMessage.id)
        ).all()
    )


# --- credit notes ---------------------------------------------------------------------------------------


def creditable_events(invoice: Invoice) -> list[InvoiceEvent]:
    return list(
        db.session.scalars(
            select(InvoiceEvent)
            .where(
                InvoiceEvent.invoice_id == invoice.id,
                InvoiceEvent.credited_by_id.is_(None),
                InvoiceEvent.credits_event_id.is_(None),
            )
            .order_by(InvoiceEvent.line_id, InvoiceEvent.event_date)
        ).all()
    )


def raise_credit_note(
    actor: Any, invoice: Invoice, *, event_ids: list[int], reason: str, rebill: bool, version: int | None = None
) -> Invoice:
    """Credit chosen events of a submitted, approved or paid invoice. The credit note takes the next
    number in the partner's sequence, has negative amounts and waits for a contract manager's
    approval; with `rebill`, the credited work can be billed again once it is approved. `version`:
    the invoice's version the user read (a form), so a decision taken meanwhile is noticed."""
    access.require(actor, "credit", invoice)
    lock(invoice)
    contract = _contract(invoice)
    check_version(invoice, version, "invoice")
    if invoice.is_credit_note:
        raise ValidationFailed.single("invoice", "A credit note cannot itself be credited")
    if invoice.status not in CREDITABLE:
        raise InvalidTransition("Only a submitted, approved or paid invoice can be credited")
    reason = _reason(reason, "Say why the work is credited, for example a session recorded in error")
    available = {event.id: event for event in creditable_events(invoice)}
    chosen = [available.get(as_id(event_id)) for event_id in event_ids if as_id(event_id) is not None]
    if not chosen or any(event is None for event in chosen):
        raise ValidationFailed.single("event_ids", "Choose the work to credit from this invoice's uncredited lines")
    lines = {
        line.id: line
        for line in db.session.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)).all()
    }
    note = Invoice(
        kind=InvoiceKind.CREDIT_NOTE,
        contract_id=contract.id,
        partner_id=contract.partner_id,
        period_start=invoice.period_start,
        status=S.SUBMITTED,
        vat_rate_bp=invoice.vat_rate_bp,
        credited_invoice_id=invoice.id,
        credit_reason=reason,
        rebill=bool(rebill),
        raised_by_id=actor.id,
        submitted_at=utcnow(),
        submitted_by_id=actor.id,
        due_date=london_today() + timedelta(days=contract.payment_terms_days),
    )
    from portal.remittance.service import freeze_remittance

    freeze_remittance(note, contract)
    db.session.add(note)
    db.session.flush()
    by_line: dict[int, list[InvoiceEvent]] = {}
    for event in chosen:
        by_line.setdefault(event.line_id, []).append(event)
    amounts = []
    for position, (line_id, events) in enumerate(sorted(by_line.items()), start=1):
        line = lines[line_id]
        if line.unit.value == "per_hour":
            hundredths = billing.hours_hundredths(sum(event.minutes for event in events))
        else:
            hundredths = 100 * len(events)
        amount = -round_half_up(Decimal(hundredths) / 100 * line.unit_price_pence)
        credit_line = InvoiceLine(
            invoice_id=note.id,
            position=position,
            item_id=line.item_id,
            price_id=line.price_id,
            item_code=line.item_code,
            service_code=line.service_code,
            description=f"Credit: {line.description}"[:300],
            unit=line.unit,
            quantity_hundredths=-hundredths,
            unit_price_pence=line.unit_price_pence,
            amount_pence=amount,
            event_count=len(events),
            minutes=sum(event.minutes for event in events),
        )
        db.session.add(credit_line)
        db.session.flush()
        amounts.append(amount)
        for event in events:
            db.session.add(
                InvoiceEvent(
                    invoice_id=note.id,
                    line_id=credit_line.id,
                    item_id=event.item_id,
                    event_key=event.event_key,
                    referral_id=event.referral_id,
                    session_id=event.session_id,
                    outcome_id=event.outcome_id,
                    event_date=event.event_date,
                    minutes=event.minutes,
                    live=False,
                    credits_event_id=event.id,
                )
            )
    # Conditional, so of two credit notes raised at once for the same work only one takes it (the
    # probe credited NACRO-000036 and -000037 for one outcome): the other is refused, nothing kept.
    chosen_ids = [event.id for event in chosen]
    taken = db.session.execute(
        update(InvoiceEvent)
        .where(InvoiceEvent.id.in_(chosen_ids), InvoiceEvent.credited_by_id.is_(None))
        .values(credited_by_id=note.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != len(chosen_ids):
        db.session.rollback()
        raise StaleRecord("Some of this work was credited on another credit note a moment ago. Check the invoice again")
    note.subtotal_pence, note.vat_pence, note.total_pence = billing.totals(amounts, note.vat_rate_bp)
    already = (
        db.session.scalar(
            select(func.coalesce(func.sum(Invoice.total_pence), 0)).where(
                Invoice.credited_invoice_id == invoice.id, Invoice.status != S.REJECTED, Invoice.id != note.id
            )
        )
        or 0
    )
    if -(note.total_pence + already) > invoice.total_pence:
        db.session.rollback()
        raise ValidationFailed.single("event_ids", "A credit note cannot be larger than what is left of the invoice")
    note.number = take_number(contract.partner_id)
    record_event(
        "invoice.credit_note_raised",
        actor=actor,
        record=note,
        details={
            "number": note.number,
            "credits": invoice.number,
            "total_pence": note.total_pence,
            "rebill": note.rebill,
            "reason": reason,
            "events": [event.event_key for event in chosen],
        },
    )
    _tell("credit_note_raised", note, actor, credited=invoice, raised_by=actor)
    commit("invoice")
    return note


# --- reading -------------------------------------------------------------------------------------------


def events_of_line(line: InvoiceLine) -> list[Any]:
    """The events a line bills (rows with item_id, event_key, event_date, referral_id, session_id,
    outcome_id, minutes): frozen once submitted, as the rules give them now on a draft."""
    invoice = db.session.get(Invoice, line.invoice_id)
    events = billing.line_events(line, invoice).subquery()
    return list(db.session.execute(select(events).order_by(events.c.event_date, events.c.event_key)).all())


# --- what other domains ask of invoicing -------------------------------------------------------------------


def _price_on_live_invoice(price: RateCardPrice) -> bool:
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    InvoiceLine.price_id == price.id,
                    InvoiceLine.invoice_id.in_(select(Invoice.id).where(Invoice.status.in_(LIVE_STATUSES))),
                )
            )
        )
    )


def _sessions_on_live_invoices(session_ids: Collection[int]) -> set[int]:
    return set(
        db.session.scalars(
            select(InvoiceEvent.session_id)
            .where(InvoiceEvent.session_id.in_(list(session_ids)), InvoiceEvent.live.is_(True))
            .distinct()
        ).all()
    )


def _outcome_on_live_invoice(outcome: Outcome) -> bool:
    return bool(
        db.session.scalar(select(exists().where(InvoiceEvent.outcome_id == outcome.id, InvoiceEvent.live.is_(True))))
    )


def register_hooks() -> None:
    """Tell contracts and delivery what invoicing knows: what is locked, and what is spent."""
    for hooks, check in (
        (contracts_service.price_usage_checks, _price_on_live_invoice),
        (corrections.session_lock_checks, _sessions_on_live_invoices),
        (corrections.outcome_lock_checks, _outcome_on_live_invoice),
        (contracts_service.spend_calculators, billing.spend_pence),
    ):
        if check not in hooks:
            hooks.append(check)


# --- what the pages ask --------------------------------------------------------------------------------


def actions_for(actor: Any, invoice: Invoice) -> frozenset[str]:
    """What `actor` may do to `invoice` now (an invoice they can see): the buttons a page offers.
    The operations check again; this only keeps pages from offering what would be refused."""
    mine = access.can(actor, "bill", invoice)
    deciding = access.can(actor, "decide", invoice)
    actions: set[str] = set()
    if invoice.is_credit_note:
        if deciding and invoice.status == S.SUBMITTED:
            actions.add("reject")
            if invoice.raised_by_id != actor.id:  # four eyes: who raised it does not approve it
                actions.add("approve")
        return frozenset(actions)
    if mine:
        if invoice.status == S.DRAFT:
            actions |= {"regenerate", "submit"}
        if invoice.status == S.QUERIED:
            actions |= {"revise", "submit"}
    if deciding:
        if invoice.status == S.SUBMITTED:
            actions |= {"approve", "query", "reject"}
        if invoice.status == S.APPROVED:
            actions.add("pay")
        if invoice.status in (S.DRAFT, S.QUERIED) and invoice.needs_excess_approval:
            actions.add("approve_excess")
    if access.can(actor, "credit", invoice) and invoice.status in CREDITABLE:
        actions.add("credit")
    return frozenset(actions)


def refusal(invoice: Invoice, action: str) -> str:
    """Why `action` (a name `actions_for` gives) is not open on this invoice now."""
    if action == "credit":
        if invoice.is_credit_note:
            return "A credit note cannot itself be credited"
        return "Only a submitted, approved or paid invoice can be credited"
    if action == "query" and invoice.is_credit_note:
        return "A credit note is approved or rejected, not queried"
    if action == "approve_excess":
        return "Only a draft that goes past the cap needs its excess approved"
    if action == "approve" and invoice.is_credit_note and invoice.status == S.SUBMITTED:
        return RAISER_CANNOT_APPROVE
    transition = INVOICE_WORKFLOW.transitions.get(action)
    return transition.refusal if transition else "This cannot be done to the invoice now"


@dataclass(frozen=True)
class CapPosition:
    """Where an invoice leaves the contract's spend against its value cap (pence, before VAT)."""

    cap_pence: int
    spent_pence: int  # by other live invoices, less approved credit notes
    this_invoice_pence: int
    excess_pence: int
    excess_approved_pence: int | None
    excess_approved_at: datetime | None
    excess_approved_by_id: int | None

    @property
    def excess_approved(self) -> bool:
        return self.excess_pence > 0 and (self.excess_approved_pence or 0) >= self.excess_pence


def cap_position(invoice: Invoice) -> CapPosition:
    contract = _contract(invoice)
    return CapPosition(
        cap_pence=contract.value_cap_pence,
        spent_pence=billing.spend_pence(contract) - invoice.spend_pence,
        this_invoice_pence=invoice.subtotal_pence,
        excess_pence=invoice.cap_excess_pence,
        excess_approved_pence=invoice.excess_approved_pence,
        excess_approved_at=invoice.excess_approved_at,
        excess_approved_by_id=invoice.excess_approved_by_id,
    )


@dataclass(frozen=True)
class Balance:
    """What an invoice comes to after its credit notes (pence, VAT included)."""

    total_pence: int
    credited_pence: int  # by approved credit notes, as a positive amount
    pending_credit_pence: int  # by credit notes waiting for approval
    paid: bool

    @property
    def net_pence(self) -> int:
        """The invoice less what approved credit notes took off it."""
        return self.total_pence - self.credited_pence

    @property
    def outstanding_pence(self) -> int:
        """Still to be paid: nothing once paid (a credit note after payment is owed back)."""
        return 0 if self.paid else max(0, self.net_pence)


def balances(invoices: Collection[Invoice]) -> dict[int, Balance]:
    """Each invoice's balance after its credit notes, in one query however many invoices."""
    ids = [invoice.id for invoice in invoices if not invoice.is_credit_note]
    sums: dict[tuple[int, bool], int] = {}
    if ids:
        approved = Invoice.status.in_((S.APPROVED, S.PAID))
        for credited_id, is_approved, total in db.session.execute(
            select(Invoice.credited_invoice_id, approved, func.sum(Invoice.total_pence))
            .where(Invoice.credited_invoice_id.in_(ids), Invoice.status.in_((S.SUBMITTED, S.APPROVED, S.PAID)))
            .group_by(Invoice.credited_invoice_id, approved)
        ):
            sums[(credited_id, bool(is_approved))] = -int(total or 0)
    return {
        invoice.id: Balance(
            total_pence=invoice.total_pence,
            credited_pence=sums.get((invoice.id, True), 0),
            pending_credit_pence=sums.get((invoice.id, False), 0),
            paid=invoice.status == S.PAID,
        )
        for invoice in invoices
        if not invoice.is_credit_note
    }


def balance(invoice: Invoice) -> Balance | None:
    """The invoice's balance after credit notes (None for a credit note)."""
    return balances([invoice]).get(invoice.id)
