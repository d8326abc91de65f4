"""Operations on accounts: signing in, passwords, and user administration.

Each function checks permission and state, makes the change, writes its audit event
and commits — or raises a domain error and changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import select, update

from portal import access
from portal.accounts import mfa, sessions
from portal.accounts.models import ApiToken, Role, User, UserSession
from portal.accounts.passwords import (
    hash_password,
    make_password_token,
    needs_rehash,
    password_problems,
    read_password_token,
    token_matches,
    verify_password,
)
from portal.audit.service import changes, record_event, snapshot
from portal.db import utcnow
from portal.errors import NotAllowed, NotFound, StaleRecord, ValidationFailed
from portal.extensions import db
from portal.notifications.service import deliver_queued, queue_email
from portal.organisations.models import Organisation
from portal.urls import absolute_url

SIGN_IN_FAILED = (
    "The email address or password is not right, or the account is locked. "
    "Check them and try again, or reset your password."
)


class SignInFailed(Exception):
    """One message for every failure, so nobody can learn which accounts exist."""

    def __init__(self, message: str = SIGN_IN_FAILED) -> None:
        super().__init__(message)
        self.message = message


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalars(select(User).where(User.email == normalise_email(email))).first()


# --- signing in -----------------------------------------------------------------------------


def authenticate(email: str, password: str) -> User:
    """The user, if the credentials are right and the account may sign in; else SignInFailed.

    Five wrong passwords in a row lock the account for LOCKOUT_MINUTES; while locked even
    the right password fails. Every outcome is audited.
    """
    config = current_app.config
    now = utcnow()
    user = find_user_by_email(email)

    if user is None:
        verify_password(None, password)  # same work as a real check: no timing clue
        record_event("auth.sign_in_failed", details={"reason": "unknown_email", "email": normalise_email(email)[:254]})
        db.session.commit()
        raise SignInFailed

    if user.is_locked(now):
        verify_password(None, password)
        record_event(
            "auth.sign_in_blocked", record=user, details={"reason": "locked", "locked_until": user.locked_until}
        )
        db.session.commit()
        raise SignInFailed

    if not verify_password(user.password_hash, password) or not user.active:
        reason = "deactivated" if not user.active else ("no_password" if not user.has_password else "wrong_password")
        if user.locked_until is not None and user.locked_until <= now:
            user.failed_login_count = 0  # an expired lock starts a fresh count
            user.locked_until = None
        # Counted in SQL, so parallel attempts cannot overwrite each other's count.
        user.failed_login_count = User.failed_login_count + 1
        db.session.flush()
        db.session.refresh(user, ["failed_login_count"])
        record_event(
            "auth.sign_in_failed", record=user, details={"reason": reason, "failed_count": user.failed_login_count}
        )
        if user.failed_login_count >= config["LOCKOUT_THRESHOLD"]:
            user.locked_until = now + timedelta(minutes=config["LOCKOUT_MINUTES"])
            record_event(
                "auth.account_locked",
                record=user,
                details={"locked_until": user.locked_until, "failed_count": user.failed_login_count},
            )
        db.session.commit()
        raise SignInFailed

    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


# --- the second step and the session ------------------------------------------------------------

SECOND_STEP_LOCKED = "Too many wrong codes. Sign in again to continue."


@dataclass(frozen=True)
class SignInStarted:
    """A right password gives a session: live at once, or pending until `next_step` is done."""

    secret: str
    next_step: str | None  # None (signed in), "code" or "set_up"


def start_session(user: User) -> SignInStarted:
    """After the right password: sign in, or start a session that waits for the second step."""
    next_step = mfa.second_step_for(user)
    secret = sessions.start(user, pending=next_step is not None)
    if next_step is None:
        _signed_in(user, via="password")
    else:
        record_event("auth.password_accepted", actor=user, record=user, details={"next_step": next_step})
    db.session.commit()
    return SignInStarted(secret, next_step)


def _signed_in(user: User, *, via: str) -> None:
    user.failed_login_count = 0
    user.locked_until = None
    user.last_login_at = utcnow()
    record_event("auth.signed_in", actor=user, record=user, details={"second_step": via})


def enter_code(row: UserSession, code: str | None) -> str:
    """The code from the authenticator app (or a recovery code) finishes signing in; returns the
    live session's secret. A wrong code counts towards the account's lockout, as a wrong password
    does, and five on one sign-in end it."""
    user = row.user
    if user.is_locked():
        sessions.end(row, "locked")
        db.session.commit()
        raise SignInFailed
    if not (code or "").strip():
        raise ValidationFailed.single("code", mfa.ENTER_A_CODE)
    via = mfa.check_code(user, code)
    if via is None:
        row.failed_codes = row.failed_codes + 1
        user.failed_login_count = User.failed_login_count + 1
        db.session.flush()
        db.session.refresh(user, ["failed_login_count"])
        record_event("auth.code_rejected", actor=user, record=user, details={"failed_count": user.failed_login_count})
        locked = user.failed_login_count >= current_app.config["LOCKOUT_THRESHOLD"]
        if locked:
            user.locked_until = utcnow() + timedelta(minutes=current_app.config["LOCKOUT_MINUTES"])
            record_event("auth.account_locked", record=user, details={"failed_count": user.failed_login_count})
        if locked or row.failed_codes >= current_app.config["LOCKOUT_THRESHOLD"]:
            sessions.end(row, "too_many_wrong_codes")
            db.session.commit()
            raise SignInFailed(SECOND_STEP_LOCKED)
        db.session.commit()
        raise ValidationFailed.single("code", mfa.WRONG_CODE)
    secret = sessions.promote(row)
    _signed_in(user, via=via)
    if via == "recovery code":
        record_event(
            "user.recovery_code_used", actor=user, record=user, details={"left": mfa.unused_recovery_codes(user)}
        )
    db.session.commit()
    return secret


def set_up_second_step(user: User, code: str | None, row: UserSession | None = None) -> list[str]:
    """The user proves their new authenticator app with its first code; returns their recovery
    codes. During sign-in (`row` pending) this also finishes signing in."""
    codes = mfa.confirm_enrolment(user, code or "")
    record_event("user.mfa_enrolled", actor=user, record=user)
    if row is not None and row.pending:
        sessions.promote(row)
        _signed_in(user, via="app")
    db.session.commit()
    return codes


def new_recovery_codes(user: User) -> list[str]:
    codes = mfa.replace_recovery_codes(user)
    record_event("user.recovery_codes_replaced", actor=user, record=user)
    db.session.commit()
    return codes


def turn_off_second_step(user: User, password: str) -> None:
    """Only those not required to use it may turn it off, and only with their password."""
    if not mfa.may_turn_off(user):
        raise NotAllowed("Your role must use two-step verification")
    if not verify_password(user.password_hash, password or ""):
        raise ValidationFailed.single("password", "Your password is not right")
    mfa.forget(user)
    record_event("user.mfa_turned_off", actor=user, record=user)
    db.session.commit()


def reset_second_step(actor: User, user: User) -> None:
    """An administrator removes a user's authenticator app (a lost phone): the user sets up a new
    one at their next sign-in, and is signed out now in case the phone is in other hands."""
    access.require(actor, "reset_mfa", user)
    had = user.has_mfa
    mfa.forget(user)
    sessions.end_all(user, "mfa_reset")
    record_event("user.mfa_reset", actor=actor, record=user, details={"was_set_up": had})
    db.session.commit()


# --- passwords -----------------------------------------------------------------------------


def _check_new_password(user: User, password: str, confirm: str, field: str = "password") -> None:
    errors: dict[str, list[str]] = {}
    problems = password_problems(password, user_inputs=(user.email, user.name))
    if problems:
        errors[field] = problems
    elif password != confirm:
        errors[f"confirm_{field}"] = ["Passwords do not match"]
    if errors:
        raise ValidationFailed(errors)


def _set_password(user: User, password: str, *, reason: str, keep: UserSession | None = None) -> None:
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.failed_login_count = 0
    user.locked_until = None
    # Spends any outstanding links, and signs the user out of every other session.
    user.rotate_session_token()
    sessions.end_all(user, reason, keep=keep)


def change_password(
    user: User, current_password: str, new_password: str, confirm: str, *, keep: UserSession | None = None
) -> None:
    """A new password ends every session but `keep` (the one the user changed it from)."""
    if not verify_password(user.password_hash, current_password):
        raise ValidationFailed.single("current_password", "Your current password is not right")
    _check_new_password(user, new_password, confirm, field="new_password")
    _set_password(user, new_password, reason="password_changed", keep=keep)
    record_event("user.password_changed", actor=user, record=user)
    db.session.commit()


def request_password_reset(email: str) -> None:
    """Hand the request to a background job: the page then does the same work, and takes the same
    time, whether or not the address has an account (looking it up and writing the email took a
    few milliseconds more for a real one, which told an attacker it exists)."""
    from portal.jobs import start_job

    email = normalise_email(email)[:254]
    try:
        start_job("password-reset", "portal.accounts.service:send_password_reset", email)
    except Exception:  # the job queue is down: the person still gets their link
        logging.getLogger(__name__).exception("could not start the password reset job; sending it now")
        send_password_reset(email)


def send_password_reset(email: str) -> dict[str, bool]:
    """Email a reset link if the address belongs to an active account (the background job)."""
    user = find_user_by_email(email)
    if user is None or not user.active:
        record_event("auth.password_reset_requested", details={"known": False})
        db.session.commit()
        deliver_queued()
        return {"known": False}
    link = absolute_url("accounts.reset_password", token=make_password_token(user, "reset"))
    queue_email(
        "password_reset",
        user.email,
        record=user,
        user=user,
        link=link,
        minutes=current_app.config["PASSWORD_RESET_MINUTES"],
    )
    record_event("auth.password_reset_requested", record=user, details={"known": True})
    db.session.commit()
    deliver_queued()  # already in a background job: no need to start another
    return {"known": True}


def user_for_password_token(token: str, purpose: str) -> User | None:
    """The user a set-password link is for, if the link is genuine, in date and unused."""
    payload = read_password_token(token, purpose)
    if payload is None:
        return None
    user = db.session.get(User, payload.get("user"))
    if user is None or not user.active or not token_matches(user, payload):
        return None
    return user


def set_password_from_link(token: str, purpose: str, password: str, confirm: str) -> User:
    user = user_for_password_token(token, purpose)
    if user is None:
        raise NotFound("This link has expired or has already been used")
    _check_new_password(user, password, confirm)
    first_time = not user.has_password
    _set_password(user, password, reason="password_reset")
    action = "user.password_set" if first_time else "user.password_reset"
    record_event(action, actor=user, record=user, details={"via": purpose})
    db.session.commit()
    return user


# --- user administration ----------------------------------------------------------------------

USER_AUDIT_FIELDS = ("email", "name", "role", "organisation_id", "active")


@dataclass(frozen=True)
class NewUser:
    user: User | None  # None: the address belongs to an account the actor may not see (see create_user)
    set_password_link: str | None


def _validate_email_address(email: str, field: str = "email") -> str:
    email = normalise_email(email)
    if not email:
        raise ValidationFailed.single(field, "Enter an email address")
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        raise ValidationFailed.single(
            field, "Enter an email address in the correct format, like name@example.org"
        ) from None
    return email


def create_user(
    actor: User | None,
    *,
    email: str,
    name: str,
    role: Role | str,
    organisation: Organisation,
    password: str | None = None,
    send_invitation: bool = True,
) -> NewUser:
    """Add a user. Without a password, the user gets an invitation link to set one.

    `actor` None means an operator at the command line, who may add anyone.
    """
    errors: dict[str, list[str]] = {}
    try:
        email = _validate_email_address(email)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    name, role = _name_and_role(name, role, errors)
    if "role" not in errors:
        if actor is not None:
            access.require(actor, "manage", User)
            allowed = access.assignable_roles(actor, organisation)
            if not allowed:
                raise NotAllowed("You cannot add users to this organisation")
            if role not in allowed:
                errors["role"] = ["Select a role this organisation's users can have"]
        elif role.organisation_kind != organisation.kind:
            errors["role"] = [f"A {organisation.kind.label} organisation cannot have the role {role.value}"]
    existing = find_user_by_email(email) if "email" not in errors else None
    if existing is not None and (actor is None or _can_see(actor, existing)):
        errors["email"] = ["A user with this email address already exists"]
    if password is not None and "email" not in errors:
        problems = password_problems(password, user_inputs=(email, name))
        if problems:
            errors["password"] = problems
    if errors:
        raise ValidationFailed(errors)
    if existing is not None:
        return _invited_elsewhere(actor, existing)

    user = User(email=email, name=name, role=role, organisation=organisation, active=True)
    if password is not None:
        user.password_hash = hash_password(password)
        user.password_changed_at = utcnow()
    db.session.add(user)
    db.session.flush()
    link = None
    if password is None:
        link = _invitation_link(user, actor, send=send_invitation)
    record_event(
        "user.created",
        actor=actor,
        record=user,
        details={**snapshot(user, USER_AUDIT_FIELDS), "invited": password is None, "via": "web" if actor else "cli"},
    )
    db.session.commit()
    return NewUser(user=user, set_password_link=link)


def _can_see(actor: User, user: User) -> bool:
    visible = access.visible(User, actor).where(User.id == user.id).with_only_columns(User.id)
    return db.session.scalar(visible) is not None


def _invited_elsewhere(actor: User, existing: User) -> NewUser:
    """A partner manager invited an address that already has an account in another organisation.
    Saying so would tell them who has an account anywhere; instead the manager hears what any
    invitation gets, and the account's owner is told by email (who can ask the CRC to move it)."""
    queue_email("account_exists_elsewhere", existing.email, record=existing, user=existing, invited_by=actor)
    record_event(
        "user.invited_with_existing_email",
        actor=actor,
        record=existing,
        details={"invited_to_organisation_id": actor.organisation_id},
    )
    db.session.commit()
    return NewUser(user=None, set_password_link=None)


