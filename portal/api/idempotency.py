"""Idempotency-Key on POST: the first response to a key is kept for the user for 24 hours; the same
key again replays it and does nothing, and the same key with a different request is refused (422).

The key is claimed (a row with no response yet) before the operation runs, in its own commit, so
two requests racing with one key cannot both act: the second is told the first is in progress
(409). A response of 500 or more is not kept, so the client may try again with the same key. A
claim left without a response for ABANDONED_AFTER (its server was stopped mid-request: gunicorn
kills a worker after GUNICORN_TIMEOUT, 60 s) is released, so the retry runs rather than hearing
"in progress" for a day.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import timedelta

from flask import Response, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from portal.accounts.models import User
from portal.api.models import IdempotencyRecord
from portal.db import utcnow
from portal.extensions import db
from portal.problems import ApiProblem

HEADER = "Idempotency-Key"
WINDOW = timedelta(hours=24)
ABANDONED_AFTER = timedelta(minutes=2)
KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, e.g. a UUID
KEPT_HEADERS = ("Location",)


def _request_hash() -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _find(user_id: int, key: str) -> IdempotencyRecord | None:
    return db.session.scalars(
        select(IdempotencyRecord).where(IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key)
    ).first()


def _claim(user: User, key: str, request_hash: str) -> tuple[IdempotencyRecord, bool]:
    """The record for this key, and whether this request has just claimed it."""
    now = utcnow()
    existing = _find(user.id, key)
    if existing is not None and existing.status_code is None and existing.created_at <= now - ABANDONED_AFTER:
        # Conditional, so of two retries racing to release it only one does; the other finds
        # the new claim below (409) like any second request.
        db.session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.id == existing.id, IdempotencyRecord.status_code.is_(None)
            )
        )
        db.session.commit()
        existing = None
    if existing is not None and existing.created_at > now - WINDOW:
        return existing, False
    # Clear this user's expired keys (including this one, if it is old) before claiming it afresh.
    db.session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user.id, IdempotencyRecord.created_at <= now - WINDOW
        )
    )
    record = IdempotencyRecord(
        user_id=user.id, key=key, request_hash=request_hash, method=request.method, path=request.path[:500]
    )
    db.session.add(record)
    try:
        db.session.commit()
    except IntegrityError:
        # Another request claimed the key a moment ago.
        db.session.rollback()
        existing = _find(user.id, key)
        if existing is None:  # pragma: no cover - it was claimed and then given up, in that moment
            raise ApiProblem("request-in-progress") from None
        return existing, False
    return record, True


def _replay(record: IdempotencyRecord) -> Response:
    response = Response(record.response_body or "", status=record.status_code)
    for name, value in (record.response_headers or {}).items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _release(record_id: int) -> None:
    db.session.rollback()
    db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))
    db.session.commit()


def respond_once(user: User, respond: Callable[[], Response]) -> Response:
    """Answer the request with `respond()`, honouring its Idempotency-Key if it has one."""
    key = request.headers.get(HEADER)
    if key is None:
        return respond()
    if not KEY.match(key):
        raise ApiProblem(
            "malformed-request", "An Idempotency-Key is 1 to 255 visible ASCII characters: a UUID is a good choice"
        )
    request_hash = _request_hash()
    record, claimed = _claim(user, key, request_hash)
    if not claimed:
        if record.request_hash != request_hash:
            raise ApiProblem(
                "idempotency-key-reused",
                "This Idempotency-Key was used for a different request in the last 24 hours: use a new key",
            )
        if record.status_code is None:
            raise ApiProblem("request-in-progress", "A request with this Idempotency-Key is still being answered")
        return _replay(record)

    record_id = record.id
    try:
        response = respond()
    except BaseException:
        _release(record_id)
        raise
    if response.status_code >= 500:
        _release(record_id)
        return response
    record = db.session.get(IdempotencyRecord, record_id)
    record.status_code = response.status_code
    record.response_body = response.get_data(as_text=True)
    record.response_headers = {"Content-Type": response.headers.get("Content-Type", "application/json")} | {
        name: response.headers[name] for name in KEPT_HEADERS if name in response.headers
    }
    record.completed_at = utcnow()
    db.session.commit()
    return response
