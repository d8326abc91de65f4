"""Personal API tokens: made on the account page and shown once, stored hashed, listed with when they
were made and last used, revoked by their owner or an administrator; a deactivated user's tokens stop
at once; `flask api-token create` prints just the token. Every step is audited."""

from __future__ import annotations

import re
from datetime import timedelta

import time_machine
from sqlalchemy import select

from portal.accounts import service as accounts
from portal.accounts import tokens
from portal.accounts.models import ApiToken, Role
from portal.audit.models import AuditEvent
from portal.db import utcnow
from portal.extensions import db
from tests.api.conftest import ApiClient
from tests.helpers import text_of

TOKEN = re.compile(r"pp_[A-Za-z0-9_-]{43}")


def events(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all())


def test_a_user_creates_a_token_on_their_account_page_and_sees_it_once(app, portal, nacro_manager):
    portal.sign_in(nacro_manager)
    assert "Manage your API tokens" in text_of(portal.get("/account"))
    assert "You have no API tokens" in text_of(portal.get("/account/api-tokens"))
    page = portal.post("/account/api-tokens/new", {"name": "Case management system"})
    assert page.status_code == 200
    secret = TOKEN.search(page.get_data(as_text=True)).group(0)
    assert "You will not be able to see it again" in text_of(page)

    stored = db.session.scalars(select(ApiToken)).one()
    assert stored.token_hash == tokens.hash_secret(secret) and secret not in (stored.token_hash, stored.prefix)
    assert stored.prefix == secret[:11]
    listing = text_of(portal.get("/account/api-tokens"))
    assert "Case management system" in listing and stored.prefix in listing and "Never" in listing
    assert secret not in portal.get("/account/api-tokens").get_data(as_text=True)  # never shown again
    [created] = events("api_token.created")
    assert created.actor_id == nacro_manager.id and created.details["name"] == "Case management system"
    assert secret not in str(created.details)

    client = ApiClient(app.test_client(), secret)
    assert client.get("/contracts").status_code == 200
    db.session.expire_all()
    assert db.session.get(ApiToken, stored.id).last_used_at is not None
    assert "Never" not in text_of(portal.get("/account/api-tokens")).split("Case management system")[1][:80]


def test_a_token_needs_a_name_unique_among_the_users_active_tokens(portal, nacro_manager):
    portal.sign_in(nacro_manager)
    page = portal.post("/account/api-tokens/new", {"name": ""})
    assert "Enter a name for the token" in text_of(page) and "There is a problem" in text_of(page)
    portal.post("/account/api-tokens/new", {"name": "CMS"})
    page = portal.post("/account/api-tokens/new", {"name": "CMS"})
    assert "You already have an active token with this name" in text_of(page)
    assert len(db.session.scalars(select(ApiToken)).all()) == 1


def test_the_owner_revokes_a_token_and_it_stops_at_once(app, portal, nacro_manager):
    created = tokens.create_token(nacro_manager, nacro_manager, name="CMS")
    client = ApiClient(app.test_client(), created.secret)
    assert client.get("/contracts").status_code == 200
    portal.sign_in(nacro_manager)
    confirm = portal.get(f"/account/api-tokens/{created.token.id}/revoke")
    assert "Revoke the token ‘CMS’?" in text_of(confirm)
    done = portal.post(f"/account/api-tokens/{created.token.id}/revoke", follow_redirects=True)
    assert "has been revoked" in text_of(done) and "Revoked" in text_of(done)
    response = client.get("/contracts")
    assert response.status_code == 401 and "revoked" in response.get_json()["detail"]
    [revoked] = events("api_token.revoked")
    assert revoked.actor_id == nacro_manager.id and revoked.details["user"] == nacro_manager.email


def test_nobody_else_but_an_administrator_can_revoke_someones_token(
    portal, other_portal, admin, nacro_manager, nacro_caseworker
):
    created = tokens.create_token(nacro_caseworker, nacro_caseworker, name="Phone app")
    # Not the caseworker's manager: their own page 404s, and the user page shows no tokens to revoke.
    portal.sign_in(nacro_manager)
    assert portal.get(f"/account/api-tokens/{created.token.id}/revoke").status_code == 404
    assert portal.post(f"/users/{nacro_caseworker.id}/api-tokens/{created.token.id}/revoke").status_code == 404
    assert "Phone app" not in text_of(portal.get(f"/users/{nacro_caseworker.id}"))
    assert db.session.get(ApiToken, created.token.id).revoked_at is None
    # An administrator sees it on the user's page and revokes it there.
    other_portal.sign_in(admin)
    page = text_of(other_portal.get(f"/users/{nacro_caseworker.id}"))
    assert "API tokens" in page and "Phone app" in page
    done = other_portal.post(
        f"/users/{nacro_caseworker.id}/api-tokens/{created.token.id}/revoke", follow_redirects=True
    )
    assert "The API token ‘Phone app’ has been revoked" in text_of(done)
    db.session.expire_all()
    token = db.session.get(ApiToken, created.token.id)
    assert token.revoked_at is not None and token.revoked_by_id == admin.id
    assert events("api_token.revoked")[0].actor_id == admin.id


