"""The factories build records as the portal would hold them, in every state their traits name."""

from portal.accounts.models import User
from portal.contracts.models import Contract
from portal.delivery.models import Attendance, OutcomeStatus
from portal.extensions import db
from portal.invoicing.models import InvoiceLine, InvoiceStatus
from portal.referrals.models import Referral, ReferralStatus
from portal.returns.models import ReturnStatus
from tests.factories import (
    AlertFactory,
    EvidenceFileFactory,
    InvoiceFactory,
    OutcomeFactory,
    ReferralFactory,
    ServiceReturnFactory,
    SessionFactory,
)


def test_sessions_and_alerts_hang_off_an_open_referral_of_the_same_partner():
    session = SessionFactory(missed=True)
    referral = db.session.get(Referral, session.referral_id)  # Session.referral is never lazy-loaded
    assert referral.status == ReferralStatus.IN_PROGRESS and referral.first_contact_at is not None
    assert session.attendance == Attendance.DID_NOT_ATTEND and session.non_attendance_reason is not None
    contract = db.session.get(Contract, referral.contract_id)  # Referral.contract is never lazy-loaded
    recorder = db.session.get(User, session.recorded_by_id)  # nor is Session.recorded_by, once expired
    assert recorder.organisation_id == contract.partner_id
    assert SessionFactory(scheduled=True).awaiting_feedback
    alert = AlertFactory()
    assert alert.referral_id == db.session.get(type(alert), alert.id).referral_id


def test_outcomes_carry_the_stamps_of_their_decision():
    verified, rejected = OutcomeFactory(verified=True), OutcomeFactory(rejected=True)
    assert verified.status == OutcomeStatus.VERIFIED and verified.verified_at and verified.verified_by_id
    assert rejected.status == OutcomeStatus.REJECTED and rejected.rejection_reason
    assert EvidenceFileFactory().outcome_id


def test_an_invoice_adds_up_its_lines_and_each_state_has_its_dates():
    invoice = InvoiceFactory(paid=True, lines=2, lines__quantity_hundredths=250)
    lines = db.session.query(InvoiceLine).filter_by(invoice_id=invoice.id).all()
    assert [line.amount_pence for line in lines] == [12500, 12500]
    assert invoice.subtotal_pence == 25000 and invoice.total_pence == 25000
    assert invoice.status == InvoiceStatus.PAID and invoice.number and invoice.due_date and invoice.paid_on
    assert InvoiceFactory(overdue=True).overdue
    assert InvoiceFactory(lines=0).total_pence == 0


def test_a_submitted_return_has_its_figures_frozen():
    submitted = ServiceReturnFactory(submitted=True)
    assert submitted.status == ReturnStatus.SUBMITTED and submitted.kpis["period"]["code"] == submitted.period.code
    assert ServiceReturnFactory(accepted=True).accepted_at is not None


def test_a_draft_referral_has_no_reference_until_it_is_sent():
    draft = ReferralFactory(draft=True)
    assert draft.status == ReferralStatus.DRAFT and draft.reference is None
