"""Passwords: Argon2 hashes, the rules, reset links by email, invitations, changing your own."""

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from config.settings import BaseConfig
from portal.accounts.passwords import password_problems
from portal.audit.models import AuditEvent
from portal.db import utcnow
from portal.extensions import db
from portal.notifications.models import EmailStatus, OutboundEmail
from tests.factories import PASSWORD, UserFactory
from tests.helpers import text_of

NEW_PASSWORD = "lantern-orchard-pebble-42"


def emails_to(address):
    return db.session.scalars(select(OutboundEmail).where(OutboundEmail.recipient == address)).all()


def link_in(email, path):
    match = re.search(rf"http://127\.0\.0\.1:5000(/{path}/[^\s\"<]+)", email.body_text)
    assert match, email.body_text
    return match.group(1)


def test_passwords_are_stored_as_argon2id_hashes(nacro_manager):
    assert nacro_manager.password_hash.startswith("$argon2id$")
    assert PASSWORD not in nacro_manager.password_hash


def test_outside_the_tests_passwords_cost_what_owasp_asks_of_argon2id(monkeypatch):
    """OWASP's Password Storage Cheat Sheet: "a minimum configuration of 19 MiB of memory, an
    iteration count of 2, and 1 degree of parallelism" (the tests hash at the lowest cost)."""
    for name in ("ARGON2_TIME_COST", "ARGON2_MEMORY_COST", "ARGON2_PARALLELISM"):
        monkeypatch.delenv(name, raising=False)
    config = BaseConfig()
    assert (config.ARGON2_MEMORY_COST, config.ARGON2_TIME_COST, config.ARGON2_PARALLELISM) == (19 * 1024, 2, 1)


def test_a_password_hashed_at_another_cost_is_renewed_at_the_next_sign_in(portal, app, nacro_manager):
    assert "$m=1024,t=1,p=1$" in nacro_manager.password_hash  # the tests' cost
    app.config.update(ARGON2_MEMORY_COST=2048, ARGON2_PARALLELISM=2)
    try:
        assert portal.sign_in(nacro_manager.email, PASSWORD).status_code == 302
    finally:
        app.config.update(ARGON2_MEMORY_COST=1024, ARGON2_PARALLELISM=1)
    db.session.expire_all()
    assert "$m=2048,t=1,p=2$" in db.session.get(type(nacro_manager), nacro_manager.id).password_hash


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short-one", "12 characters or more"),
        ("password1234", "harder to guess"),
        ("qwertyuiop12", "harder to guess"),
        ("aaaaaaaaaaaa", "harder to guess"),
        ("x" * 129, "128 characters or fewer"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password, problem):
    problems = password_problems(password)
    assert problems and problem in problems[0]


def test_a_long_uncommon_passphrase_is_accepted():
    assert password_problems(NEW_PASSWORD) == []


def test_a_password_made_of_the_users_own_email_is_refused():
    assert password_problems("manager@nacro.example", user_inputs=["manager@nacro.example", "Mo Manager"])


