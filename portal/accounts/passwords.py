"""Password hashing (Argon2id), the password rules, and signed links for setting a password."""

from __future__ import annotations

import hashlib
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from zxcvbn import zxcvbn

MIN_LENGTH = 12
MAX_LENGTH = 128  # Argon2 would hash more, but nobody types more; it caps the work an attacker can ask for.


def _hasher() -> PasswordHasher:
    config = current_app.config
    return PasswordHasher(
        time_cost=config["ARGON2_TIME_COST"],
        memory_cost=config["ARGON2_MEMORY_COST"],
        parallelism=config["ARGON2_PARALLELISM"],
    )


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if `password` matches. With no hash, still spend the time, so timing does not
    tell an attacker whether the account exists."""
    hasher = _hasher()
    if password_hash is None:
        hasher.hash(password)
        return False
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


def password_problems(password: str, *, user_inputs: list[str] | tuple[str, ...] = ()) -> list[str]:
    """What is wrong with a new password, as GOV.UK-style messages (empty list: fine).

    Length first; then zxcvbn, whose lists include the 30,000 most common passwords,
    rejects common passwords, their l33t variants and simple patterns.
    """
    if len(password) < MIN_LENGTH:
        return [f"Password must be {MIN_LENGTH} characters or more"]
    if len(password) > MAX_LENGTH:
        return [f"Password must be {MAX_LENGTH} characters or fewer"]
    result = zxcvbn(password, user_inputs=[value for value in user_inputs if value])
    if result["score"] < 3:
        warning = result["feedback"].get("warning") or "It is too easy to guess."
        return [f"Choose a password that is harder to guess. {warning}".strip()]
    return []


# --- links to set or reset a password ---------------------------------------------------------
#
# The link carries the user's id and a fingerprint of their current password hash and
# session token, so it stops working as soon as it has been used (the hash changes) or
# the user has been deactivated or signed out everywhere (the token changes).

PURPOSES = {
    "reset": "PASSWORD_RESET_MINUTES",
    "invite": "INVITATION_DAYS",
}


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"password-{purpose}")


def _fingerprint(user: Any) -> str:
    material = f"{user.password_hash or ''}|{user.session_token}".encode()
    return hashlib.sha256(material).hexdigest()[:32]


def max_age_seconds(purpose: str) -> int:
    setting = PURPOSES[purpose]
    value = current_app.config[setting]
    return value * 60 if setting.endswith("MINUTES") else value * 86400


def make_password_token(user: Any, purpose: str) -> str:
    return _serializer(purpose).dumps({"user": user.id, "fp": _fingerprint(user)})


def read_password_token(token: str, purpose: str) -> dict[str, Any] | None:
    """The token's payload if it is genuine and in date, else None."""
    try:
        payload = _serializer(purpose).loads(token, max_age=max_age_seconds(purpose))
    except (SignatureExpired, BadSignature):
        return None
    return payload if isinstance(payload, dict) else None


def token_matches(user: Any, payload: dict[str, Any]) -> bool:
    return payload.get("user") == user.id and payload.get("fp") == _fingerprint(user)
