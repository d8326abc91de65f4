"""Signing in and out: one generic message for every failure, lockout, rate limit, idle timeout."""

from datetime import timedelta

import time_machine
from sqlalchemy import select

from portal.accounts.service import SIGN_IN_FAILED
from portal.audit.models import AuditEvent
from portal.db import utcnow
from portal.extensions import db
from tests.factories import PASSWORD, UserFactory
from tests.helpers import text_of


def actions_for(user=None):
    statement = select(AuditEvent.action).order_by(AuditEvent.id)
    if user is not None:
        statement = statement.where(AuditEvent.record_type == "user", AuditEvent.record_id == str(user.id))
    return db.session.scalars(statement).all()


def test_user_signs_in_with_email_in_any_case_and_lands_on_home(portal, nacro_manager):
    response = portal.sign_in("  MANAGER@Nacro.Example ")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = portal.get("/")
    assert "Mo Manager, Nacro (Partner manager)" in text_of(page)
    assert "You are signed in as a partner manager." in text_of(page)
    assert "auth.signed_in" in actions_for(nacro_manager)


def test_each_role_reads_naturally_in_a_sentence():
    from portal.accounts.models import Role

    assert [role.in_a_sentence for role in Role] == [
        "a caseworker",
        "a partner manager",
        "a CRC referrer",
        "a contract manager",
        "an administrator",
    ]


def test_sign_in_returns_to_the_page_asked_for_but_never_off_site(portal, admin):
    portal.get("/sign-in")
    response = portal.post("/sign-in?next=/users", {"email": admin.email, "password": PASSWORD})
    assert response.headers["Location"] == "/users"
    portal.sign_out()
    response = portal.post("/sign-in?next=https://evil.example/steal", {"email": admin.email, "password": PASSWORD})
    assert response.headers["Location"] == "/"
    portal.sign_out()
    response = portal.post("/sign-in?next=//evil.example", {"email": admin.email, "password": PASSWORD})
    assert response.headers["Location"] == "/"


def test_wrong_password_unknown_email_and_locked_account_all_get_the_same_message(portal, nacro_manager):
    wrong_password = portal.post("/sign-in", {"email": nacro_manager.email, "password": "not-the-password"})
    unknown_email = portal.post("/sign-in", {"email": "nobody@nowhere.example", "password": "whatever-it-is"})
    for response in (wrong_password, unknown_email):
        assert response.status_code == 200
        assert SIGN_IN_FAILED in text_of(response)
        assert "There is a problem" in text_of(response)
    assert text_of(wrong_password) == text_of(unknown_email)
    assert actions_for().count("auth.sign_in_failed") == 2


def test_empty_sign_in_form_names_each_field(portal):
    response = portal.post("/sign-in", {"email": "", "password": ""})
    page = text_of(response)
    assert "Enter your email address" in page
    assert "Enter your password" in page
    assert 'href="#email"' in response.get_data(as_text=True)
    assert response.get_data(as_text=True).count("<title>Error: Sign in") == 1


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(portal, nacro_manager):
    for _ in range(5):
        portal.post("/sign-in", {"email": nacro_manager.email, "password": "wrong-password-here"})
    db.session.refresh(nacro_manager)
    assert nacro_manager.is_locked()
    assert timedelta(minutes=14) < nacro_manager.locked_until - utcnow() <= timedelta(minutes=15)
    assert "auth.account_locked" in actions_for(nacro_manager)

    # Even the right password fails while locked, with the same message.
    response = portal.post("/sign-in", {"email": nacro_manager.email, "password": PASSWORD})
    assert response.status_code == 200
    assert SIGN_IN_FAILED in text_of(response)
    assert "auth.sign_in_blocked" in actions_for(nacro_manager)

    with time_machine.travel(utcnow() + timedelta(minutes=16), tick=False):
        response = portal.post("/sign-in", {"email": nacro_manager.email, "password": PASSWORD})
    assert response.status_code == 302


def test_a_good_sign_in_resets_the_failure_count(portal, nacro_manager):
    for _ in range(4):
        portal.post("/sign-in", {"email": nacro_manager.email, "password": "wrong-password-here"})
    portal.sign_in(nacro_manager)
    db.session.refresh(nacro_manager)
    assert nacro_manager.failed_login_count == 0
    portal.sign_out()
    portal.post("/sign-in", {"email": nacro_manager.email, "password": "wrong-password-here"})
    db.session.refresh(nacro_manager)
    assert not nacro_manager.is_locked()


def test_deactivated_user_cannot_sign_in(portal, nacro):
    user = UserFactory(organisation=nacro, active=False)
    response = portal.post("/sign-in", {"email": user.email, "password": PASSWORD})
    assert SIGN_IN_FAILED in text_of(response)


def test_invited_user_without_a_password_cannot_sign_in(portal, nacro):
    user = UserFactory(organisation=nacro, invited=True)
    response = portal.post("/sign-in", {"email": user.email, "password": ""})
    assert response.status_code == 200
    response = portal.post("/sign-in", {"email": user.email, "password": "anything-at-all"})
    assert SIGN_IN_FAILED in text_of(response)


def test_sign_in_is_rate_limited_per_address(app, portal, nacro_manager):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    try:
        codes = [
            portal.post("/sign-in", {"email": nacro_manager.email, "password": "wrong"}).status_code for _ in range(4)
        ]
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"
    assert codes == [200, 200, 200, 429]


def test_sign_in_form_needs_its_csrf_token(portal, nacro_manager):
    response = portal.post("/sign-in", {"email": nacro_manager.email, "password": PASSWORD}, csrf=False)
    assert response.status_code == 400
    assert "Your form could not be sent" in text_of(response)


def test_signing_out_needs_a_post_with_csrf_and_ends_the_session(portal, nacro_manager):
    portal.sign_in(nacro_manager)
    assert portal.get("/sign-out").status_code == 405
    assert portal.post("/sign-out", csrf=False).status_code == 400
    response = portal.sign_out()
    assert response.headers["Location"] == "/sign-in"
    assert portal.get("/account").status_code == 302
    assert "auth.signed_out" in actions_for(nacro_manager)


def test_idle_session_times_out_after_thirty_minutes(portal, nacro_manager):
    portal.sign_in(nacro_manager)
    assert portal.get("/account").status_code == 200
    with time_machine.travel(utcnow() + timedelta(minutes=31), tick=False):
        response = portal.get("/account")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/sign-in")
        page = portal.get(response.headers["Location"])
        assert "signed out because you had not done anything for 30 minutes" in text_of(page)
        assert portal.get("/account").status_code == 302
    assert "auth.session_expired" in actions_for(nacro_manager)


def test_activity_keeps_the_session_alive(portal, nacro_manager):
    portal.sign_in(nacro_manager)
    start = utcnow()
    for minutes in (20, 40, 60):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            assert portal.get("/account").status_code == 200


def test_session_cookie_is_http_only_and_same_site(portal, nacro_manager):
    response = portal.post("/sign-in", {"email": nacro_manager.email, "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_signed_in_user_visiting_sign_in_goes_home(portal, nacro_manager):
    portal.sign_in(nacro_manager)
    assert portal.get("/sign-in").headers["Location"] == "/"