def test_forgotten_password_reset_by_emailed_link(portal, nacro_manager):
    response = portal.post("/forgot-password", {"email": "Manager@Nacro.example"})
    assert "Check your email" in text_of(response)
    [email] = emails_to(nacro_manager.email)
    assert email.status == EmailStatus.SENT
    assert email.subject == "Reset your Partner Portal password"
    link = link_in(email, "reset-password")

    page = portal.get(link)
    assert "Choose a new password" in text_of(page)
    response = portal.post(link, {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert response.headers["Location"] == "/sign-in"

    assert portal.sign_in(nacro_manager, NEW_PASSWORD).status_code == 302
    actions = db.session.scalars(select(AuditEvent.action)).all()
    assert "auth.password_reset_requested" in actions
    assert "user.password_reset" in actions


def test_reset_link_works_once(portal, nacro_manager):
    portal.post("/forgot-password", {"email": nacro_manager.email})
    link = link_in(emails_to(nacro_manager.email)[0], "reset-password")
    portal.get(link)
    portal.post(link, {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    again = portal.get(link)
    assert again.status_code == 404
    assert "This link does not work" in text_of(again)


def test_reset_link_expires_after_an_hour(portal, nacro_manager):
    portal.post("/forgot-password", {"email": nacro_manager.email})
    link = link_in(emails_to(nacro_manager.email)[0], "reset-password")
    with time_machine.travel(utcnow() + timedelta(minutes=61), tick=False):
        assert portal.get(link).status_code == 404


def test_tampered_reset_link_does_not_work(portal, nacro_manager):
    portal.post("/forgot-password", {"email": nacro_manager.email})
    link = link_in(emails_to(nacro_manager.email)[0], "reset-password")
    assert portal.get(link[:-3] + "abc").status_code == 404


def test_unknown_email_gets_the_same_confirmation_and_no_email(portal):
    response = portal.post("/forgot-password", {"email": "nobody@nowhere.example"})
    assert "Check your email" in text_of(response)
    assert db.session.scalars(select(OutboundEmail)).all() == []


def test_reset_refuses_a_weak_or_mismatched_password_and_keeps_the_old_one(portal, nacro_manager):
    portal.post("/forgot-password", {"email": nacro_manager.email})
    link = link_in(emails_to(nacro_manager.email)[0], "reset-password")
    portal.get(link)
    weak = portal.post(link, {"password": "password1234", "confirm_password": "password1234"})
    assert weak.status_code == 200
    assert "harder to guess" in text_of(weak)
    mismatch = portal.post(link, {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD + "x"})
    assert "Passwords do not match" in text_of(mismatch)
    assert 'href="#confirm_password"' in mismatch.get_data(as_text=True)
    assert portal.sign_in(nacro_manager).status_code == 302


def test_reset_link_is_built_on_the_configured_address_not_the_host_header(portal, nacro_manager):
    portal.get("/forgot-password", headers={"Host": "evil.example"})
    portal.post("/forgot-password", {"email": nacro_manager.email}, headers={"Host": "evil.example"})
    [email] = emails_to(nacro_manager.email)
    assert "evil.example" not in email.body_text
    assert "http://127.0.0.1:5000/reset-password/" in email.body_text


def test_invited_user_creates_a_password_then_signs_in(portal, nacro):
    invited = UserFactory(organisation=nacro, invited=True, email="new@nacro.example")
    from portal.accounts.passwords import make_password_token

    link = f"/set-password/{make_password_token(invited, 'invite')}"
    assert "Create your password" in text_of(portal.get(link))
    response = portal.post(link, {"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert response.headers["Location"] == "/sign-in"
    assert portal.sign_in(invited, NEW_PASSWORD).status_code == 302
    assert "user.password_set" in db.session.scalars(select(AuditEvent.action)).all()


def test_user_changes_their_own_password_and_other_sessions_end(portal, other_portal, nacro_manager):
    portal.sign_in(nacro_manager)
    other_portal.sign_in(nacro_manager)
    portal.get("/account/password")
    response = portal.post(
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_new_password": NEW_PASSWORD,
        },
    )
    assert response.headers["Location"] == "/account"
    assert portal.get("/account").status_code == 200  # this session carries on
    assert other_portal.get("/account").status_code == 302  # the other device is signed out
    assert "user.password_changed" in db.session.scalars(select(AuditEvent.action)).all()


def test_changing_password_needs_the_current_one(portal, nacro_manager):
    portal.sign_in(nacro_manager)
    portal.get("/account/password")
    response = portal.post(
        "/account/password",
        {
            "current_password": "not-my-password",
            "new_password": NEW_PASSWORD,
            "confirm_new_password": NEW_PASSWORD,
        },
    )
    assert "Your current password is not right" in text_of(response)
    assert 'href="#current_password"' in response.get_data(as_text=True)
