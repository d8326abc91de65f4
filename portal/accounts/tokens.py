"""Operations on personal API tokens: create (shown once), revoke, and authenticate a request's token.

A token is `pp_` and 43 random URL-safe characters (256 bits). Only its SHA-256 is stored: a
token that random needs no slow hash, and a lookup by hash reveals nothing about other tokens.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from portal import access
from portal.accounts.models import MAX_TOKEN_NAME, ApiToken, User
from portal.audit.service import record_event
from portal.db import utcnow
from portal.errors import ValidationFailed
from portal.extensions import db

TOKEN_PREFIX = "pp_"  # noqa: S105 - a marker that tells a token from other text, not a secret
MAX_TOKEN_LENGTH = 200
# Recording every use would write a row per request; to the minute is all the page shows.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once, never stored


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def tokens_of(user: User) -> list[ApiToken]:
    """The user's tokens, active ones first, newest first."""
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id.desc())
        ).all()
    )


def _check_name(user: User, name: Any) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name:
        raise ValidationFailed.single("name", "Enter a name for the token, like the system that will use it")
    if len(name) > MAX_TOKEN_NAME:
        raise ValidationFailed.single("name", f"The name must be {MAX_TOKEN_NAME} characters or fewer")
    taken = db.session.scalar(
        select(ApiToken.id).where(ApiToken.user_id == user.id, ApiToken.name == name, ApiToken.revoked_at.is_(None))
    )
    if taken is not None:
        raise ValidationFailed.single("name", "You already have an active token with this name: choose another name")
    return name


def create_token(actor: User | None, user: User, *, name: str) -> NewToken:
    """A new token for `user`. People make their own; `actor` None is an operator at the command line."""
    if actor is not None:
        access.require(actor, "create_api_token", user)
    if not user.active:
        raise ValidationFailed.single("email", "This account is deactivated, so it cannot have API tokens")
    name = _check_name(user, name)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=hash_secret(secret), prefix=secret[:11])
    db.session.add(token)
    db.session.flush()
    record_event(
        "api_token.created",
        actor=actor,
        record=token,
        details={"name": name, "prefix": token.prefix, "user": user.email, "via": "web" if actor else "cli"},
    )
    db.session.commit()
    return NewToken(token=token, secret=secret)


def revoke_token(actor: User | None, token: ApiToken) -> None:
    """Stop a token working, at once. Its owner or an administrator may; `actor` None is an operator."""
    owner = db.session.get(User, token.user_id)
    if actor is not None:
        access.require(actor, "revoke", token)
    if not token.active:
        return
    token.revoked_at = utcnow()
    token.revoked_by_id = getattr(actor, "id", None)
    record_event(
        "api_token.revoked",
        actor=actor,
        record=token,
        details={"name": token.name, "prefix": token.prefix, "user": owner.email, "via": "web" if actor else "cli"},
    )
    db.session.commit()


def find_token(user: User, name: str) -> ApiToken | None:
    """The user's active token with this name (for the command line)."""
    return db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.name == name, ApiToken.revoked_at.is_(None))
    ).first()


@dataclass(frozen=True)
class Bearer:
    """Who a request's token says is calling."""

    token_id: int
    user: User


def authenticate(secret: str) -> Bearer | None:
    """The user an active token belongs to, if that user is active; else None.

    A deactivated user's tokens stop at once: the user's `active` flag is read on every request.
    """
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > MAX_TOKEN_LENGTH:
        return None
    token = db.session.scalars(
        select(ApiToken)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_secret(secret), ApiToken.revoked_at.is_(None), User.active.is_(True))
        .options(contains_eager(ApiToken.user))
    ).first()
    if token is None:
        return None
    bearer = Bearer(token_id=token.id, user=token.user)
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
        db.session.commit()
    return bearer
