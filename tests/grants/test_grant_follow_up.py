"""Issue 18's leftovers on grants: a rejected grant payment is replaced for its period (its history
kept), grant-payment events are emailed as invoice events are, and the grant payment's PDF prints
the remittance details it was raised with."""

from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.contracts.models import ContractTier
from portal.errors import InvalidTransition, NotAllowed, NotFound, ValidationFailed
from portal.extensions import db
from portal.grants import service
from portal.grants.models import GrantPaymentStatus
from portal.grants.views import grant_payment_pdf
from portal.notifications.models import OutboundEmail
from portal.remittance import service as remittance
from tests.factories import ContractFactory
from tests.grants.test_grants import quarter
from tests.helpers import STORY_DAY, text_of

pytestmark = pytest.mark.on_day(STORY_DAY)  # 7 December 2026; the grant runs from 1 April 2026


@pytest.fixture
def grant(crc, nacro):
    return ContractFactory(
        reference="BENCH-WOM-04",
        crc=crc,
        partner=nacro,
        tier=ContractTier.GRANT,
        value_cap_pence=100_000_00,
        payment_terms_days=14,
    )


def rejected_q1(grant, contract_manager, nacro_manager):
    q1 = quarter(grant, contract_manager, date(2026, 4, 1), date(2026, 6, 30), date(2026, 4, 1))
    service.submit_payment(nacro_manager, q1)
    return service.reject_payment(contract_manager, q1, reason="The amount is the old year's")


def test_the_contract_manager_replaces_a_rejected_grant_payment_and_the_rejected_one_keeps_its_history(
    grant,
    contract_manager,
    nacro_manager,
):
    q1 = rejected_q1(grant, contract_manager, nacro_manager)
    number = q1.number
    replacement = service.replace_rejected(contract_manager, q1, amount_pence=18_500_00, version=q1.version)
    assert replacement.status == GrantPaymentStatus.SCHEDULED and replacement.replaces_id == q1.id
    assert (replacement.period_start, replacement.period_end) == (q1.period_start, q1.period_end)
    service.submit_payment(nacro_manager, replacement)
    assert replacement.number != number and replacement.amount_pence == 18_500_00
    db.session.refresh(q1)
    assert q1.status == GrantPaymentStatus.REJECTED and q1.number == number
    assert q1.rejection_reason == "The amount is the old year's"
    # Only the replacement counts against the cap and toward the schedule's total.
    assert service.grant_spend_pence(grant) == 18_500_00
    with pytest.raises(InvalidTransition, match="already been replaced"):
        service.replace_rejected(contract_manager, q1)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "grant.instalment_replaced")).one()
    assert event.details["replaces"] == number


def test_the_partner_replaces_a_rejected_payment_only_as_scheduled_and_only_a_rejected_one(
    grant,
    contract_manager,
    nacro_manager,
    st_giles_manager,
):
    q1 = rejected_q1(grant, contract_manager, nacro_manager)
    with pytest.raises(ValidationFailed) as changed:
        service.replace_rejected(nacro_manager, q1, amount_pence=25_000_00)
    assert "amount" in changed.value.errors
    replacement = service.replace_rejected(nacro_manager, q1)
    assert replacement.amount_pence == q1.amount_pence and replacement.due_on == q1.due_on
    with pytest.raises(InvalidTransition, match="Only a rejected"):
        service.replace_rejected(contract_manager, replacement)
    assert not service.may_replace(st_giles_manager, q1)
    with pytest.raises((NotAllowed, NotFound)):
        service.replace_rejected(st_giles_manager, q1)


