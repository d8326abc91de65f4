"""The probe's smaller findings on accounts: forgot-password does the same work for any address, an
invitation does not reveal accounts in other organisations, and a leaver's API tokens stay revoked."""

from sqlalchemy import select

from portal.accounts import tokens
from portal.accounts.models import Role
from portal.accounts.service import deactivate_user, reactivate_user
from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.notifications.models import OutboundEmail
from tests.factories import UserFactory
from tests.helpers import text_of


def test_forgot_password_hands_any_address_to_the_same_background_job(portal, nacro_manager, monkeypatch):
    """The page itself does the same work for a real and an unknown address (no lookup, no email
    written), so its timing says nothing; the job decides."""
    started = []
    monkeypatch.setattr("portal.jobs.start_job", lambda kind, target, *args, **kw: started.append((kind, target, args)))
    pages = []
    for email in (nacro_manager.email, "nobody@nowhere.example"):
        portal.get("/forgot-password")
        pages.append(text_of(portal.post("/forgot-password", {"email": email})).replace(email, "EMAIL"))
    assert pages[0] == pages[1]
    assert started == [
        ("password-reset", "portal.accounts.service:send_password_reset", ("manager@nacro.example",)),
        ("password-reset", "portal.accounts.service:send_password_reset", ("nobody@nowhere.example",)),
    ]
    assert db.session.scalars(select(OutboundEmail)).all() == []


def test_the_job_emails_a_real_account_and_audits_both(portal, nacro_manager):
    for email in (nacro_manager.email, "nobody@nowhere.example"):
        portal.get("/forgot-password")
        portal.post("/forgot-password", {"email": email})
    assert [e.recipient for e in db.session.scalars(select(OutboundEmail))] == [nacro_manager.email]
    known = db.session.scalars(
        select(AuditEvent.details).where(AuditEvent.action == "auth.password_reset_requested").order_by(AuditEvent.id)
    ).all()
    assert [details["known"] for details in known] == [True, False]


def test_inviting_an_address_with_an_account_elsewhere_reveals_nothing(portal, nacro_manager, st_giles_caseworker):
    portal.sign_in(nacro_manager)
    portal.get("/users/new")
    response = portal.post(
        "/users/new", {"name": "Steph Giles", "email": st_giles_caseworker.email, "role": "provider_caseworker"}
    )
    assert response.headers["Location"] == "/users"
    assert f"An invitation has been sent to {st_giles_caseworker.email}" in text_of(portal.get("/users"))
    # Nothing was created; the account's owner hears of it, and it is audited.
    assert db.session.scalar(select(db.func.count()).where(db.text("1=1")).select_from(db.text("user_account"))) == 2
    [email] = db.session.scalars(select(OutboundEmail)).all()
    assert email.recipient == st_giles_caseworker.email and email.template == "account_exists_elsewhere"
    assert db.session.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc())) == (
        "user.invited_with_existing_email"
    )


def test_inviting_someone_already_in_your_own_organisation_says_so(portal, nacro_manager, nacro_caseworker):
    portal.sign_in(nacro_manager)
    portal.get("/users/new")
    response = portal.post(
        "/users/new", {"name": "Cas Worker", "email": nacro_caseworker.email, "role": "provider_caseworker"}
    )
    assert "A user with this email address already exists" in text_of(response)


def test_a_reactivated_users_old_api_tokens_stay_revoked(client, admin, nacro):
    leaver = UserFactory(email="leaver@nacro.example", role=Role.PROVIDER_MANAGER, organisation=nacro)
    secret = tokens.create_token(None, leaver, name="Case system").secret
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/contracts", headers=headers).status_code == 200
    deactivate_user(admin, leaver)
    reactivate_user(admin, leaver)
    assert client.get("/api/v1/contracts", headers=headers).status_code == 401
    assert all(token.revoked_at is not None for token in tokens.tokens_of(leaver))
