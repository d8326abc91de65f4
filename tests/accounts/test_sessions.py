"""Sessions are records on the server: ended at sign-out, by a new password, by deactivation or
from the account page, they stop working at once, on every server, whatever cookie is replayed."""

import re
from datetime import timedelta

import time_machine
from sqlalchemy import select

from portal.accounts.models import Role, UserSession
from portal.accounts.service import deactivate_user, update_user
from portal.audit.models import AuditEvent
from portal.db import utcnow
from portal.extensions import db
from tests.factories import PASSWORD
from tests.helpers import Portal, text_of

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)


def session_cookie(portal):
    return portal.client.get_cookie("portal_session").value


def with_cookie(app, value):
    """Another browser (or an attacker) holding a copy of the cookie."""
    client = app.test_client()
    client.set_cookie("portal_session", value)
    return Portal(client)


def signed_in_on(app, user, user_agent):
    portal = Portal(app.test_client())
    portal.client.environ_base["HTTP_USER_AGENT"] = user_agent
    portal.sign_in(user)
    return portal


def actions():
    return db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()


def test_a_copy_of_the_cookie_kept_from_before_sign_out_no_longer_works(app, portal, nacro_manager):
    portal.sign_in(nacro_manager)
    copied = session_cookie(portal)
    assert with_cookie(app, copied).get("/account").status_code == 200
    portal.sign_out()
    replayed = with_cookie(app, copied).get("/account")
    assert replayed.status_code == 302
    assert replayed.headers["Location"].startswith("/sign-in")


def test_a_cookie_naming_no_session_record_signs_nobody_in(portal, nacro_manager):
    """A cookie without a `last_seen` (or with any `_user_id` at all) is not a session: only the
    record on the server is, and its idle clock is the server's."""
    with portal.client.session_transaction() as cookie:
        cookie["_user_id"] = "made-up"
        cookie["_fresh"] = True
    assert portal.get("/account").status_code == 302


def test_signing_in_on_one_server_carries_on_on_another(app, observer_app, portal, nacro_manager):
    """No sticky sessions: any gunicorn instance on the same database answers for the session,
    and a sign-out on one is a sign-out on all."""
    portal.sign_in(nacro_manager)
    elsewhere = with_cookie(observer_app, session_cookie(portal))
    assert elsewhere.get("/account").status_code == 200
    elsewhere.sign_out()
    assert portal.get("/account").status_code == 302


def test_the_account_page_lists_where_you_are_signed_in(app, nacro_manager):
    laptop = signed_in_on(app, nacro_manager, FIREFOX)
    signed_in_on(app, nacro_manager, SAFARI)
    page = text_of(laptop.get("/account"))
    assert "Where you are signed in" in page
    assert re.search(r"Firefox on Windows 127\.0\.0\.1 .* This device", page)
    assert "Mobile Safari on iOS 127.0.0.1" in page
    assert "Sign out of all other devices" in page


def test_signing_out_one_other_device_ends_only_that_session(app, nacro_manager):
    laptop = signed_in_on(app, nacro_manager, FIREFOX)
    phone = signed_in_on(app, nacro_manager, SAFARI)
    phone_session = db.session.scalars(select(UserSession).where(UserSession.device == "Mobile Safari on iOS")).one()
    laptop.get("/account")
    response = laptop.post(f"/account/sessions/{phone_session.id}/end")
    assert response.status_code == 302
    assert "Mobile Safari on iOS has been signed out" in text_of(laptop.get("/account"))
    assert phone.get("/account").status_code == 302
    assert laptop.get("/account").status_code == 200
    assert "auth.session_ended" in actions()


def test_sign_out_of_all_other_devices(app, nacro_manager):
    laptop = signed_in_on(app, nacro_manager, FIREFOX)
    phones = [signed_in_on(app, nacro_manager, SAFARI) for _ in range(2)]
    laptop.get("/account")
    laptop.post("/account/sessions/end-others")
    assert all(phone.get("/account").status_code == 302 for phone in phones)
    assert laptop.get("/account").status_code == 200
    assert "auth.other_sessions_ended" in actions()


def test_nobody_can_end_someone_elses_session(app, nacro_manager, nacro_caseworker):
    theirs = signed_in_on(app, nacro_caseworker, SAFARI)
    mine = signed_in_on(app, nacro_manager, FIREFOX)
    their_session = db.session.scalars(select(UserSession).where(UserSession.user_id == nacro_caseworker.id)).one()
    mine.get("/account")
    assert mine.post(f"/account/sessions/{their_session.id}/end").status_code == 404
    assert mine.post("/account/sessions/99999999999999999999/end").status_code == 404
    assert theirs.get("/account").status_code == 200


def test_a_new_password_signs_out_every_other_device_but_this_one(app, nacro_manager):
    laptop = signed_in_on(app, nacro_manager, FIREFOX)
    phone = signed_in_on(app, nacro_manager, SAFARI)
    laptop.get("/account/password")
    new_password = "a-brand-new-passphrase-2026"
    response = laptop.post(
        "/account/password",
        {"current_password": PASSWORD, "new_password": new_password, "confirm_new_password": new_password},
    )
    assert response.status_code == 302
    assert laptop.get("/account").status_code == 200
    assert phone.get("/account").status_code == 302


def test_deactivation_and_a_new_role_end_the_users_sessions_at_once(app, admin, nacro_manager, nacro_caseworker):
    manager = signed_in_on(app, nacro_manager, FIREFOX)
    caseworker = signed_in_on(app, nacro_caseworker, SAFARI)
    deactivate_user(admin, nacro_caseworker)
    assert caseworker.get("/account").status_code == 302
    update_user(admin, nacro_manager, name=nacro_manager.name, role=Role.PROVIDER_CASEWORKER, version=None)
    assert manager.get("/account").status_code == 302
    assert db.session.scalar(select(UserSession.end_reason).where(UserSession.user_id == nacro_manager.id)) == (
        "role_changed"
    )


def test_an_idle_session_cannot_be_revived_by_an_old_cookie(app, portal, nacro_manager):
    portal.sign_in(nacro_manager)
    copied = session_cookie(portal)
    with time_machine.travel(utcnow() + timedelta(minutes=31), tick=False):
        assert portal.get("/account").status_code == 302
    assert with_cookie(app, copied).get("/account").status_code == 302
    row = db.session.scalars(select(UserSession)).one()
    assert row.end_reason == "idle"