def test_a_replacement_is_put_on_the_schedule_from_the_rejected_payments_page(
    grant,
    contract_manager,
    nacro_manager,
    portal,
):
    q1 = rejected_q1(grant, contract_manager, nacro_manager)
    portal.sign_in(contract_manager)
    page = text_of(portal.get(f"/grants/payments/{q1.id}"))
    assert "Replace this grant payment" in page
    form = portal.get(f"/grants/payments/{q1.id}/replace")
    assert form.status_code == 200 and "20000.00" in form.get_data(as_text=True)
    bad = portal.post(
        f"/grants/payments/{q1.id}/replace",
        {"version": q1.version, "amount": "lots", "due_on-day": "1", "due_on-month": "4", "due_on-year": "2026"},
    )
    assert bad.status_code == 200 and 'href="#amount"' in bad.get_data(as_text=True)
    done = portal.post(
        f"/grants/payments/{q1.id}/replace",
        {"version": q1.version, "amount": "19,000", "due_on-day": "1", "due_on-month": "4", "due_on-year": "2026"},
    )
    assert done.status_code == 302
    replacement = service.replacement_of(q1)
    assert replacement.amount_pence == 19_000_00
    shown = text_of(portal.get(done.headers["Location"]))
    assert f"This replaces grant payment {q1.number}" in shown
    assert "Replaced by an instalment not yet raised" in text_of(portal.get(f"/grants/payments/{q1.id}"))
    again = portal.post(f"/grants/payments/{q1.id}/replace", {"version": q1.version, "amount": "1"})
    assert again.status_code == 200 and "already been replaced" in text_of(again)


def emails_to(address):
    return db.session.scalars(select(OutboundEmail).where(OutboundEmail.recipient == address)).all()


def test_grant_payments_are_emailed_as_invoices_raised_to_the_crc_decided_to_the_partner(
    grant,
    contract_manager,
    nacro_manager,
):
    q1 = quarter(grant, contract_manager, date(2026, 4, 1), date(2026, 6, 30), date(2026, 4, 1))
    service.submit_payment(nacro_manager, q1)
    (raised,) = emails_to(contract_manager.email)
    assert raised.subject == f"Grant payment {q1.number} from {grant.partner.name} to approve"
    assert "£20,000.00" in raised.body_text and f"/grants/payments/{q1.id}" in raised.body_text
    assert emails_to(nacro_manager.email) == []  # who acted is never told
    service.query_payment(contract_manager, q1, reason="Which bank account?")
    service.submit_payment(nacro_manager, q1)
    assert "resubmitted" in emails_to(contract_manager.email)[-1].body_text
    service.approve_payment(contract_manager, q1)
    service.mark_paid(contract_manager, q1, paid_on=date(2026, 12, 7), payment_reference="BACS 4471")
    subjects = [email.subject for email in emails_to(nacro_manager.email)]
    assert subjects == [f"Grant payment {q1.number} {decision}" for decision in ("queried", "approved", "paid")]
    assert "“Which bank account?”" in emails_to(nacro_manager.email)[0].body_text
    assert "payment reference BACS 4471" in emails_to(nacro_manager.email)[-1].body_text


def test_a_rejected_grant_payment_email_tells_the_partner_it_can_be_replaced(
    grant,
    contract_manager,
    nacro_manager,
):
    rejected_q1(grant, contract_manager, nacro_manager)
    (email,) = emails_to(nacro_manager.email)
    assert "rejected" in email.subject and "can be replaced" in email.body_text


def printed(instalment) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(grant_payment_pdf(instalment))).pages)


def test_the_grant_payment_pdf_prints_the_bank_details_it_was_raised_with(
    grant,
    contract_manager,
    nacro_manager,
    nacro,
):
    def bank(sort_code, account_number):
        change = remittance.request_bank_change(
            nacro_manager, nacro, account_name="Nacro", sort_code=sort_code, account_number=account_number
        )
        remittance.confirm_bank_change(contract_manager, nacro, change_id=change.id)

    bank("30-94-30", "00733445")
    q1 = quarter(grant, contract_manager, date(2026, 4, 1), date(2026, 6, 30), date(2026, 4, 1))
    service.submit_payment(nacro_manager, q1)
    assert "30-94-30" in printed(q1) and "00733445" in printed(q1)
    # A later change of bank account is for later payments: this one says what it was raised with.
    bank("20-00-00", "55779911")
    assert "00733445" in printed(q1) and "55779911" not in printed(q1)
    # An instalment not yet raised shows the account it would be paid into now.
    q2 = quarter(grant, contract_manager, date(2026, 7, 1), date(2026, 9, 30), date(2026, 7, 1))
    assert "55779911" in printed(q2)
