"""A credited outcome is `credited`, out of every figure that counts verified outcomes, and never
billed again."""

from datetime import date

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.dates import Window
from portal.delivery.models import Outcome, OutcomeStatus
from portal.extensions import db
from portal.invoicing import service
from portal.returns import records
from portal.returns.kpis import outcome_figures
from tests.factories import UserFactory
from tests.helpers import STORY_DAY

pytestmark = pytest.mark.on_day(STORY_DAY)  # a worked example set in 2026


@pytest.fixture
def september(work):
    referral = work.referral(date(2026, 9, 2))
    outcome = work.outcome(referral, work.contract.first_night, date(2026, 9, 20))
    return referral, outcome


def outcome_event(invoice):
    return next(event for event in service.creditable_events(invoice) if event.outcome_id is not None)


def test_an_approved_credit_note_credits_its_outcome_for_good(september, nacro_manager, contract_manager, priced):
    _, outcome = september
    invoice = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    note = service.raise_credit_note(
        nacro_manager, invoice, event_ids=[outcome_event(invoice).id], reason="Paid in error", rebill=False
    )
    assert db.session.get(Outcome, outcome.id).status == OutcomeStatus.VERIFIED  # until the CRC approves it
    service.approve_invoice(contract_manager, note)
    credited = db.session.get(Outcome, outcome.id)
    assert credited.status == OutcomeStatus.CREDITED
    assert credited.credited_by_id == contract_manager.id and credited.credited_at is not None
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "outcome.credited")).one()
    assert event.details["credit_note"] == note.number
    # Out of the figures: a return's verified outcomes are read from the records, by one definition.
    outcome_row = db.session.get(Outcome, outcome.id)
    outcome_row.verified_at = outcome_row.claimed_at  # verified in the window read below
    db.session.commit()
    window = Window(date(2020, 1, 1), date(2030, 12, 31))
    rows = records.load_records([priced.id], window.start, window.end).outcomes
    assert len(rows) == 1 and outcome_figures(rows, [], window)["verified"] == 0
    assert service.generate_draft(nacro_manager, priced, "2026-10").subtotal_pence == 0


def test_a_credit_note_that_rebills_leaves_the_outcome_verified(september, nacro_manager, contract_manager, priced):
    _, outcome = september
    invoice = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    note = service.raise_credit_note(
        contract_manager, invoice, event_ids=[outcome_event(invoice).id], reason="Old price", rebill=True
    )
    # Who raised a credit note never approves it (issue 18): a colleague does.
    colleague = UserFactory(role=contract_manager.role, organisation=contract_manager.organisation)
    service.approve_invoice(colleague, note)
    assert db.session.get(Outcome, outcome.id).status == OutcomeStatus.VERIFIED


def test_a_rejected_credit_note_credits_nothing(september, nacro_manager, contract_manager, priced):
    _, outcome = september
    invoice = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    note = service.raise_credit_note(
        nacro_manager, invoice, event_ids=[outcome_event(invoice).id], reason="Paid in error", rebill=False
    )
    service.reject_invoice(contract_manager, note, reason="It was right")
    assert db.session.get(Outcome, outcome.id).status == OutcomeStatus.VERIFIED
