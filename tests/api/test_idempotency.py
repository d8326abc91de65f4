"""Idempotency-Key: a retry with the same key replays the first answer and does nothing again, for
24 hours; the same key with another request is refused; another user's keys are their own."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import time_machine
from sqlalchemy import func, select

from portal.api.models import IdempotencyRecord
from portal.db import utcnow
from portal.delivery.models import Session
from portal.extensions import db
from portal.referrals.models import Referral
from tests.api.conftest import World
from tests.api.test_roles import new_referral, yesterday

KEY = {"Idempotency-Key": "9b2f6a1e-6c5d-4f1e-9d0a-3c1b2a4d5e6f"}


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def test_a_retried_referral_is_sent_once(world: World):
    client = world["referrer"]
    body = new_referral(world, "referrer")
    before = count(Referral)
    first = client.post("/referrals", body, headers=KEY)
    again = client.post("/referrals", body, headers=KEY)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(Referral) == before + 1


def test_a_retried_session_is_recorded_once(world: World):
    client = world["nacro_caseworker"]
    body = {"date": yesterday(), "start_time": "10:00", "duration_minutes": 45, "kind": "phone"}
    before = count(Session)
    responses = [client.post(f"/referrals/{world.open.reference}/sessions", body, headers=KEY) for _ in range(3)]
    assert {response.status_code for response in responses} == {201}
    assert len({response.get_json()["id"] for response in responses}) == 1
    assert count(Session) == before + 1


def test_the_same_key_with_a_different_request_is_refused(world: World):
    client = world["nacro_caseworker"]
    body = {"date": yesterday(), "start_time": "10:00", "duration_minutes": 45, "kind": "phone"}
    assert client.post(f"/referrals/{world.open.reference}/sessions", body, headers=KEY).status_code == 201
    before = count(Session)
    changed = client.post(f"/referrals/{world.open.reference}/sessions", {**body, "duration_minutes": 50}, headers=KEY)
    assert changed.status_code == 422
    assert changed.get_json()["type"].endswith("#problem-idempotency-key-reused")
    elsewhere = client.post(f"/referrals/{world.other_open.reference}/sessions", body, headers=KEY)
    assert elsewhere.status_code == 422
    assert count(Session) == before


def test_keys_belong_to_their_user(world: World):
    body = {"date": yesterday(), "start_time": "10:00", "duration_minutes": 45, "kind": "phone"}
    before = count(Session)
    for hour, role in ((10, "nacro_caseworker"), (14, "nacro_manager")):  # one person's sessions never overlap
        at_hour = {**body, "start_time": f"{hour}:00"}
        assert world[role].post(f"/referrals/{world.open.reference}/sessions", at_hour, headers=KEY).status_code == 201
    assert count(Session) == before + 2


def test_a_refusal_is_replayed_too_but_a_server_error_is_not_kept(world: World, monkeypatch):
    client = world["nacro_manager"]
    path = f"/referrals/{world.sent.reference}/accept"
    refused = client.post(path, {"risk_information_read": False}, headers=KEY)
    assert refused.status_code == 422
    replayed = client.post(path, {"risk_information_read": False}, headers=KEY)
    assert replayed.status_code == 422 and replayed.headers["Idempotent-Replayed"] == "true"

    from portal.referrals import service

    def fail(*args, **kwargs):
        raise RuntimeError("broken")

    other_key = {"Idempotency-Key": "second-attempt"}
    with monkeypatch.context() as patch:
        patch.setattr(service, "notify", fail)
        assert client.post(path, {"risk_information_read": True}, headers=other_key).status_code == 500
    # The 500 was not kept: the retry with the same key runs, and succeeds.
    retried = client.post(path, {"risk_information_read": True}, headers=other_key)
    assert retried.status_code == 200
    assert "Idempotent-Replayed" not in retried.headers


def test_a_key_is_kept_for_24_hours(world: World):
    client = world["nacro_caseworker"]
    body = {"date": yesterday(), "start_time": "10:00", "duration_minutes": 45, "kind": "phone"}
    path = f"/referrals/{world.open.reference}/sessions"
    client.post(path, body, headers=KEY)
    with time_machine.travel(utcnow() + timedelta(hours=23), tick=False):
        assert client.post(path, body, headers=KEY).headers.get("Idempotent-Replayed") == "true"
    with time_machine.travel(utcnow() + timedelta(hours=25), tick=False):
        fresh = client.post(path, {**body, "start_time": "14:00"}, headers=KEY)  # not over the first session
        assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers
    assert count(IdempotencyRecord) == 1  # the expired record was cleared, not kept beside the new one


def test_a_request_still_being_answered_is_not_run_twice(world: World, nacro_caseworker):
    client = world["nacro_caseworker"]
    path = f"/referrals/{world.open.reference}/sessions"
    body = json.dumps({"date": yesterday(), "start_time": "10:00", "duration_minutes": 45, "kind": "phone"}).encode()

    digest = hashlib.sha256(f"POST /api/v1{path}\n".encode() + body).hexdigest()
    db.session.add(
        IdempotencyRecord(user_id=nacro_caseworker.id, key="in-flight", request_hash=digest, method="POST", path=path)
    )
    db.session.commit()
    before = count(Session)
    response = client.post(path, data=body, headers={"Idempotency-Key": "in-flight"})
    assert response.status_code == 409
    assert response.get_json()["type"].endswith("#problem-request-in-progress")
    assert count(Session) == before


def test_a_malformed_key_is_a_400(world: World):
    for key in ("", "x" * 256, "café"):
        response = world["referrer"].post(
            f"/referrals/{world.sent.reference}/withdraw",
            {"reason_code": "recalled", "detail": "Recalled."},
            headers={"Idempotency-Key": key},
        )
        assert response.status_code == 400, key
        assert response.mimetype == "application/problem+json"


def test_a_key_whose_request_died_is_released_after_two_minutes(world: World, nacro_caseworker):
    """The server answering the first request was killed mid-way: the key is not stuck for a day."""
    client = world["nacro_caseworker"]
    path = f"/referrals/{world.open.reference}/sessions"
    body = json.dumps({"date": yesterday(), "start_time": "10:00", "duration_minutes": 45, "kind": "phone"}).encode()
    digest = hashlib.sha256(f"POST /api/v1{path}\n".encode() + body).hexdigest()
    db.session.add(
        IdempotencyRecord(user_id=nacro_caseworker.id, key="died", request_hash=digest, method="POST", path=path)
    )
    db.session.commit()
    before = count(Session)
    with time_machine.travel(utcnow() + timedelta(seconds=119), tick=False):
        assert client.post(path, data=body, headers={"Idempotency-Key": "died"}).status_code == 409
    with time_machine.travel(utcnow() + timedelta(minutes=2, seconds=1), tick=False):
        retried = client.post(path, data=body, headers={"Idempotency-Key": "died"})
        assert retried.status_code == 201
        again = client.post(path, data=body, headers={"Idempotency-Key": "died"})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count(Session) == before + 1
