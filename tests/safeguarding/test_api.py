"""The API raises, reads, acknowledges and closes safeguarding concerns by the pages' rules."""

import pytest

from portal.referrals.models import ReferralStatus
from tests.factories import ReferralFactory


@pytest.fixture
def open_referral(ttg_service, referrer):
    return ReferralFactory(
        reference="SG5678CD", contract=ttg_service, service_code="ACC-TTG", referrer=referrer, in_progress=True
    )


def test_a_concern_through_the_api_from_raising_to_closing(api_as, open_referral, nacro_caseworker, referrer):
    partner, crc = api_as(nacro_caseworker), api_as(referrer)
    response = partner.post("/referrals/SG5678CD/concerns", {"category": "domestic_abuse", "urgency": "standard"})
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert "what_happened" in response.json["errors"]
    response = partner.post(
        "/referrals/SG5678CD/concerns",
        {"category": "domestic_abuse", "urgency": "urgent", "what_happened": "Threats about an ex-partner."},
    )
    assert response.status_code == 201, response.json
    concern = response.json
    assert concern["status"] == "open" and concern["acknowledge_due_at"]
    assert partner.get("/referrals/SG5678CD/concerns").json["total"] == 1
    assert partner.post(f"/concerns/{concern['id']}/acknowledge").status_code == 403
    assert crc.post(f"/concerns/{concern['id']}/close", {"outcome": "other", "outcome_detail": "x"}).status_code == 409
    acknowledged = crc.post(f"/concerns/{concern['id']}/acknowledge", {"version": concern["version"]})
    assert acknowledged.status_code == 200 and acknowledged.json["status"] == "acknowledged"
    stale = crc.post(f"/concerns/{concern['id']}/close", {"outcome": "other", "outcome_detail": "x", "version": 1})
    assert stale.status_code == 409
    closed = crc.post(
        f"/concerns/{concern['id']}/close", {"outcome": "police_action", "outcome_detail": "Police visited."}
    )
    assert closed.status_code == 200 and closed.json["status"] == "closed"


def test_rosh_high_through_the_api_withdraws_the_referral(api_as, open_referral, nacro_manager):
    partner = api_as(nacro_manager)
    response = partner.post(
        "/referrals/SG5678CD/concerns",
        {"category": "risk_to_public", "urgency": "urgent", "what_happened": "Threats to kill.", "rosh_high": True},
    )
    assert response.status_code == 201
    referral = partner.get("/referrals/SG5678CD").json
    assert referral["status"] == ReferralStatus.WITHDRAWN.value
    assert referral["withdraw_reason_code"] == "transferred_to_nps"


def test_another_partner_is_answered_not_found(api_as, open_referral, nacro_caseworker, st_giles_manager):
    raised = api_as(nacro_caseworker).post(
        "/referrals/SG5678CD/concerns", {"category": "other", "urgency": "standard", "what_happened": "x"}
    )
    theirs = api_as(st_giles_manager)
    assert theirs.get(f"/concerns/{raised.json['id']}").status_code == 404
    assert theirs.get("/referrals/SG5678CD/concerns").status_code == 404
