"""Two-step verification: CRC staff and partner managers set up an authenticator app at their first
sign-in and give its code every time after; recovery codes for a lost phone; caseworkers may opt
in; administrators reset it; API tokens are not affected."""

import re
from datetime import timedelta

import pyotp
import pytest
import time_machine
from sqlalchemy import select

from portal.accounts import mfa, tokens
from portal.accounts.models import RecoveryCode, UserSession
from portal.audit.models import AuditEvent
from portal.db import utcnow
from portal.extensions import db
from tests.factories import PASSWORD
from tests.helpers import text_of

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture(autouse=True)
def mfa_required(app, observer_app, monkeypatch):
    for either in (app, observer_app):  # the app answering requests, and the one the test code runs in
        monkeypatch.setitem(either.config, "MFA_REQUIRED", True)


def actions_for(user):
    return db.session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.record_type == "user", AuditEvent.record_id == str(user.id))
        .order_by(AuditEvent.id)
    ).all()


def code_now(secret=SECRET, steps_ahead=0):
    totp = pyotp.TOTP(secret)
    return totp.at(utcnow(), counter_offset=steps_ahead)


def enrolled(user):
    mfa.enrol_with_secret(user, SECRET)
    db.session.commit()
    return user


def password_step(portal, user):
    portal.get("/sign-in")
    return portal.post("/sign-in", {"email": user.email, "password": PASSWORD})


