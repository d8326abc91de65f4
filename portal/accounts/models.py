"""The User record and the five roles of DESIGN.md."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import TimestampMixin, UtcDateTime, VersionedMixin, enum_type, utcnow
from portal.extensions import db
from portal.organisations.models import Organisation, OrganisationKind


class Role(StrEnum):
    PROVIDER_CASEWORKER = "provider_caseworker"
    PROVIDER_MANAGER = "provider_manager"
    CRC_REFERRER = "crc_referrer"
    CONTRACT_MANAGER = "contract_manager"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]

    @property
    def in_a_sentence(self) -> str:
        """ "a caseworker", "a CRC referrer", "an administrator": the label as a sentence reads it."""
        label = ROLE_LABELS[self]
        word = label if label.split()[0].isupper() else label.lower()
        return ("an " if word[0] in "aeiou" else "a ") + word

    @property
    def organisation_kind(self) -> OrganisationKind:
        return OrganisationKind.PARTNER if self in PARTNER_ROLES else OrganisationKind.CRC


ROLE_LABELS = {
    Role.PROVIDER_CASEWORKER: "Caseworker",
    Role.PROVIDER_MANAGER: "Partner manager",
    Role.CRC_REFERRER: "CRC referrer",
    Role.CONTRACT_MANAGER: "Contract manager",
    Role.ADMIN: "Administrator",
}
PARTNER_ROLES = frozenset({Role.PROVIDER_CASEWORKER, Role.PROVIDER_MANAGER})
CRC_ROLES = frozenset({Role.CRC_REFERRER, Role.CONTRACT_MANAGER, Role.ADMIN})


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


class User(UserMixin, TimestampMixin, VersionedMixin, db.Model):
    __tablename__ = "user_account"
    # Signing in updates bookkeeping columns on this row; that must not make an
    # administrator's open edit form stale. So the version moves only when the
    # account itself is edited (accounts.service.bump_version), not on every UPDATE.
    version_on_every_update = False

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased, so the unique constraint is case-insensitive in effect.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(enum_type(Role))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Null until an invited user sets a password.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    failed_login_count: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Part of every set-password link's fingerprint: changing it (new password, deactivation, a
    # new invitation) spends the links already sent. Sessions are records of their own (UserSession).
    session_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_session_token)
    # Two-step verification (TOTP). A secret without `mfa_enrolled_at` is an enrolment begun
    # and not yet confirmed with a code. `mfa_last_step` is the last 30-second step whose code
    # was accepted, so a code seen over a shoulder cannot be used again.
    mfa_secret: Mapped[str | None] = mapped_column(String(64))
    mfa_enrolled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    mfa_last_step: Mapped[int | None] = mapped_column(Integer)

    # "immediate" (an email for each piece of work) or "daily" (one digest a morning): see
    # portal/notifications/rules.py. Security emails (resets, invitations) are always immediate.
    email_frequency: Mapped[str] = mapped_column(String(10), default="immediate", server_default="immediate")
    # The CRC names each referrer's team manager: safeguarding concerns the referrer has not
    # acknowledged in time are escalated to them (portal/safeguarding).
    team_manager_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    organisation: Mapped[Organisation] = relationship(back_populates="users", lazy="joined")

    # Flask-Login keeps what get_id() answers in the cookie: the secret of this sign-in's
    # UserSession (set by accounts.sessions when the session starts or is resumed), never an id.
    session_secret = None

    def get_id(self) -> str | None:
        return self.session_secret

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_partner_user(self) -> bool:
        return self.role in PARTNER_ROLES

    @property
    def is_crc_user(self) -> bool:
        return self.role in CRC_ROLES

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    @property
    def has_mfa(self) -> bool:
        return self.mfa_enrolled_at is not None

    @property
    def status(self) -> str:
        if not self.active:
            return "Deactivated"
        if not self.has_password:
            return "Invited"
        if self.is_locked():
            return "Locked"
        return "Active"

    def is_locked(self, now: datetime | None = None) -> bool:
        return self.locked_until is not None and self.locked_until > (now or utcnow())

    def rotate_session_token(self) -> None:
        self.session_token = new_session_token()

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


MAX_TOKEN_NAME = 100


class ApiToken(db.Model):
    """A personal API token. Only its SHA-256 is stored: the token itself is shown once, when
    it is made. It acts as its user, with the user's current role and organisation."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(String(MAX_TOKEN_NAME))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The token's first characters, so its owner can tell their tokens apart ("pp_Ab12Cd34…").
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="raise_on_sql")

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def status(self) -> str:
        return "Active" if self.active else "Revoked"

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} {self.prefix}>"


class UserSession(db.Model):
    """One signed-in browser. The cookie holds a random secret; only its SHA-256 is kept here, so
    the table cannot be used to take over a session. Every request looks its row up, so ending a
    row (sign-out, a new password, deactivation, "sign out of other devices") ends that session
    at once on every server. A row is `pending` while the password is right but the second step
    (a code, or setting up an authenticator app) is not yet done: it signs nobody in."""

    __tablename__ = "user_session"
    __table_args__ = (Index("ix_user_session_user_id_ended_at", "user_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    pending: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # signed_out, signed_out_elsewhere, idle, password_changed, deactivated, role_changed, mfa_reset…
    end_reason: Mapped[str | None] = mapped_column(String(32))
    # "Firefox on Windows": what the account page shows, read from the user agent at sign-in.
    device: Mapped[str] = mapped_column(String(120), default="")
    ip_address: Mapped[str | None] = mapped_column(String(45))
    # Wrong codes at the second step; too many and the sign-in must start again.
    failed_codes: Mapped[int] = mapped_column(Integer, default=0)

    user: Mapped[User] = relationship(lazy="joined")

    @property
    def is_live(self) -> bool:
        return self.ended_at is None


class RecoveryCode(db.Model):
    """One-use codes for signing in without the authenticator app; only their hashes are kept."""

    __tablename__ = "mfa_recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