def test_a_deactivated_users_tokens_stop_at_once_and_stay_revoked_on_reactivation(app, admin, nacro_caseworker):
    """A leaver may have kept a copy of a token: reactivating the account must not revive it."""
    created = tokens.create_token(nacro_caseworker, nacro_caseworker, name="CMS")
    client = ApiClient(app.test_client(), created.secret)
    assert client.get("/referrals").status_code == 200
    accounts.deactivate_user(admin, nacro_caseworker)
    assert client.get("/referrals").status_code == 401
    accounts.reactivate_user(admin, db.session.get(type(nacro_caseworker), nacro_caseworker.id))
    assert client.get("/referrals").status_code == 401


def test_a_token_acts_with_its_users_current_role(app, admin, nacro_caseworker, nacro_referral):
    client = ApiClient(app.test_client(), tokens.create_token(None, nacro_caseworker, name="CMS").secret)
    accept = f"/referrals/{nacro_referral.reference}/accept"
    assert client.post(accept, {"risk_information_read": True}).status_code == 403
    user = db.session.get(type(nacro_caseworker), nacro_caseworker.id)
    accounts.update_user(admin, user, name=user.name, role=Role.PROVIDER_MANAGER, version=user.version)
    assert client.post(accept, {"risk_information_read": True}).status_code == 200


def test_work_done_through_a_token_is_audited_with_that_token(app, nacro_manager, nacro_referral):
    created = tokens.create_token(None, nacro_manager, name="CMS")
    client = ApiClient(app.test_client(), created.secret)
    accept = f"/referrals/{nacro_referral.reference}/accept"
    assert client.post(accept, {"risk_information_read": True}).status_code == 200
    (accepted,) = events("referral.accepted")
    assert accepted.actor_id == nacro_manager.id
    assert accepted.details["api_token_id"] == db.session.scalars(select(ApiToken.id)).one()


def test_unknown_and_malformed_tokens_are_401(app, nacro_manager):
    tokens.create_token(None, nacro_manager, name="CMS")
    for header in ("Bearer pp_" + "A" * 43, "Bearer ", "Basic dXNlcjpwYXNz", "pp_x", "Bearer " + "x" * 300):
        response = app.test_client().get("/api/v1/contracts", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.mimetype == "application/problem+json"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_last_used_is_kept_to_the_minute_without_a_write_per_request(app, nacro_manager):
    created = tokens.create_token(None, nacro_manager, name="CMS")
    client = ApiClient(app.test_client(), created.secret)
    client.get("/contracts")
    db.session.expire_all()
    first = db.session.get(ApiToken, created.token.id).last_used_at
    client.get("/contracts")
    db.session.expire_all()
    assert db.session.get(ApiToken, created.token.id).last_used_at == first
    with time_machine.travel(utcnow() + timedelta(minutes=2), tick=False):
        client.get("/contracts")
    db.session.expire_all()
    assert db.session.get(ApiToken, created.token.id).last_used_at > first


def test_the_cli_prints_a_new_token_alone_on_stdout(app, runner, nacro_manager):
    result = runner.invoke(args=["api-token", "create", "--email", "MANAGER@nacro.example", "--name", "Nightly sync"])
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert TOKEN.fullmatch(secret), result.stdout
    assert ApiClient(app.test_client(), secret).get("/referrals").status_code == 200
    [created] = events("api_token.created")
    assert created.actor_id is None and created.details["via"] == "cli"

    result = runner.invoke(args=["api-token", "revoke", "--email", "manager@nacro.example", "--name", "Nightly sync"])
    assert result.exit_code == 0 and result.stdout == ""
    assert ApiClient(app.test_client(), secret).get("/referrals").status_code == 401


def test_the_cli_fails_clearly(runner, nacro_manager):
    result = runner.invoke(args=["api-token", "create", "--email", "nobody@example.org", "--name", "X"])
    assert result.exit_code == 1 and result.stdout == "" and "no user has the email address" in result.stderr
    result = runner.invoke(args=["api-token", "create", "--email", nacro_manager.email, "--name", " "])
    assert result.exit_code == 1 and result.stdout == "" and "Enter a name" in result.stderr
