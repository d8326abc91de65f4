"""Work comes with an email saying what to do and linking to it: at once, or in a daily digest
that each person chooses on their account page (`flask notifications send-digest`)."""

from __future__ import annotations

from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.delivery.outcomes import claim_outcome
from portal.extensions import db
from portal.notifications.models import DigestItem, OutboundEmail
from tests.factories import OutcomeTypeFactory, ReferralFactory
from tests.helpers import days_from_today, text_of


def emails_to(address: str) -> list[OutboundEmail]:
    return list(db.session.scalars(select(OutboundEmail).where(OutboundEmail.recipient == address)).all())


def claim(referral, caseworker, contract):
    outcome_type = OutcomeTypeFactory(contract=contract, recorded_unpaid=True)
    return claim_outcome(
        caseworker,
        referral,
        {"outcome_type_id": str(outcome_type.id), "achieved_on": days_from_today(-1), "evidence": "Tenancy seen"},
    )


def test_a_claimed_outcome_emails_the_referrer_with_a_link_to_verify_it(ttg_service, referrer, nacro_caseworker):
    referral = ReferralFactory(contract=ttg_service, service_code="ACC-TTG", in_progress=True, referrer=referrer)
    claim(referral, nacro_caseworker, ttg_service)
    [email] = emails_to(referrer.email)
    assert email.subject == f"Outcome claimed on referral {referral.reference}: verify or reject it"
    assert f"/referrals/{referral.reference}/outcomes" in email.body_text
    assert "verify or reject the claim" in email.body_text


def test_someone_who_chose_a_daily_digest_gets_one_email_a_morning_listing_the_work(
    portal, runner, ttg_service, referrer, nacro_caseworker
):
    portal.sign_in(referrer)
    page = text_of(portal.get("/account/emails"))
    assert "An email each time" in page and "daily digest" in page
    assert "Select how often" in text_of(portal.post("/account/emails", {"frequency": ""}))
    response = portal.post("/account/emails", {"frequency": "daily"})
    assert response.headers["Location"] == "/account"
    assert "a daily digest each morning" in text_of(portal.get("/account"))
    assert db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action == "user.email_frequency_changed")
    ).all()

    first = ReferralFactory(contract=ttg_service, service_code="ACC-TTG", in_progress=True, referrer=referrer)
    second = ReferralFactory(contract=ttg_service, service_code="ACC-TTG", in_progress=True, referrer=referrer)
    claim(first, nacro_caseworker, ttg_service)
    claim(second, nacro_caseworker, ttg_service)
    assert emails_to(referrer.email) == []
    assert len(db.session.scalars(select(DigestItem)).all()) == 2

    result = runner.invoke(args=["notifications", "send-digest"])
    assert result.exit_code == 0, result.output
    assert "Sent 1 digest(s)" in result.output
    db.session.expire_all()
    [digest] = emails_to(referrer.email)
    assert first.reference in digest.body_text and second.reference in digest.body_text
    assert f"/referrals/{first.reference}/outcomes" in digest.body_text
    again = runner.invoke(args=["notifications", "send-digest"])
    assert "Sent 0 digest(s)" in again.output
    db.session.expire_all()
    assert len(emails_to(referrer.email)) == 1
