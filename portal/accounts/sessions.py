"""Signed-in sessions as database records: started at sign-in, checked on every request, ended at once.

The session cookie carries only a random secret; the row it points to says whether the session
is still live. So sign-out, a new password, deactivation and "sign out of your other devices"
take effect on the very next request, on whichever server answers it, and an old copy of the
cookie is worth nothing. Idle time is measured from the row's `last_seen_at`, which the browser
cannot set.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, has_request_context, request
from sqlalchemy import select, update

from portal.accounts.models import User, UserSession
from portal.audit.service import record_event
from portal.db import utcnow
from portal.errors import NotFound
from portal.extensions import db

# last_seen_at is written at most this often: idle timeouts are counted in minutes, and a write on
# every request would make each page view an UPDATE.
TOUCH_EVERY = timedelta(seconds=60)
# Between a right password and the code from the authenticator app (or setting one up).
PENDING_MINUTES = 10
DEVICE_MAX = 120


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def device_name(user_agent: str | None) -> str:
    """ "Firefox on Windows", as the account page lists the user's sessions."""
    if not user_agent:
        return "Unknown device"
    from ua_parser import parse

    parsed = parse(user_agent[:1000])
    browser = parsed.user_agent.family if parsed.user_agent and parsed.user_agent.family != "Other" else None
    system = parsed.os.family if parsed.os and parsed.os.family != "Other" else None
    name = f"{browser} on {system}" if browser and system else browser or system or "Unknown device"
    return name[:DEVICE_MAX]


def idle_timeout() -> timedelta:
    return timedelta(minutes=current_app.config["SESSION_TIMEOUT_MINUTES"])


def start(user: User, *, pending: bool) -> str:
    """A new session for `user` (pending while a second step is owed); returns the cookie's secret."""
    secret = secrets.token_urlsafe(32)
    row = UserSession(user=user, secret_hash=_hash(secret), pending=pending, started_at=utcnow(), last_seen_at=utcnow())
    if has_request_context():
        row.device = device_name(request.headers.get("User-Agent"))
        row.ip_address = request.remote_addr
    db.session.add(row)
    db.session.flush()
    user.session_secret = secret
    return secret


def promote(row: UserSession) -> str:
    """The second step is done: the pending session becomes a live one under a new secret (so a
    secret seen before the code was entered signs nobody in)."""
    secret = secrets.token_urlsafe(32)
    row.secret_hash = _hash(secret)
    row.pending = False
    row.failed_codes = 0
    row.last_seen_at = utcnow()
    row.user.session_secret = secret
    return secret


@dataclass(frozen=True)
class Resumed:
    """What a request's session cookie turned out to be."""

    row: UserSession | None
    timed_out: bool = False

    @property
    def live(self) -> bool:
        return self.row is not None


def resume(secret: str | None) -> Resumed:
    """The live, signed-in session for `secret`, touched; or why there is none. A session idle past
    the timeout is ended here and audited."""
    row = _find(secret, pending=False)
    if row is None:
        return Resumed(None)
    now = utcnow()
    if now - row.last_seen_at > idle_timeout():
        _end(row, "idle", now)
        record_event("auth.session_expired", actor=row.user, record=row.user, details={"session": row.id})
        db.session.commit()
        return Resumed(None, timed_out=True)
    if now - row.last_seen_at >= TOUCH_EVERY:
        db.session.execute(update(UserSession).where(UserSession.id == row.id).values(last_seen_at=now))
        db.session.commit()
    row.user.session_secret = secret
    return Resumed(row)


def pending(secret: str | None) -> UserSession | None:
    """The sign-in waiting for its second step, if it is still in time."""
    row = _find(secret, pending=True)
    if row is None:
        return None
    if utcnow() - row.started_at > timedelta(minutes=PENDING_MINUTES):
        _end(row, "second_step_timed_out", utcnow())
        db.session.commit()
        return None
    row.user.session_secret = secret
    return row


def _find(secret: str | None, *, pending: bool) -> UserSession | None:
    if not secret or not isinstance(secret, str) or len(secret) > 100:
        return None
    row = db.session.scalars(
        select(UserSession).where(UserSession.secret_hash == _hash(secret), UserSession.ended_at.is_(None))
    ).first()
    if row is None or row.pending != pending or not row.user.active:
        return None
    return row


def _end(row: UserSession, reason: str, now: datetime) -> None:
    row.ended_at = now
    row.end_reason = reason


def end(row: UserSession | None, reason: str) -> None:
    """End one session (no commit: the caller's transaction carries its audit event)."""
    if row is not None and row.ended_at is None:
        _end(row, reason, utcnow())


def end_all(user: User, reason: str, *, keep: UserSession | None = None) -> int:
    """End every session of `user`, except `keep`; how many were live."""
    statement = update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    if keep is not None:
        statement = statement.where(UserSession.id != keep.id)
    result = db.session.execute(
        statement.values(ended_at=utcnow(), end_reason=reason).execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def live_sessions(user: User) -> list[UserSession]:
    """The user's signed-in sessions, most recently used first (idle ones are already over)."""
    cutoff = utcnow() - idle_timeout()
    return list(
        db.session.scalars(
            select(UserSession)
            .where(
                UserSession.user_id == user.id,
                UserSession.ended_at.is_(None),
                UserSession.pending.is_(False),
                UserSession.last_seen_at >= cutoff,
            )
            .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
        )
    )


# --- what the user does from their account page ---------------------------------------------------


def sign_out(row: UserSession) -> None:
    end(row, "signed_out")
    record_event("auth.signed_out", actor=row.user, record=row.user, details={"session": row.id})
    db.session.commit()


def end_other_session(user: User, session_id: int, current: UserSession) -> UserSession:
    """The user signs one of their other devices out. Someone else's session is not found."""
    row = db.session.scalars(
        select(UserSession).where(
            UserSession.id == session_id, UserSession.user_id == user.id, UserSession.ended_at.is_(None)
        )
    ).first()
    if row is None or row.id == current.id:
        raise NotFound("That session has already ended")
    end(row, "signed_out_elsewhere")
    record_event("auth.session_ended", actor=user, record=user, details={"session": row.id, "device": row.device})
    db.session.commit()
    return row


def end_other_sessions(user: User, current: UserSession) -> int:
    ended = end_all(user, "signed_out_elsewhere", keep=current)
    record_event("auth.other_sessions_ended", actor=user, record=user, details={"sessions": ended})
    db.session.commit()
    return ended
