"""Invoices from the records: generating, numbering, the approval workflow, credit notes and the cap."""

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.dates import london_today
from portal.delivery.models import Attendance
from portal.delivery.sessions import sessions_of, update_session
from portal.errors import InvalidTransition, NotAllowed, NotFound, StaleRecord, ValidationFailed
from portal.extensions import db
from portal.invoicing import service
from portal.invoicing.models import Invoice, InvoiceEvent, InvoiceKind, InvoiceStatus
from tests.factories import UserFactory
from tests.helpers import STORY_DAY

SEPTEMBER, OCTOBER = date(2026, 9, 1), date(2026, 10, 1)


pytestmark = pytest.mark.on_day(STORY_DAY)  # a worked example set in 2026


def lines_of(invoice):
    return [(line.item_code, str(line.quantity), line.unit_price_pence, line.amount_pence) for line in _lines(invoice)]


def _lines(invoice):
    from portal.invoicing.models import InvoiceLine

    return db.session.scalars(
        select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).order_by(InvoiceLine.position)
    ).all()


@pytest.fixture
def september_work(work):
    referral = work.referral(date(2026, 9, 2), rar_days=2)
    work.session(referral, date(2026, 9, 3), 90, rar=True)
    work.session(referral, date(2026, 9, 10), 45)
    work.session(referral, date(2026, 9, 17), 60, attendance=Attendance.DID_NOT_ATTEND)
    work.outcome(referral, work.contract.first_night, date(2026, 9, 20))
    work.outcome(referral, work.contract.first_night, date(2026, 9, 21), verified=False)
    return referral


def test_a_draft_bills_every_unit_by_the_rules(september_work, nacro_manager, priced):
    draft = service.generate_draft(nacro_manager, priced, "2026-09")
    assert draft.status == InvoiceStatus.DRAFT and draft.number is None
    assert lines_of(draft) == [
        ("TTG-HOUR", "2.25", 3000, 6750),  # 135 attended minutes
        ("TTG-NIGHT", "1.00", 40000, 40000),  # the verified outcome only
        ("TTG-RAR", "1.00", 11000, 11000),
        ("TTG-REF", "1.00", 15000, 15000),
        ("TTG-SESSION", "2.00", 4500, 9000),  # the missed session is not billed
    ]
    assert (draft.subtotal_pence, draft.vat_pence, draft.total_pence) == (81750, 16350, 98100)
    assert "invoice.generated" in db.session.scalars(select(AuditEvent.action)).all()


def test_a_draft_keeps_its_lines_and_drills_down_to_what_the_rules_bill_now(september_work, nacro_manager, priced):
    draft = service.generate_draft(nacro_manager, priced, "2026-09")
    # Nothing is spent by a draft: its events are frozen only when it is submitted.
    assert db.session.scalar(select(func.count()).select_from(InvoiceEvent)) == 0
    hours = next(line for line in _lines(draft) if line.item_code == "TTG-HOUR")
    events = service.events_of_line(hours)
    assert [(event.event_date, event.minutes) for event in events] == [(date(2026, 9, 3), 90), (date(2026, 9, 10), 45)]
    assert (hours.event_count, hours.minutes) == (2, 135)

    service.submit_invoice(nacro_manager, draft)
    frozen = service.events_of_line(hours)
    assert [(event.event_date, event.minutes) for event in frozen] == [(date(2026, 9, 3), 90), (date(2026, 9, 10), 45)]


def test_a_record_changed_since_the_draft_was_made_stops_the_submission(september_work, nacro_manager, priced, work):
    draft = service.generate_draft(nacro_manager, priced, "2026-09")
    work.session(september_work, date(2026, 9, 24), 30)
    with pytest.raises(ValidationFailed) as failure:
        service.submit_invoice(nacro_manager, draft)
    assert "records changed" in failure.value.errors["invoice"][0]
    refreshed = db.session.get(Invoice, draft.id)
    assert refreshed.status == InvoiceStatus.DRAFT and refreshed.number is None
    assert ("TTG-SESSION", "3.00", 4500, 13500) in lines_of(refreshed)  # brought up to date
    assert service.submit_invoice(nacro_manager, refreshed).number == "NACRO-000001"