def _check_version(user: User, version: int | None) -> None:
    if version is not None and int(version) != user.version:
        raise StaleRecord(
            "This user was changed by someone else while you were editing. Check the latest details and try again."
        )


def _edited(user: User) -> None:
    """Mark an administrative edit: the version the next edit form must match."""
    user.version = user.version + 1


def _name_and_role(name: str, role: Role | str, errors: dict[str, list[str]]) -> tuple[str, Role]:
    """The person's name and role as entered, each refusal added to `errors` against its field."""
    name = name.strip()
    if not name:
        errors["name"] = ["Enter the person's full name"]
    try:
        return name, Role(role)
    except ValueError:
        errors["role"] = ["Select a role"]
        return name, role  # type: ignore[return-value]


def _invitation_link(user: User, actor: User | None, *, send: bool = True) -> str:
    """A set-password link for an invited user, emailed to them unless `send` is false."""
    link = absolute_url("accounts.set_password", token=make_password_token(user, "invite"))
    if send:
        queue_email(
            "invitation",
            user.email,
            record=user,
            user=user,
            link=link,
            invited_by=actor,
            days=current_app.config["INVITATION_DAYS"],
        )
    return link


def update_user(actor: User, user: User, *, name: str, role: Role | str, version: int | None) -> User:
    access.require(actor, "manage", user)
    _check_version(user, version)
    errors: dict[str, list[str]] = {}
    name, role = _name_and_role(name, role, errors)
    if "role" not in errors:
        if role not in access.assignable_roles(actor, user.organisation):
            errors["role"] = ["Select a role this organisation's users can have"]
        elif user.id == actor.id and role != actor.role:
            errors["role"] = ["You cannot change your own role"]
    if errors:
        raise ValidationFailed(errors)
    before = snapshot(user, USER_AUDIT_FIELDS)
    user.name = name
    user.role = role
    after = snapshot(user, USER_AUDIT_FIELDS)
    if before != after:
        _edited(user)
        if before["role"] != after["role"]:
            sessions.end_all(user, "role_changed")  # a new role takes effect at the next sign-in
        record_event("user.updated", actor=actor, record=user, details={"changes": changes(before, after)})
    db.session.commit()
    return user