def test_a_partner_manager_sets_up_an_authenticator_app_at_first_sign_in(portal, nacro_manager):
    response = password_step(portal, nacro_manager)
    assert response.headers["Location"] == "/sign-in/set-up-two-step"
    assert portal.get("/account").status_code == 302  # the password alone signs nobody in

    page = portal.get("/sign-in/set-up-two-step")
    html = page.get_data(as_text=True)
    assert '<img src="data:image/svg+xml' in html
    secret = re.search(r'class="portal-secret">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")
    wrong = portal.post("/sign-in/set-up-two-step", {"code": "000000"})
    assert "The code is not right" in text_of(wrong)
    assert 'href="#code"' in wrong.get_data(as_text=True)

    done = portal.post("/sign-in/set-up-two-step", {"code": code_now(secret)})
    page = text_of(done)
    assert "Two-step verification is set up" in page
    assert len(re.findall(r"\b[A-Z2-9]{5}-[A-Z2-9]{5}\b", page)) == 10
    assert portal.get("/account").status_code == 200
    assert db.session.scalar(select(RecoveryCode.code_hash).limit(1)).startswith("$argon2")
    assert actions_for(nacro_manager)[-2:] == ["user.mfa_enrolled", "auth.signed_in"]


def test_reloading_the_set_up_page_keeps_the_key_just_scanned(portal, referrer):
    password_step(portal, referrer)
    first = portal.get("/sign-in/set-up-two-step").get_data(as_text=True)
    again = portal.get("/sign-in/set-up-two-step").get_data(as_text=True)
    key = re.compile(r'class="portal-secret">([A-Z2-7 ]+)<')
    assert key.search(first).group(1) == key.search(again).group(1)


def test_an_enrolled_user_gives_the_apps_code_after_the_password(portal, contract_manager):
    enrolled(contract_manager)
    response = password_step(portal, contract_manager)
    assert response.headers["Location"] == "/sign-in/code"
    portal.get("/sign-in/code")
    wrong = portal.post("/sign-in/code", {"code": "123 456" if code_now() != "123456" else "654321"})
    assert "The code is not right" in text_of(wrong)
    response = portal.post("/sign-in/code", {"code": code_now()})
    assert response.headers["Location"] == "/"
    assert portal.get("/account").status_code == 200
    assert "auth.code_rejected" in actions_for(contract_manager)


def test_sign_in_returns_to_the_page_asked_for_after_the_code(portal, contract_manager):
    enrolled(contract_manager)
    portal.get("/sign-in")
    portal.post("/sign-in?next=/account", {"email": contract_manager.email, "password": PASSWORD})
    portal.get("/sign-in/code")
    assert portal.post("/sign-in/code", {"code": code_now()}).headers["Location"] == "/account"


def test_a_code_works_once(app, portal, other_portal, contract_manager):
    enrolled(contract_manager)
    with time_machine.travel(utcnow(), tick=False):
        code = code_now()
        password_step(portal, contract_manager)
        portal.get("/sign-in/code")
        assert portal.post("/sign-in/code", {"code": code}).status_code == 302
        password_step(other_portal, contract_manager)
        other_portal.get("/sign-in/code")
        replayed = other_portal.post("/sign-in/code", {"code": code})
    assert "The code is not right" in text_of(replayed)


def test_a_recovery_code_signs_in_once_instead_of_the_app(portal, other_portal, admin):
    enrolled(admin)
    codes = mfa.replace_recovery_codes(admin)
    db.session.commit()
    password_step(portal, admin)
    portal.get("/sign-in/code")
    assert portal.post("/sign-in/code", {"code": codes[0].lower()}).headers["Location"] == "/"
    assert "user.recovery_code_used" in actions_for(admin)
    assert "9 unused recovery codes" in text_of(portal.get("/account"))
    password_step(other_portal, admin)
    other_portal.get("/sign-in/code")
    assert "The code is not right" in text_of(other_portal.post("/sign-in/code", {"code": codes[0]}))


def test_five_wrong_codes_end_the_sign_in_and_lock_the_account(portal, nacro_manager):
    enrolled(nacro_manager)
    password_step(portal, nacro_manager)
    portal.get("/sign-in/code")
    for _ in range(4):
        assert portal.post("/sign-in/code", {"code": "000000"}).status_code == 200
    response = portal.post("/sign-in/code", {"code": "000000"})
    assert response.headers["Location"] == "/sign-in"
    assert "Too many wrong codes" in text_of(portal.get("/sign-in"))
    db.session.refresh(nacro_manager)
    assert nacro_manager.is_locked()
    assert "auth.account_locked" in actions_for(nacro_manager)


def test_the_second_step_must_follow_within_ten_minutes(portal, nacro_manager):
    enrolled(nacro_manager)
    password_step(portal, nacro_manager)
    with time_machine.travel(utcnow() + timedelta(minutes=11), tick=False):
        response = portal.get("/sign-in/code")
        assert response.headers["Location"] == "/sign-in"
    assert db.session.scalar(select(UserSession.end_reason)) == "second_step_timed_out"


def test_the_code_page_without_a_right_password_sends_you_to_sign_in(portal):
    assert portal.get("/sign-in/code").headers["Location"] == "/sign-in"
    assert portal.get("/sign-in/set-up-two-step").headers["Location"] == "/sign-in"


def test_caseworkers_are_offered_it_and_may_turn_it_off(portal, nacro_caseworker):
    portal.sign_in(nacro_caseworker)
    assert portal.get("/account").status_code == 200  # no second step required of them
    page = portal.get("/account/two-step-verification")
    secret = re.search(r'class="portal-secret">([A-Z2-7 ]+)<', page.get_data(as_text=True)).group(1)
    done = portal.post("/account/two-step-verification", {"code": code_now(secret.replace(" ", ""))})
    assert "Your recovery codes" in text_of(done)
    assert "Turn off two-step verification" in text_of(portal.get("/account"))
    portal.get("/account/two-step-verification/turn-off")
    wrong = portal.post("/account/two-step-verification/turn-off", {"password": "not-my-password"})
    assert "Your password is not right" in text_of(wrong)
    portal.post("/account/two-step-verification/turn-off", {"password": PASSWORD})
    db.session.refresh(nacro_caseworker)
    assert not nacro_caseworker.has_mfa
    assert "user.mfa_turned_off" in actions_for(nacro_caseworker)


def test_a_manager_may_not_turn_it_off(portal, nacro_manager):
    enrolled(nacro_manager)
    password_step(portal, nacro_manager)
    portal.get("/sign-in/code")
    portal.post("/sign-in/code", {"code": code_now()})
    assert portal.get("/account/two-step-verification/turn-off").status_code == 403


def test_new_recovery_codes_replace_the_old_ones(portal, nacro_caseworker):
    enrolled(nacro_caseworker)
    old = mfa.replace_recovery_codes(nacro_caseworker)
    db.session.commit()
    password_step(portal, nacro_caseworker)
    portal.get("/sign-in/code")
    portal.post("/sign-in/code", {"code": code_now()})
    portal.get("/account")
    page = text_of(portal.post("/account/two-step-verification/recovery-codes"))
    assert "your earlier codes no longer work" in page
    assert old[0] not in page
    assert db.session.scalar(select(db.func.count()).select_from(RecoveryCode)) == 10


def test_an_administrator_resets_a_lost_phone(portal, other_portal, admin, nacro_manager):
    enrolled(nacro_manager)
    password_step(other_portal, nacro_manager)
    other_portal.get("/sign-in/code")
    other_portal.post("/sign-in/code", {"code": code_now()})
    enrolled(admin)
    password_step(portal, admin)
    portal.get("/sign-in/code")
    portal.post("/sign-in/code", {"code": code_now()})

    assert "On since" in text_of(portal.get(f"/users/{nacro_manager.id}"))
    response = portal.post(f"/users/{nacro_manager.id}/reset-two-step")
    assert response.status_code == 302
    assert "will set up an authenticator app at their next sign-in" in text_of(portal.get(response.headers["Location"]))
    assert other_portal.get("/account").status_code == 302  # signed out in case the phone is in other hands
    assert "user.mfa_reset" in actions_for(nacro_manager)
    assert password_step(other_portal, nacro_manager).headers["Location"] == "/sign-in/set-up-two-step"


def test_only_administrators_reset_it(portal, nacro_manager, nacro_caseworker):
    enrolled(nacro_caseworker)
    enrolled(nacro_manager)
    password_step(portal, nacro_manager)
    portal.get("/sign-in/code")
    portal.post("/sign-in/code", {"code": code_now()})
    portal.get(f"/users/{nacro_caseworker.id}")
    assert portal.post(f"/users/{nacro_caseworker.id}/reset-two-step").status_code == 403
    db.session.refresh(nacro_caseworker)
    assert nacro_caseworker.has_mfa


def test_api_tokens_are_not_asked_for_a_code(client, nacro_manager):
    """The API's token is the machine's own secret; a person's second step does not apply to it."""
    enrolled(nacro_manager)
    token = tokens.create_token(None, nacro_manager, name="Case system").secret
    response = client.get("/api/v1/contracts", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_the_demo_managers_sign_in_with_the_documented_key(portal, runner):
    from portal.demo.loader import load_demo_data
    from portal.demo.supply_chain import DEMO_MFA_SECRET, DEMO_PASSWORD

    load_demo_data(history=False)
    portal.get("/sign-in")
    response = portal.post("/sign-in", {"email": "manager@nacro.example", "password": DEMO_PASSWORD})
    assert response.headers["Location"] == "/sign-in/code"
    printed = runner.invoke(args=["demo-code"]).output.strip()
    assert printed == code_now(DEMO_MFA_SECRET)
    portal.get("/sign-in/code")
    assert portal.post("/sign-in/code", {"code": printed}).headers["Location"] == "/"
    # Caseworkers are offered it, not made to: the demo's sign in with the password alone.
    other = portal.__class__(portal.client.application.test_client())
    assert other.sign_in("caseworker@nacro.example", DEMO_PASSWORD).headers["Location"] == "/"
