"""Session (with reschedules and group sessions), Alert, Outcome with evidence files, and EndOfServiceReport."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.contracts.models import OutcomeType
from portal.db import TimestampMixin, UtcDateTime, VersionedMixin, enum_type, utcnow
from portal.extensions import db
from portal.referrals.models import Referral


def referral_contract(context: Any) -> int | None:
    """The contract of the row's referral, for a row made without naming it (a factory, a test, an
    import): the `contract_id` the figures group by is a copy of the referral's, never different
    (portal.integrity checks it). A referral's contract is fixed once it is sent, and sessions,
    outcomes and reports come only after, so the copy never needs updating."""
    referral_id = context.get_current_parameters()["referral_id"]
    return context.connection.scalar(text("SELECT contract_id FROM referral WHERE id = :id"), {"id": referral_id})


def contract_copy() -> Any:
    """The referral's contract, copied onto a row the dashboard's figures count (issue 20): grouped
    and filtered by contract from the row's own indexes, without joining every referral. No foreign
    key: it is the referral's (whose key points at the contract), copied."""
    return mapped_column(Integer, default=referral_contract)


class SessionKind(StrEnum):
    ONE_TO_ONE = "one_to_one"
    GROUP = "group"
    PHONE = "phone"
    VIDEO = "video"
    IN_CUSTODY = "in_custody"
    HOME_VISIT = "home_visit"

    @property
    def label(self) -> str:
        return {"one_to_one": "One-to-one", "in_custody": "In custody", "home_visit": "Home visit"}.get(
            self.value, self.value.capitalize()
        )

    @property
    def in_person(self) -> bool:
        """Face to face: what counts toward a colour band's minimum hours (Annex 3), unlike a
        phone or video call."""
        return self not in (SessionKind.PHONE, SessionKind.VIDEO)


class Attendance(StrEnum):
    ATTENDED = "attended"
    LATE = "late"
    DID_NOT_ATTEND = "did_not_attend"
    SESSION_DID_NOT_HAPPEN = "session_did_not_happen"

    @property
    def label(self) -> str:
        return {
            "attended": "Attended",
            "late": "Attended late",
            "did_not_attend": "Did not attend",
            "session_did_not_happen": "Session did not happen",
        }[self.value]

    @property
    def attended(self) -> bool:
        return self in (Attendance.ATTENDED, Attendance.LATE)


ATTENDED = (Attendance.ATTENDED, Attendance.LATE)


class NonAttendanceReason(StrEnum):
    ACCEPTABLE = "acceptable"
    UNACCEPTABLE = "unacceptable"
    LOGISTICS = "logistics"

    @property
    def label(self) -> str:
        return {
            "acceptable": "Acceptable absence",
            "unacceptable": "Unacceptable absence",
            "logistics": "Logistics (for example, the prison did not bring the person)",
        }[self.value]


class GroupSession(TimestampMixin, db.Model):
    """One group session for several people on the same contract; each gets a Session row."""

    __tablename__ = "group_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    facilitator: Mapped[str] = mapped_column(String(200))
    date: Mapped[date] = mapped_column(Date)
    start_time: Mapped[time] = mapped_column(Time)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))


