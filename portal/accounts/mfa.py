"""Two-step verification: codes from an authenticator app (TOTP, RFC 6238) and one-use recovery codes.

Required of everyone who can approve money, send referrals or manage users (every CRC role and
partner managers) when MFA_REQUIRED is on; offered to caseworkers. API tokens are not affected:
a token is already a second secret, kept by a machine.
"""

from __future__ import annotations

import hmac
import re
import secrets

import pyotp
import segno
from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.orm.attributes import set_committed_value

from portal.accounts.models import RecoveryCode, Role, User
from portal.accounts.passwords import hash_password, verify_password
from portal.db import utcnow
from portal.errors import ValidationFailed
from portal.extensions import db

ISSUER = "Partner Portal"
ROLES_THAT_MUST_USE_IT = frozenset({Role.PROVIDER_MANAGER, Role.CRC_REFERRER, Role.CONTRACT_MANAGER, Role.ADMIN})
RECOVERY_CODES = 10
# No 0/O, 1/I/L: codes are read off paper.
RECOVERY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
RECOVERY_CODE = re.compile(r"^[A-Z0-9]{10}$")
TOTP_CODE = re.compile(r"^[0-9]{6}$")
ENTER_A_CODE = "Enter the 6-digit code from your authenticator app, or one of your recovery codes"
WRONG_CODE = "The code is not right. Check your authenticator app and enter the newest code"


def is_required_for(user: User) -> bool:
    return bool(current_app.config["MFA_REQUIRED"]) and user.role in ROLES_THAT_MUST_USE_IT


def may_turn_off(user: User) -> bool:
    return user.has_mfa and not is_required_for(user)


def second_step_for(user: User) -> str | None:
    """What a right password still leaves to do: "code", "set_up", or nothing."""
    if user.has_mfa:
        return "code"
    if is_required_for(user):
        return "set_up"
    return None


def _clean(code: str | None) -> str:
    return re.sub(r"[\s-]", "", code or "").upper()


# --- enrolment ------------------------------------------------------------------------------------


def begin_enrolment(user: User) -> str:
    """The secret being set up: a new one, or the one already shown if setting up was begun and not
    finished (so reloading the page does not invalidate the app entry just scanned)."""
    if user.has_mfa:
        raise ValidationFailed.single("code", "Two-step verification is already set up")
    if not user.mfa_secret:
        user.mfa_secret = pyotp.random_base32()
        db.session.commit()
    return user.mfa_secret


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_code_data_uri(uri: str) -> str:
    """The otpauth:// link as an SVG QR code, drawn here (no third-party service ever sees the
    secret) and shown as a data: image, which the content security policy allows."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def grouped(secret: str) -> str:
    """ "ABCD EFGH …", for typing the secret into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def confirm_enrolment(user: User, code: str) -> list[str]:
    """The first code from the app proves it was set up right; returns the new recovery codes."""
    code = _clean(code)
    if not code:
        raise ValidationFailed.single("code", "Enter the 6-digit code from your authenticator app")
    if user.has_mfa or not user.mfa_secret:
        raise ValidationFailed.single("code", "Start setting up two-step verification again")
    if not TOTP_CODE.match(code) or not _accept_totp(user, code):
        raise ValidationFailed.single("code", WRONG_CODE)
    user.mfa_enrolled_at = utcnow()
    return _replace_recovery_codes(user)


# --- checking a code ------------------------------------------------------------------------------


def check_code(user: User, code: str | None) -> str | None:
    """ "app" or "recovery code" if `code` is good (a recovery code is spent); None if not."""
    code = _clean(code)
    if not user.has_mfa or not code:
        return None
    if TOTP_CODE.match(code):
        return "app" if _accept_totp(user, code) else None
    if RECOVERY_CODE.match(code):
        return "recovery code" if _spend_recovery_code(user, code) else None
    return None


def _accept_totp(user: User, code: str) -> bool:
    """The code of the current 30-second step, or the one either side (clocks drift), once only."""
    totp = pyotp.TOTP(user.mfa_secret)
    now = totp.timecode(utcnow())
    for step in (now - 1, now, now + 1):
        if user.mfa_last_step is not None and step <= user.mfa_last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            # Conditional, so two requests racing with one code cannot both be let in.
            taken = db.session.execute(
                update(User)
                .where(User.id == user.id, (User.mfa_last_step.is_(None)) | (User.mfa_last_step < step))
                .values(mfa_last_step=step)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:
                return False
            set_committed_value(user, "mfa_last_step", step)
            return True
    return False


def _spend_recovery_code(user: User, code: str) -> bool:
    unused = db.session.scalars(
        select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ).all()
    for recovery in unused:
        if verify_password(recovery.code_hash, code):
            spent = db.session.execute(
                update(RecoveryCode)
                .where(RecoveryCode.id == recovery.id, RecoveryCode.used_at.is_(None))
                .values(used_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            return spent.rowcount == 1
    return False


def unused_recovery_codes(user: User) -> int:
    return len(
        db.session.scalars(
            select(RecoveryCode.id).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        ).all()
    )


def _new_recovery_code() -> str:
    return "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10))


def shown(code: str) -> str:
    """ "ABCDE-FGHJK": easier to copy from paper; the hyphen is optional when typed."""
    return f"{code[:5]}-{code[5:]}"


def _replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    # Hashed like passwords: the table alone must not let anyone past the second step.
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=hash_password(code)) for code in codes)
    return [shown(code) for code in codes]


def replace_recovery_codes(user: User) -> list[str]:
    if not user.has_mfa:
        raise ValidationFailed.single("code", "Set up two-step verification first")
    return _replace_recovery_codes(user)


def forget(user: User) -> None:
    """Remove the user's authenticator app and recovery codes (turning off, or an admin's reset)."""
    user.mfa_secret = None
    user.mfa_enrolled_at = None
    user.mfa_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def enrol_with_secret(user: User, secret: str) -> None:
    """Enrol without the app's first code: for the demo's documented secret and for tests only."""
    user.mfa_secret = secret
    user.mfa_enrolled_at = utcnow()
    user.mfa_last_step = None