def test_generating_again_replaces_the_draft(september_work, nacro_manager, priced):
    first = service.generate_draft(nacro_manager, priced, "2026-09")
    second = service.generate_draft(nacro_manager, priced, "2026-09")
    assert first.id == second.id
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == 1


@pytest.mark.parametrize(
    ("period", "message"),
    [("2025-03", "before the contract started"), ("2030-01", "not started"), ("September", "YYYY-MM")],
)
def test_months_outside_the_contract_or_in_the_future_are_refused(priced, nacro_manager, period, message):
    with pytest.raises(ValidationFailed) as failure:
        service.generate_draft(nacro_manager, priced, period)
    assert message in failure.value.errors["period"][0]


def test_only_the_partners_managers_generate_and_submit(priced, nacro_caseworker, st_giles_manager, contract_manager):
    with pytest.raises(NotAllowed):
        service.generate_draft(nacro_caseworker, priced, "2026-09")
    with pytest.raises(NotFound):
        service.generate_draft(st_giles_manager, priced, "2026-09")
    with pytest.raises(NotAllowed):
        service.generate_draft(contract_manager, priced, "2026-09")


def test_submission_numbers_freezes_and_spends_the_events(september_work, nacro_manager, priced, work):
    draft = service.generate_draft(nacro_manager, priced, "2026-09")
    submitted = service.submit_invoice(nacro_manager, draft)
    assert submitted.number == "NACRO-000001"
    assert submitted.due_date == london_today() + timedelta(days=30)
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(InvoiceEvent)
            .where(InvoiceEvent.invoice_id == draft.id, InvoiceEvent.live.is_(False))
        )
        == 0
    )
    # Later edits cannot change it: the session is locked, and a new draft bills nothing twice.
    session = sessions_of(september_work)[0]
    with pytest.raises(ValidationFailed):
        update_session(work.caseworker, session, {})
    october = service.generate_draft(nacro_manager, priced, "2026-10")
    assert lines_of(october) == []


def test_a_draft_gone_stale_is_refreshed_not_submitted(september_work, nacro_manager, priced, work):
    draft = service.generate_draft(nacro_manager, priced, "2026-09")
    work.session(september_work, date(2026, 9, 25), 30)
    with pytest.raises(ValidationFailed) as failure:
        service.submit_invoice(nacro_manager, draft)
    assert "The records changed" in failure.value.errors["invoice"][0]
    assert ("TTG-SESSION", "3.00", 4500, 13500) in lines_of(draft)
    assert service.submit_invoice(nacro_manager, draft).number == "NACRO-000001"


def test_late_recorded_work_goes_on_the_next_invoice_labelled_as_earlier_work(
    september_work, nacro_manager, priced, work
):
    service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    work.session(september_work, date(2026, 9, 28), 60)  # recorded after September was invoiced
    work.outcome(september_work, work.contract.first_night, date(2026, 9, 22))  # verified in October
    october = service.generate_draft(nacro_manager, priced, "2026-10")
    lines = _lines(october)
    assert {line.item_code for line in lines} == {"TTG-SESSION", "TTG-HOUR", "TTG-NIGHT"}
    assert all(line.includes_earlier_work for line in lines)
    assert all("includes work before October 2026" in line.description for line in lines)