def deactivate_user(actor: User, user: User, *, version: int | None = None) -> None:
    access.require(actor, "manage", user)
    _check_version(user, version)
    if user.id == actor.id:
        # Not a question of role: someone must be left to manage the accounts.
        raise ValidationFailed.single("user", "You cannot deactivate your own account")
    if not user.active:
        return
    user.active = False
    user.rotate_session_token()  # spends any set-password link they were sent
    sessions.end_all(user, "deactivated")  # ends their sessions now, not at their next request
    # Revoked, not merely unusable while deactivated: reactivating the account must not bring a
    # token back to life that a leaver may have kept.
    revoked = db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_by_id=actor.id)
    ).rowcount
    _edited(user)
    record_event("user.deactivated", actor=actor, record=user, details={"api_tokens_revoked": revoked})
    db.session.commit()


def reactivate_user(actor: User, user: User, *, version: int | None = None) -> None:
    access.require(actor, "manage", user)
    _check_version(user, version)
    if user.active:
        return
    user.active = True
    user.failed_login_count = 0
    user.locked_until = None
    _edited(user)
    record_event("user.reactivated", actor=actor, record=user)
    db.session.commit()


def unlock_user(actor: User, user: User) -> None:
    access.require(actor, "manage", user)
    if not user.is_locked():
        return
    user.failed_login_count = 0
    user.locked_until = None
    record_event("user.unlocked", actor=actor, record=user)
    db.session.commit()


def resend_invitation(actor: User, user: User) -> None:
    access.require(actor, "manage", user)
    if user.has_password or not user.active:
        raise ValidationFailed.single(
            "user", "Only invited users who have not yet set a password can be sent a new invitation"
        )
    user.rotate_session_token()  # the earlier link stops working
    db.session.flush()
    _invitation_link(user, actor)
    record_event("user.invitation_resent", actor=actor, record=user)
    db.session.commit()
