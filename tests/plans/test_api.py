"""The API writes, submits, approves and sends back action plans, and submits and reads progress
reviews, by the pages' rules; another partner's or another CRC's referral is not found."""

import json
from datetime import timedelta

import pytest

from portal.db import utcnow
from tests.factories import CrcFactory, ReferralFactory, UserFactory

HOUSING = "Find settled accommodation"
PLAN = {
    "activities": [{"desired_outcome": HOUSING, "description": "Housing advice", "sessions": 6, "frequency": "weekly"}],
    "rar_days_planned": 4,
}


@pytest.fixture
def open_referral(ttg_service, referrer, nacro_caseworker):
    return ReferralFactory(
        reference="AP5678CD",
        contract=ttg_service,
        service_code="ACC-TTG",
        referrer=referrer,
        in_progress=True,
        caseworker=nacro_caseworker,
        desired_outcomes=[HOUSING],
        accepted_at=utcnow() - timedelta(weeks=12),
    )


def put(client, path, body):
    return client.request("PUT", path, data=json.dumps(body), content_type="application/json")


def test_an_action_plan_through_the_api_from_draft_to_approval(api_as, open_referral, nacro_caseworker, referrer):
    partner, crc = api_as(nacro_caseworker), api_as(referrer)
    assert partner.get("/referrals/AP5678CD/action-plan").status_code == 404  # none written yet
    refused = put(partner, "/referrals/AP5678CD/action-plan", PLAN | {"rar_days_planned": 11})
    assert refused.status_code == 422 and refused.json["errors"]["rar_days_planned"]
    assert put(crc, "/referrals/AP5678CD/action-plan", PLAN).status_code == 403

    draft = put(partner, "/referrals/AP5678CD/action-plan", PLAN)
    assert draft.status_code == 200, draft.json
    assert draft.json["status"] == "draft" and draft.json["planned_sessions"] == 6 and draft.json["versions"] == []
    submitted = partner.post("/referrals/AP5678CD/action-plan/submit", {"version": draft.json["version"]})
    assert submitted.json["status"] == "submitted" and submitted.json["versions"][0]["number"] == 1
    assert put(partner, "/referrals/AP5678CD/action-plan", PLAN).status_code == 409  # waiting for the referrer

    assert crc.post("/referrals/AP5678CD/action-plan/request-changes", {"reason": ""}).status_code == 422
    sent_back = crc.post("/referrals/AP5678CD/action-plan/request-changes", {"reason": "Fewer sessions, please."})
    assert sent_back.json["status"] == "changes_requested"
    assert sent_back.json["versions"][0]["decision_reason"] == "Fewer sessions, please."

    fewer = {**PLAN["activities"][0], "sessions": 4}
    revised = put(
        partner, "/referrals/AP5678CD/action-plan", PLAN | {"activities": [fewer], "version": sent_back.json["version"]}
    )
    assert revised.json["planned_sessions"] == 4
    stale = put(partner, "/referrals/AP5678CD/action-plan", PLAN | {"version": sent_back.json["version"]})
    assert stale.status_code == 409
    partner.post("/referrals/AP5678CD/action-plan/submit", {"version": revised.json["version"]})
    assert partner.post("/referrals/AP5678CD/action-plan/approve").status_code == 403
    approved = crc.post("/referrals/AP5678CD/action-plan/approve")
    assert approved.status_code == 200
    assert approved.json["status"] == "approved" and approved.json["approved_number"] == 2
    assert [v["decision"] for v in approved.json["versions"]] == ["approved", "changes_requested"]


def test_a_progress_review_through_the_api(api_as, open_referral, nacro_caseworker, referrer):
    partner, crc = api_as(nacro_caseworker), api_as(referrer)
    listed = partner.get("/referrals/AP5678CD/progress-reviews").json
    assert listed["next_review"]["kind"] == "twelve_week" and listed["next_review"]["can_submit"]
    assert listed["attendance"]["attended"] == 0 and listed["items"] == []
    missing = partner.post("/referrals/AP5678CD/progress-reviews", {"outcomes": [], "risk_observations": "None."})
    assert missing.status_code == 422 and "outcomes-0-progress" in missing.json["errors"]
    body = {
        "outcomes": [{"desired_outcome": HOUSING, "progress": "some_progress", "comment": "Viewing a flat."}],
        "risk_observations": "None seen.",
    }
    created = partner.post("/referrals/AP5678CD/progress-reviews", body)
    assert created.status_code == 201, created.json
    review = created.json
    assert review["status"] == "submitted" and review["attendance"]["planned"] is None
    assert created.headers["Location"].endswith(f"/api/v1/progress-reviews/{review['id']}")
    again = partner.post("/referrals/AP5678CD/progress-reviews", body)
    assert again.status_code == 409  # the next is 12 weeks on
    assert partner.post(f"/progress-reviews/{review['id']}/read").status_code == 403
    read = crc.post(f"/progress-reviews/{review['id']}/read", {"response": "Good.", "version": review["version"]})
    assert read.status_code == 200 and read.json["status"] == "read" and read.json["response"] == "Good."


def test_another_partner_and_another_crc_are_answered_not_found(
    api_as, open_referral, nacro_caseworker, st_giles_manager
):
    partner = api_as(nacro_caseworker)
    put(partner, "/referrals/AP5678CD/action-plan", PLAN)
    body = {
        "outcomes": [{"desired_outcome": HOUSING, "progress": "some_progress", "comment": "x"}],
        "risk_observations": "x",
    }
    review = partner.post("/referrals/AP5678CD/progress-reviews", body).json
    other_crc = UserFactory(role="crc_referrer", organisation=CrcFactory(name="Another CRC"))
    for theirs in (api_as(st_giles_manager), api_as(other_crc)):
        assert theirs.get("/referrals/AP5678CD/action-plan").status_code == 404
        assert put(theirs, "/referrals/AP5678CD/action-plan", PLAN).status_code == 404
        assert theirs.post("/referrals/AP5678CD/action-plan/approve").status_code == 404
        assert theirs.get("/referrals/AP5678CD/progress-reviews").status_code == 404
        assert theirs.get(f"/progress-reviews/{review['id']}").status_code == 404
        assert theirs.post(f"/progress-reviews/{review['id']}/read").status_code == 404