def test_the_workflow_query_revise_resubmit_approve_pay(september_work, nacro_manager, contract_manager, priced, work):
    invoice = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    with pytest.raises(ValidationFailed):
        service.query_invoice(contract_manager, invoice, reason="")
    service.query_invoice(contract_manager, invoice, reason="The 10 September session looks like a duplicate")
    work.session(september_work, date(2026, 9, 29), 60)
    service.revise_invoice(nacro_manager, invoice)
    assert ("TTG-SESSION", "3.00", 4500, 13500) in lines_of(invoice)
    resubmitted = service.submit_invoice(nacro_manager, invoice)
    assert resubmitted.number == "NACRO-000001" and resubmitted.status == InvoiceStatus.SUBMITTED
    service.approve_invoice(contract_manager, invoice)
    with pytest.raises(ValidationFailed):
        service.mark_paid(
            contract_manager, invoice, paid_on=london_today() + timedelta(days=1), payment_reference="BACS 1"
        )
    service.mark_paid(contract_manager, invoice, paid_on=london_today(), payment_reference="BACS 1")
    assert invoice.status == InvoiceStatus.PAID
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.record_type == "invoice")).all()
    assert [a for a in actions if a != "invoice.generated"] == [
        "invoice.submitted",
        "invoice.queried",
        "invoice.revised",
        "invoice.submitted",
        "invoice.approved",
        "invoice.paid",
    ]


def test_acting_in_the_wrong_state_changes_nothing(september_work, nacro_manager, contract_manager, priced):
    draft = service.generate_draft(nacro_manager, priced, "2026-09")
    with pytest.raises(InvalidTransition):
        service.approve_invoice(contract_manager, draft)
    with pytest.raises(InvalidTransition):
        service.mark_paid(contract_manager, draft, paid_on=london_today(), payment_reference="BACS 1")
    assert draft.status == InvoiceStatus.DRAFT


def test_a_partner_never_approves_an_invoice(september_work, nacro_manager, st_giles_manager, priced):
    invoice = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    with pytest.raises(NotAllowed):
        service.approve_invoice(nacro_manager, invoice)
    with pytest.raises(NotFound):
        service.approve_invoice(st_giles_manager, invoice)


def test_a_rejected_invoices_events_are_billed_again(september_work, nacro_manager, contract_manager, priced):
    september = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    service.reject_invoice(contract_manager, september, reason="Wrong month")
    october = service.generate_draft(nacro_manager, priced, "2026-10")
    assert october.subtotal_pence == september.subtotal_pence
    assert service.submit_invoice(nacro_manager, october).number == "NACRO-000002"


def test_a_credit_note_with_rebill_frees_its_events_once_approved(
    september_work, nacro_manager, contract_manager, priced
):
    invoice = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    session_events = [
        e for e in service.creditable_events(invoice) if e.event_key.startswith("session:") and e.minutes == 0
    ]
    note = service.raise_credit_note(
        nacro_manager, invoice, event_ids=[session_events[0].id], reason="Session recorded in error", rebill=True
    )
    assert note.kind == InvoiceKind.CREDIT_NOTE and note.number == "NACRO-000002"
    assert note.total_pence < 0
    assert service.generate_draft(nacro_manager, priced, "2026-10").subtotal_pence == 0  # not freed yet
    service.approve_invoice(contract_manager, note)
    assert service.generate_draft(nacro_manager, priced, "2026-10").subtotal_pence > 0
    with pytest.raises(ValidationFailed):  # the same work cannot be credited twice
        service.raise_credit_note(
            contract_manager, invoice, event_ids=[session_events[0].id], reason="again", rebill=False
        )


def test_a_credit_note_without_rebill_keeps_the_work_spent(september_work, nacro_manager, contract_manager, priced):
    invoice = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    events = service.creditable_events(invoice)
    note = service.raise_credit_note(
        contract_manager, invoice, event_ids=[events[0].id], reason="Not delivered", rebill=False
    )
    with pytest.raises(NotAllowed, match="Another contract manager must approve this credit note"):
        service.approve_invoice(contract_manager, note)  # who raised it never approves it
    assert "approve" not in service.actions_for(contract_manager, note)
    colleague = UserFactory(organisation=contract_manager.organisation, role=contract_manager.role)
    assert "approve" in service.actions_for(colleague, note)
    service.approve_invoice(colleague, note)
    assert service.generate_draft(nacro_manager, priced, "2026-10").subtotal_pence == 0


