"""Properties of invoicing over random histories (Hypothesis, on the real database): whatever the
order of recording, generating, submitting, rejecting, approving and crediting, no billable event
is ever on two live invoices, and every approved amount equals the sum of its priced events."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal import integrity
from portal.contracts.models import Unit
from portal.errors import InvalidTransition, ValidationFailed
from portal.extensions import db
from portal.invoicing import service
from portal.invoicing.models import Invoice, InvoiceEvent, InvoiceKind, InvoiceLine, InvoiceStatus
from portal.referrals.models import ReferralStatus
from tests.factories import (
    ContractFactory,
    OutcomeFactory,
    OutcomeTypeFactory,
    PartnerFactory,
    RateCardItemFactory,
    RateCardPriceFactory,
    ReferralFactory,
    SessionFactory,
    UserFactory,
)

MONTHS = [date(2026, month, 1) for month in range(4, 11)]

# Weighted so that histories often record work, then generate and submit more than once.
action = st.one_of(
    st.tuples(st.just("session"), st.integers(0, 6), st.integers(1, 28), st.integers(15, 240), st.booleans()),
    st.tuples(st.just("session"), st.integers(0, 6), st.integers(1, 28), st.integers(15, 240), st.booleans()),
    st.tuples(st.just("outcome"), st.integers(0, 6), st.integers(1, 28)),
    st.tuples(st.just("generate"), st.integers(0, 6)),
    st.tuples(st.just("generate"), st.integers(0, 6)),
    st.tuples(st.just("submit")),
    st.tuples(st.just("submit")),
    st.tuples(st.just("approve")),
    st.tuples(st.just("reject")),
    st.tuples(st.just("credit"), st.booleans()),
    st.tuples(st.just("approve_credit")),
)
actions = st.lists(action, min_size=1, max_size=30)


def _contract(crc, referrer):
    """A fresh partner and contract for each example, so examples never share a number sequence."""
    partner = PartnerFactory()
    manager = UserFactory(organisation=partner, role="provider_manager")
    caseworker = UserFactory(organisation=partner)
    contract = ContractFactory(crc=crc, partner=partner, start_date=date(2026, 4, 1), vat_rate_bp=2000)
    outcome_type = OutcomeTypeFactory(contract=contract, code="entered_employment")
    for code, unit, pence, extra in (
        ("REF", Unit.PER_REFERRAL, 15000, {}),
        ("SES", Unit.PER_SESSION, 4550, {"max_units_per_referral": 4}),
        ("HR", Unit.PER_HOUR, 3125, {}),
        ("RAR", Unit.PER_RAR_DAY, 11000, {}),
        ("OUT", Unit.PER_OUTCOME, 40000, {"outcome_type": outcome_type}),
        ("FIX", Unit.MONTHLY_FIXED, 99999, {}),
    ):
        item = RateCardItemFactory(contract=contract, code=code, service_code="SVC", unit=unit, **extra)
        RateCardPriceFactory(
            item=item, unit_price_pence=pence, effective_from=date(2026, 4, 1), effective_to=date(2026, 7, 15)
        )
        RateCardPriceFactory(item=item, unit_price_pence=pence + 500, effective_from=date(2026, 7, 16))
    referral = ReferralFactory(
        contract=contract,
        service_code="SVC",
        referrer=referrer,
        status=ReferralStatus.IN_PROGRESS,
        rar_days=3,
        accepted_at=datetime(2026, 4, 1, 9, tzinfo=UTC),
    )
    return contract, manager, caseworker, referral, outcome_type


def _apply(action, contract, manager, caseworker, contract_manager, referral, outcome_type):
    kind = action[0]
    invoices = db.session.scalars(select(Invoice).where(Invoice.contract_id == contract.id).order_by(Invoice.id)).all()

    def latest(kind_, *statuses):
        return next((i for i in reversed(invoices) if i.kind == kind_ and i.status in statuses), None)

    if kind == "session":
        _, month, day, minutes, rar = action
        SessionFactory(
            referral=referral,
            date=MONTHS[month].replace(day=day),
            start_time=time(9),
            duration_minutes=minutes,
            counts_as_rar_day=rar,
            recorded_by=caseworker,
        )
    elif kind == "outcome":
        _, month, day = action
        OutcomeFactory(
            referral=referral,
            outcome_type=outcome_type,
            achieved_on=MONTHS[month].replace(day=day),
            evidence="seen",
            claimed_by=caseworker,
            verified=True,
        )
    elif kind == "generate":
        service.generate_draft(manager, contract, MONTHS[action[1]])
    elif kind == "submit" and (invoice := latest(InvoiceKind.INVOICE, InvoiceStatus.DRAFT)):
        service.submit_invoice(manager, invoice)
    elif kind == "approve" and (invoice := latest(InvoiceKind.INVOICE, InvoiceStatus.SUBMITTED)):
        service.approve_invoice(contract_manager, invoice)
    elif kind == "reject" and (invoice := latest(InvoiceKind.INVOICE, InvoiceStatus.SUBMITTED)):
        service.reject_invoice(contract_manager, invoice, reason="Checking")
    elif kind == "credit" and (invoice := latest(InvoiceKind.INVOICE, InvoiceStatus.SUBMITTED, InvoiceStatus.APPROVED)):
        events = service.creditable_events(invoice)
        if events:
            service.raise_credit_note(manager, invoice, event_ids=[events[0].id], reason="error", rebill=action[1])
    elif kind == "approve_credit" and (note := latest(InvoiceKind.CREDIT_NOTE, InvoiceStatus.SUBMITTED)):
        service.approve_invoice(contract_manager, note)


def _check_invariants(contract):
    twice = db.session.execute(
        select(InvoiceEvent.item_id, InvoiceEvent.event_key, func.count())
        .join(Invoice, Invoice.id == InvoiceEvent.invoice_id)
        .where(Invoice.contract_id == contract.id, InvoiceEvent.live.is_(True))
        .group_by(InvoiceEvent.item_id, InvoiceEvent.event_key)
        .having(func.count() > 1)
    ).all()
    assert twice == [], f"events live on two invoices: {twice}"
    on_two_live_invoices = db.session.execute(
        select(InvoiceEvent.item_id, InvoiceEvent.event_key, func.count(func.distinct(Invoice.id)))
        .join(Invoice, Invoice.id == InvoiceEvent.invoice_id)
        .where(
            Invoice.contract_id == contract.id,
            Invoice.kind == InvoiceKind.INVOICE,
            Invoice.status.in_(
                [InvoiceStatus.SUBMITTED, InvoiceStatus.QUERIED, InvoiceStatus.APPROVED, InvoiceStatus.PAID]
            ),
            InvoiceEvent.credited_by_id.is_(None),
        )
        .group_by(InvoiceEvent.item_id, InvoiceEvent.event_key)
        .having(func.count(func.distinct(Invoice.id)) > 1)
    ).all()
    assert on_two_live_invoices == [], f"uncredited work on two live invoices: {on_two_live_invoices}"
    # The sessions' billed marks follow every submission, rejection and credit note (the draft
    # trusts them to leave billed work out).
    assert integrity.billed_marks_match() == []

    for invoice in db.session.scalars(
        select(Invoice).where(Invoice.contract_id == contract.id, Invoice.status == InvoiceStatus.APPROVED)
    ):
        subtotal = 0
        for line in db.session.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)):
            events = db.session.scalars(select(InvoiceEvent).where(InvoiceEvent.line_id == line.id)).all()
            if line.unit == Unit.PER_HOUR:
                hours = (Decimal(sum(e.minutes for e in events)) / 60).quantize(Decimal("0.01"), ROUND_HALF_UP)
            else:
                hours = Decimal(len(events))
            quantity = -hours if invoice.kind == InvoiceKind.CREDIT_NOTE else hours
            assert Decimal(line.quantity_hundredths) / 100 == quantity
            expected = int((quantity * line.unit_price_pence).quantize(Decimal("1"), ROUND_HALF_UP))
            assert line.amount_pence == expected
            subtotal += expected
        assert invoice.subtotal_pence == subtotal
        vat = int((Decimal(subtotal) * Decimal(invoice.vat_rate_bp) / 10000).quantize(Decimal("1"), ROUND_HALF_UP))
        assert (invoice.vat_pence, invoice.total_pence) == (vat, subtotal + vat)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(history=actions)
def test_no_event_is_ever_on_two_live_invoices_and_approved_amounts_are_their_events(
    history, crc, referrer, contract_manager
):
    contract, manager, caseworker, referral, outcome_type = _contract(crc, referrer)
    for action in history:
        try:
            _apply(action, contract, manager, caseworker, contract_manager, referral, outcome_type)
        except (ValidationFailed, InvalidTransition):
            # Refusals (a stale draft, nothing to bill) are part of life. A StaleRecord from
            # submitting would mean the rules offered work already live elsewhere: a failure.
            db.session.rollback()
        _check_invariants(contract)


def test_a_month_boundary_session_is_priced_by_its_own_date(priced, work, nacro_manager):
    referral = work.referral(date(2026, 9, 1))
    work.session(referral, date(2026, 9, 30), 60)
    draft = service.generate_draft(nacro_manager, priced, "2026-09")
    assert draft.subtotal_pence > 0
    assert (date(2026, 9, 30) - timedelta(days=0)).month == 9
