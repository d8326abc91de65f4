"""Reads of personal data leave a trail: who opened which referral, downloaded which export with
CRNs, or fetched a referral through the API."""

from sqlalchemy import select

from portal.accounts import tokens
from portal.audit.models import AuditEvent
from portal.extensions import db


def reads(action):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()


def test_opening_a_referral_page_is_audited(portal, nacro_manager, nacro_referral):
    portal.sign_in(nacro_manager)
    assert portal.get(f"/referrals/{nacro_referral.reference}").status_code == 200
    [event] = reads("referral.viewed")
    assert (event.actor_id, event.record_type, event.record_id) == (
        nacro_manager.id,
        "referral",
        str(nacro_referral.id),
    )
    assert event.details == {"read": True, "section": "summary"}
    # Each section of the case file is a read of its own, saying which.
    assert portal.get(f"/referrals/{nacro_referral.reference}/notes").status_code == 200
    assert [event.details["section"] for event in reads("referral.viewed")] == ["summary", "notes"]


def test_reading_referrals_through_the_api_is_audited(client, nacro_manager, nacro_referral):
    headers = {"Authorization": f"Bearer {tokens.create_token(None, nacro_manager, name='CMS').secret}"}
    assert client.get(f"/api/v1/referrals/{nacro_referral.reference}", headers=headers).status_code == 200
    assert client.get("/api/v1/referrals", headers=headers).status_code == 200
    [viewed] = reads("referral.viewed")
    assert viewed.details["via"] == "api" and viewed.record_id == str(nacro_referral.id)
    [listed] = reads("referrals.listed")
    assert listed.details["references"] == [nacro_referral.reference]


def test_the_performance_export_with_crns_is_audited(portal, contract_manager, nacro_referral):
    portal.sign_in(contract_manager)
    assert portal.get("/dashboard/performance.csv", buffered=True).status_code == 200
    [event] = reads("export.performance_downloaded")
    assert event.actor_id == contract_manager.id and event.details["contracts"] == ["BENCH-ACC-01"]


def test_the_queue_exports_with_crns_are_audited_with_their_filters(portal, referrer):
    portal.sign_in(referrer)
    assert portal.get("/outcomes/export.csv?status=&mine=no").status_code == 200
    assert portal.get("/alerts/export.csv", buffered=True).status_code == 200
    [outcomes] = reads("export.outcomes_downloaded")
    assert outcomes.actor_id == referrer.id and outcomes.details["status"] == "" and not outcomes.details["mine"]
    [alerts] = reads("export.alerts_downloaded")
    # A referrer's queue shows their own referrals unless they ask for everyone's.
    assert alerts.details["status"] == "open" and alerts.details["mine"]