def test_crediting_needs_a_reason_and_work_from_that_invoice(september_work, nacro_manager, priced):
    invoice = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    with pytest.raises(ValidationFailed):
        service.raise_credit_note(nacro_manager, invoice, event_ids=[], reason="x", rebill=False)
    with pytest.raises(ValidationFailed):
        service.raise_credit_note(nacro_manager, invoice, event_ids=[999999], reason="x", rebill=False)
    with pytest.raises(ValidationFailed):
        service.raise_credit_note(
            nacro_manager, invoice, event_ids=[service.creditable_events(invoice)[0].id], reason="", rebill=False
        )


def test_passing_the_cap_needs_the_contract_managers_explicit_approval(
    september_work, nacro_manager, contract_manager, priced
):
    priced.value_cap_pence = 50000
    db.session.commit()
    draft = service.generate_draft(nacro_manager, priced, "2026-09")
    assert draft.cap_excess_pence == 81750 - 50000
    with pytest.raises(ValidationFailed) as failure:
        service.submit_invoice(nacro_manager, draft)
    assert "past the contract's value cap" in failure.value.errors["invoice"][0]
    service.approve_excess(contract_manager, draft)
    assert service.submit_invoice(nacro_manager, draft).status == InvoiceStatus.SUBMITTED
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "invoice.excess_approved")).one()
    assert event.details["excess_pence"] == 31750 and event.actor_id == contract_manager.id


def test_spend_counts_live_invoices_less_approved_credit_notes(september_work, nacro_manager, contract_manager, priced):
    from portal.contracts.service import spend_to_date

    invoice = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    assert spend_to_date(priced) == 81750
    note = service.raise_credit_note(
        nacro_manager, invoice, event_ids=[service.creditable_events(invoice)[0].id], reason="x", rebill=False
    )
    assert spend_to_date(priced) == 81750
    service.approve_invoice(contract_manager, note)
    assert spend_to_date(priced) == 81750 + note.subtotal_pence


def test_prices_used_on_a_submitted_invoice_are_locked(september_work, nacro_manager, priced):
    from portal.contracts import service as contracts
    from portal.contracts.models import RateCardPrice

    service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    price = db.session.scalars(select(RateCardPrice)).first()
    assert contracts.price_is_locked(price)


@pytest.mark.postgres_only
def test_two_invoices_submitted_at_the_same_moment_get_consecutive_numbers(
    app, work, nacro_manager, nacro, crc, priced
):
    """Two partner managers submit two contracts' invoices at once: no duplicate, no gap."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent transactions are tested on PostgreSQL, the production database")
    from tests.factories import ContractFactory, RateCardItemFactory, RateCardPriceFactory

    second_contract = ContractFactory(crc=crc, partner=nacro, reference="BENCH-ACC-09")
    item = RateCardItemFactory(contract=second_contract, code="FIXED", unit="monthly_fixed")
    RateCardPriceFactory(item=item, unit_price_pence=1000, effective_from=date(2026, 4, 1))
    work.referral(date(2026, 9, 2))
    other_manager = UserFactory(organisation=nacro, role=nacro_manager.role, email="deputy@nacro.example")
    drafts = [
        service.generate_draft(nacro_manager, priced, "2026-09").id,
        service.generate_draft(other_manager, second_contract, "2026-09").id,
    ]
    managers = [nacro_manager.id, other_manager.id]
    db.session.remove()
    barrier = threading.Barrier(2)
    numbers: list[str] = []

    def submit(invoice_id, manager_id):
        with app.app_context():
            from portal.accounts.models import User

            invoice = db.session.get(Invoice, invoice_id)
            user = db.session.get(User, manager_id)
            barrier.wait()
            numbers.append(service.submit_invoice(user, invoice).number)
            db.session.remove()

    threads = [threading.Thread(target=submit, args=args) for args in zip(drafts, managers, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(numbers) == ["NACRO-000001", "NACRO-000002"]


def test_stale_versions_are_refused(september_work, nacro_manager, contract_manager, priced):
    invoice = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    seen = invoice.version
    service.approve_invoice(contract_manager, invoice, version=seen)
    with pytest.raises(StaleRecord):
        service.mark_paid(contract_manager, invoice, paid_on=london_today(), payment_reference="BACS 1", version=seen)