class Session(TimestampMixin, VersionedMixin, db.Model):
    """A session with one person: scheduled ahead (no attendance yet) or recorded after."""

    __tablename__ = "delivery_session"
    __table_args__ = (
        Index("ix_delivery_session_referral_date", "referral_id", "date"),
        Index("ix_delivery_session_date", "date"),
        # The draft invoice reads a referral's sessions not yet billed (portal.invoicing.billing),
        # not its whole history: at national scale nine in ten sessions are billed already.
        Index(
            "ix_delivery_session_unbilled",
            "referral_id",
            "date",
            postgresql_where=text("NOT billed"),
            sqlite_where=text("billed = 0"),
        ),
        Index(
            "ix_delivery_session_rar_unbilled",
            "referral_id",
            "date",
            postgresql_where=text("counts_as_rar_day AND NOT rar_billed"),
            sqlite_where=text("counts_as_rar_day = 1 AND rar_billed = 0"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"))
    contract_id: Mapped[int | None] = contract_copy()
    group_session_id: Mapped[int | None] = mapped_column(ForeignKey("group_session.id"), index=True)
    date: Mapped[date] = mapped_column(Date)
    start_time: Mapped[time] = mapped_column(Time)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    kind: Mapped[SessionKind] = mapped_column(enum_type(SessionKind))
    attendance: Mapped[Attendance | None] = mapped_column(enum_type(Attendance))
    non_attendance_reason: Mapped[NonAttendanceReason | None] = mapped_column(enum_type(NonAttendanceReason))
    counts_as_rar_day: Mapped[bool] = mapped_column(Boolean, default=False)
    summary: Mapped[str | None] = mapped_column(Text)
    behaviour_concern: Mapped[bool] = mapped_column(Boolean, default=False)
    concern_detail: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    feedback_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Kept by portal.invoicing.billing.refresh_billed_marks as invoices go live and stop being
    # live, so the billing rules can pass over billed work without looking each piece up:
    # billed: a live invoice bills the session by a per-session or per-hour item;
    # rar_billed: a live invoice's RAR day names this session (the day's first).
    billed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    rar_billed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    referral: Mapped[Referral] = relationship(lazy="raise_on_sql")
    group_session: Mapped[GroupSession | None] = relationship(lazy="raise_on_sql")
    recorded_by: Mapped[User] = relationship(lazy="raise_on_sql")

    @property
    def attended(self) -> bool:
        return self.attendance is not None and self.attendance.attended

    @property
    def awaiting_feedback(self) -> bool:
        return self.attendance is None


class SessionReschedule(db.Model):
    """The history of a session's moves: from when, to when, why, by whom."""

    __tablename__ = "session_reschedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("delivery_session.id", ondelete="CASCADE"), index=True)
    from_date: Mapped[date] = mapped_column(Date)
    from_time: Mapped[time] = mapped_column(Time)
    to_date: Mapped[date] = mapped_column(Date)
    to_time: Mapped[time] = mapped_column(Time)
    reason: Mapped[str] = mapped_column(Text)
    moved_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    moved_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AlertKind(StrEnum):
    UNACCEPTABLE_ABSENCE = "unacceptable_absence"
    BEHAVIOUR_CONCERN = "behaviour_concern"

    @property
    def label(self) -> str:
        return {"unacceptable_absence": "Unacceptable absence", "behaviour_concern": "Behaviour concern"}[self.value]


class Alert(db.Model):
    """Something the referring officer must see at once (enforcement is their decision)."""

    __tablename__ = "alert"
    __table_args__ = (
        Index("ix_alert_open", "referral_id", "acknowledged_at"),
        # Alerts waiting for the referrer (their home page's count): a few dozen of a hundred
        # thousand, so the count reads this small index rather than every alert (migration 0037).
        Index(
            "ix_alert_unacknowledged",
            "referral_id",
            postgresql_where=text("acknowledged_at IS NULL"),
            sqlite_where=text("acknowledged_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("delivery_session.id", ondelete="SET NULL"))
    kind: Mapped[AlertKind] = mapped_column(enum_type(AlertKind))
    detail: Mapped[str | None] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    raised_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    referral: Mapped[Referral] = relationship(lazy="raise_on_sql")


class OutcomeStatus(StrEnum):
    CLAIMED = "claimed"
    VERIFIED = "verified"
    REJECTED = "rejected"
    # Verified, then taken off an invoice by an approved credit note: never paid or counted again.
    CREDITED = "credited"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def colour(self) -> str:
        return {"claimed": "blue", "verified": "green", "rejected": "red", "credited": "grey"}[self.value]


class Outcome(TimestampMixin, VersionedMixin, db.Model):
    """An outcome a partner claims a person achieved; the CRC verifies or rejects the claim."""

    __tablename__ = "outcome"
    __table_args__ = (
        Index("ix_outcome_referral", "referral_id"),
        Index("ix_outcome_status_achieved", "status", "achieved_on"),
        # Whether a rejected claim was claimed again (a caseworker's home, the rejected claims
        # queue): one probe of this index per claim, where before every outcome was read to find
        # the few that follow another (migration 0037).
        Index(
            "ix_outcome_previous_claim",
            "previous_claim_id",
            postgresql_where=text("previous_claim_id IS NOT NULL"),
            sqlite_where=text("previous_claim_id IS NOT NULL"),
        ),
        # Claims waiting for the referrer to verify, by referral (a referrer's home page's count): a
        # few thousand of the outcomes, met with the referrer's referrals from indexes alone.
        Index(
            "ix_outcome_claimed",
            "referral_id",
            postgresql_where=text("status = 'claimed'"),
            sqlite_where=text("status = 'claimed'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"))
    contract_id: Mapped[int | None] = contract_copy()
    outcome_type_id: Mapped[int] = mapped_column(ForeignKey("outcome_type.id"))
    achieved_on: Mapped[date] = mapped_column(Date)
    evidence: Mapped[str] = mapped_column(Text)
    status: Mapped[OutcomeStatus] = mapped_column(enum_type(OutcomeStatus), default=OutcomeStatus.CLAIMED)
    claimed_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    rejected_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    rejected_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    credited_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    credited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # A re-claim after a rejection points at the claim it follows.
    previous_claim_id: Mapped[int | None] = mapped_column(ForeignKey("outcome.id"))

    referral: Mapped[Referral] = relationship(lazy="raise_on_sql")
    outcome_type: Mapped[OutcomeType] = relationship(lazy="raise_on_sql")
    claimed_by: Mapped[User] = relationship(foreign_keys=[claimed_by_id], lazy="raise_on_sql")
    files: Mapped[list[EvidenceFile]] = relationship(
        back_populates="outcome", lazy="raise_on_sql", order_by="EvidenceFile.id"
    )


class EvidenceFile(db.Model):
    """A file supporting an outcome claim, stored outside static/ and served only after an access check."""

    __tablename__ = "evidence_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    outcome_id: Mapped[int] = mapped_column(ForeignKey("outcome.id"), index=True)
    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    outcome: Mapped[Outcome] = relationship(back_populates="files", lazy="raise_on_sql")


class Achievement(StrEnum):
    ACHIEVED = "achieved"
    PARTIALLY_ACHIEVED = "partially_achieved"
    NOT_ACHIEVED = "not_achieved"

    @property
    def label(self) -> str:
        return {"achieved": "Achieved", "partially_achieved": "Partially achieved", "not_achieved": "Not achieved"}[
            self.value
        ]


class EndOfServiceReport(db.Model):
    """How each desired outcome went; submitting it completes the referral."""

    __tablename__ = "end_of_service_report"
    __table_args__ = (UniqueConstraint("referral_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"))
    contract_id: Mapped[int | None] = contract_copy()
    summary: Mapped[str] = mapped_column(Text)
    further_needs: Mapped[str | None] = mapped_column(Text)
    # [{"desired_outcome", "achievement", "comment"}] in the referral's order.
    outcomes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    submitted_by: Mapped[User] = relationship(lazy="raise_on_sql")
