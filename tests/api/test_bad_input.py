"""Bad input of every kind gets a problem (application/problem+json) with the right status, never
a 500 and never an HTML page, and never a partial write."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.referrals.models import Referral, ReferralStatus
from tests.api.conftest import World
from tests.api.test_roles import new_referral


def audit_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == status
    assert problem["type"].endswith(problem["type"].rsplit("#", 1)[-1]) and "#problem-" in problem["type"]
    assert problem["title"] and problem["detail"] and problem["request_id"]
    return problem


def test_malformed_json_is_a_400_and_changes_nothing(world: World):
    before = audit_count()
    response = world["nacro_manager"].post(
        f"/referrals/{world.sent.reference}/accept", data='{"risk_information_read": tr'
    )
    problem = assert_problem(response, 400)
    assert "not valid JSON" in problem["detail"]
    assert audit_count() == before


@pytest.mark.parametrize(
    "body", [b"\xff\xfe not utf-8", b'{"risk_information_read": NaN}', b'{"a": Infinity}'], ids=["bytes", "nan", "inf"]
)
def test_bodies_json_does_not_allow_are_400s(world: World, body: bytes):
    assert_problem(world["nacro_manager"].post(f"/referrals/{world.sent.reference}/accept", data=body), 400)


def test_a_missing_body_is_a_400_where_one_is_needed(world: World):
    problem = assert_problem(world["nacro_manager"].post(f"/referrals/{world.sent.reference}/accept"), 400)
    assert "JSON object" in problem["detail"]


def test_a_body_that_is_not_json_is_a_415(world: World):
    response = world["nacro_manager"].post(
        f"/referrals/{world.sent.reference}/accept", data="risk_information_read=true", content_type="text/plain"
    )
    assert_problem(response, 415)


def test_a_json_value_that_is_not_an_object_is_a_422(world: World):
    problem = assert_problem(world["nacro_manager"].post(f"/referrals/{world.sent.reference}/accept", [1, 2]), 422)
    assert problem["errors"] == {"body": ["Send a JSON object"]}


def test_wrong_types_and_unknown_fields_are_named_every_one(world: World):
    body = new_referral(world, "referrer")
    body["rar_days"] = "10"  # a string where a number belongs: not coerced
    body["urgent"] = "yes"
    body["person"]["date_of_birth"] = 19900401
    body["person"]["nickname"] = "Sammy"
    body["shoe_size"] = 9
    del body["reason"]
    before = db.session.scalar(select(func.count()).select_from(Referral))
    problem = assert_problem(world["referrer"].post("/referrals", body), 422)
    assert set(problem["errors"]) == {
        "rar_days",
        "urgent",
        "person.date_of_birth",
        "person.nickname",
        "shoe_size",
        "reason",
    }
    assert problem["errors"]["shoe_size"] == ["This field is not allowed"]
    assert problem["errors"]["reason"] == ["This field is required"]
    assert db.session.scalar(select(func.count()).select_from(Referral)) == before


def test_every_rule_the_referral_pages_apply_is_reported_at_once(world: World):
    body = new_referral(world, "referrer")
    body["contract"] = "NO-SUCH-CONTRACT"
    body["person"]["crn"] = "123"
    body["person"]["date_of_birth"] = "2015-01-01"
    body["location"] = {"type": "community"}
    body["risk_summary"] = "   "
    body["desired_outcomes"] = []
    body["sentence_end_date"] = "2001-01-01"
    before = audit_count()
    problem = assert_problem(world["referrer"].post("/referrals", body), 422)
    assert problem["errors"]["person.crn"] == ["Enter a CRN in the correct format, like X123456"]
    assert problem["errors"]["person.date_of_birth"] == ["The person must be 18 or over: the CRC works with adults"]
    assert problem["errors"]["contract"] == ["Select an active contract your CRC holds"]
    assert {"location.community_office", "risk_summary", "desired_outcomes", "sentence_end_date"} <= set(
        problem["errors"]
    )
    assert audit_count() == before


def test_text_no_database_can_hold_is_refused(world: World):
    body = new_referral(world, "referrer")
    body["risk_summary"] = "before\u0000after"
    problem = assert_problem(world["referrer"].post("/referrals", body), 422)
    assert problem["errors"] == {"risk_summary": ["Text must not contain the NUL character"]}
    raw = json.dumps(new_referral(world, "referrer")).replace('"Sam"', '"\\ud800"')
    problem = assert_problem(world["referrer"].post("/referrals", data=raw), 422)
    assert list(problem["errors"]) == ["person.given_name"]


def test_text_longer_than_its_column_is_a_422_not_a_database_error(world: World):
    body = new_referral(world, "referrer")
    body["location"]["community_office"] = "Bedford " * 20
    problem = assert_problem(world["referrer"].post("/referrals", body), 422)
    assert problem["errors"] == {"location.community_office": ["The probation office must be 100 characters or fewer"]}
    assert_problem(world["referrer"].get("/referrals/AB%00CD"), 404)


def test_a_body_over_a_megabyte_is_a_413(world: World):
    body = new_referral(world, "referrer")
    body["reason"] = "x" * (1024 * 1024)
    before = audit_count()
    assert_problem(world["referrer"].post("/referrals", body), 413)
    assert audit_count() == before


def test_the_wrong_state_is_a_409(world: World):
    client = world["referrer"]
    client.post(f"/referrals/{world.sent.reference}/withdraw", {"reason_code": "recalled", "detail": "Recalled."})
    problem = assert_problem(
        world["nacro_manager"].post(f"/referrals/{world.sent.reference}/accept", {"risk_information_read": True}), 409
    )
    assert problem["detail"] == "Only a referral waiting for an answer can be accepted"


def test_a_session_on_a_closed_referral_is_a_409_not_a_validation_error(world: World):
    world["referrer"].post(f"/referrals/{world.open.reference}/withdraw", {"reason_code": "died", "detail": "Sadly."})
    response = world["nacro_caseworker"].post(
        f"/referrals/{world.open.reference}/sessions",
        {"date": "2026-10-01", "start_time": "10:00", "duration_minutes": 60, "kind": "one_to_one"},
    )
    assert "accepted, open referrals" in assert_problem(response, 409)["detail"]


def test_a_stale_version_is_a_409_and_changes_nothing(world: World):
    client = world["nacro_manager"]
    read = client.get(f"/referrals/{world.sent.reference}").get_json()
    world["referrer"].post(
        f"/referrals/{world.sent.reference}/withdraw", {"reason_code": "recalled", "detail": "Recalled.", "version": 1}
    )
    before = audit_count()
    response = client.post(
        f"/referrals/{world.sent.reference}/accept", {"risk_information_read": True, "version": read["version"]}
    )
    problem = assert_problem(response, 409)
    assert "changed by someone else" in problem["detail"]
    assert audit_count() == before


def test_accepting_without_reading_the_risk_is_refused(world: World):
    response = world["nacro_manager"].post(
        f"/referrals/{world.sent.reference}/accept", {"risk_information_read": False}
    )
    problem = assert_problem(response, 422)
    assert problem["errors"] == {
        "risk_information_read": ["Confirm you have read the risk information before accepting"]
    }
    db.session.expire_all()
    assert db.session.get(Referral, world.sent.id).status == ReferralStatus.SENT


def test_service_field_names_come_back_as_the_apis(world: World):
    response = world["nacro_manager"].post(
        f"/referrals/{world.sent.reference}/accept",
        {"risk_information_read": True, "caseworker_email": "nobody@example.org"},
    )
    assert assert_problem(response, 422)["errors"] == {
        "caseworker_email": ["Select a caseworker from your organisation"]
    }
    response = world["nacro_caseworker"].post(
        f"/referrals/{world.open.reference}/outcomes",
        {"outcome_type": "no_such_type", "achieved_on": "2026-10-01", "evidence": "Seen."},
    )
    assert "outcome_type" in assert_problem(response, 422)["errors"]


@pytest.mark.parametrize(
    "query",
    [{"per_page": 201}, {"per_page": 0}, {"page": 0}, {"page": "two"}, {"updated_since": "yesterday"},
     {"updated_since": "2026-10-01T00:00:00"}, {"status": "lost"}],
    ids=["per_page-too-big", "per_page-zero", "page-zero", "page-words", "since-words", "since-no-offset", "status"],
)  # fmt: skip
def test_bad_list_parameters_are_named(world: World, query: dict):
    problem = assert_problem(world["referrer"].get("/referrals", **query), 422)
    assert list(problem["errors"]) == list(query)


def test_unknown_paths_and_methods_are_problems_too(world: World):
    assert_problem(world["referrer"].get("/no-such-thing"), 404)
    assert_problem(world["referrer"].get("/invoices/99999999999"), 404)  # past any id: 404, not a database error
    response = world["referrer"].request("DELETE", f"/referrals/{world.open.reference}")
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_an_unexpected_error_is_a_500_problem_and_nothing_is_kept(world: World, monkeypatch):
    from portal.referrals import service

    def fail(*args, **kwargs):
        raise RuntimeError("the mail queue is broken")

    monkeypatch.setattr(service, "notify", fail)  # after the status has changed, before the commit
    before = audit_count()
    response = world["nacro_manager"].post(f"/referrals/{world.sent.reference}/accept", {"risk_information_read": True})
    problem = assert_problem(response, 500)
    assert "mail queue" not in problem["detail"]  # nothing of the inside leaks
    db.session.expire_all()
    assert db.session.get(Referral, world.sent.id).status == ReferralStatus.SENT
    assert audit_count() == before


def test_no_csrf_token_is_needed_and_a_session_cookie_counts_for_nothing(app, portal, world: World, nacro_manager):
    portal.sign_in(nacro_manager)
    response = portal.client.get("/api/v1/referrals")  # the browser's cookie, no token
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Set-Cookie" not in response.headers
    # With a token, a POST needs no CSRF token.
    response = world["nacro_manager"].post(f"/referrals/{world.sent.reference}/accept", {"risk_information_read": True})
    assert response.status_code == 200


def test_pages_and_filters(world: World):
    client = world["referrer"]
    first = client.get("/referrals", per_page=1).get_json()
    second = client.get("/referrals", per_page=1, page=2).get_json()
    assert first["total"] == second["total"] >= 4
    assert first["items"][0]["reference"] != second["items"][0]["reference"]
    assert client.get("/referrals", per_page=1, page=999).get_json()["items"] == []
    sent = client.get("/referrals", status="sent").get_json()
    assert {item["reference"] for item in sent["items"]} >= {"SN1000AA", "SN2000AA"}
    assert all(item["status"] == "sent" for item in sent["items"])
    assert client.get("/referrals", service_code="acc-ttg").get_json()["total"] >= 4
    assert client.get("/referrals", updated_since="2999-01-01T00:00:00Z").get_json()["total"] == 0
    assert client.get("/referrals", updated_since="2000-01-01T00:00:00+01:00").get_json()["total"] == first["total"]


NESTED_TOO_DEEP = [
    pytest.param(b"[" * 100_000 + b"]" * 100_000, id="past-the-parser"),
    pytest.param(b'{"a": ' + b"[" * 20 + b'"deep"' + b"]" * 20 + b"}", id="past-the-limit"),
]


@pytest.mark.parametrize("body", NESTED_TOO_DEEP)
def test_a_deeply_nested_body_to_any_post_is_a_400(app, world: World, body: bytes):
    """Every POST operation of the published spec, fed a body nested past any real one."""
    spec = world["referrer"].get("/openapi.json").get_json()
    posts = [path for path, operations in spec["paths"].items() if "post" in operations]
    assert len(posts) > 15
    for path in posts:
        concrete = re.sub(r"\{[^}]+\}", "1", path.removeprefix("/api/v1"))
        response = world["nacro_manager"].post(concrete, data=body)
        assert response.status_code in (400, 404), (path, response.status_code)
        if response.status_code == 400:
            assert "nested too deeply" in response.get_json()["detail"]


def test_a_huge_body_to_any_post_is_a_413(world: World):
    spec = world["referrer"].get("/openapi.json").get_json()
    huge = b'{"x": "' + b"a" * (1024 * 1024 + 10) + b'"}'
    for path, operations in spec["paths"].items():
        if "post" in operations and "{" not in path:
            response = world["referrer"].post(path.removeprefix("/api/v1"), data=huge)
            assert response.status_code == 413, path


@pytest.mark.parametrize("day", ["9999-12-31", "1899-12-31", "2100-01-01"])
def test_a_date_outside_sensible_bounds_is_named(world: World, day: str):
    body = {"date": day, "start_time": "10:00", "duration_minutes": 60, "kind": "one_to_one"}
    problem = assert_problem(world["nacro_caseworker"].post(f"/referrals/{world.open.reference}/sessions", body), 422)
    assert problem["errors"] == {"date": ["The date must be between 1 January 1900 and 31 December 2099"]}


def test_ids_past_the_database_range_are_404s(world: World):
    for path in ("/invoices/2147483648", "/invoices/99999999999999999999.pdf", "/outcomes/99999999999999999999/verify"):
        response = world["contract_manager"].request("POST" if path.endswith("verify") else "GET", path)
        assert_problem(response, 404)
