"""ActionPlan (the working copy and where it stands), ActionPlanVersion (each submission, read-only)
and ProgressReview (each review submitted), with their vocabularies."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, Text, UniqueConstraint, event, inspect
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.db import TimestampMixin, UtcDateTime, VersionedMixin, enum_type
from portal.extensions import db
from portal.referrals.models import Referral


class PlanStatus(StrEnum):
    DRAFT = "draft"  # being written (or revised after approval): the partner's to submit
    SUBMITTED = "submitted"  # waiting for the referrer to approve it or ask for changes
    CHANGES_REQUESTED = "changes_requested"  # the referrer asked for changes: the partner's to revise
    APPROVED = "approved"
    CLOSED = "closed"  # the referral ended (end-of-service report, or withdrawn)

    @property
    def label(self) -> str:
        return {
            "draft": "Draft",
            "submitted": "Waiting for approval",
            "changes_requested": "Changes asked for",
            "approved": "Approved",
            "closed": "Closed",
        }[self.value]

    @property
    def colour(self) -> str:
        return {
            "draft": "grey",
            "submitted": "blue",
            "changes_requested": "orange",
            "approved": "green",
            "closed": "purple",
        }[self.value]


EDITABLE = frozenset({PlanStatus.DRAFT, PlanStatus.CHANGES_REQUESTED, PlanStatus.APPROVED})


class Frequency(StrEnum):
    TWICE_WEEKLY = "twice_weekly"
    WEEKLY = "weekly"
    FORTNIGHTLY = "fortnightly"
    MONTHLY = "monthly"
    AS_NEEDED = "as_needed"

    @property
    def label(self) -> str:
        return {
            "twice_weekly": "Twice a week",
            "weekly": "Weekly",
            "fortnightly": "Every two weeks",
            "monthly": "Monthly",
            "as_needed": "As needed",
        }[self.value]


class Decision(StrEnum):
    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"

    @property
    def label(self) -> str:
        return {"approved": "Approved", "changes_requested": "Changes asked for"}[self.value]


class ActionPlan(TimestampMixin, VersionedMixin, db.Model):
    """A referral's action plan: the working copy the partner edits (activities, RAR days planned) and
    where it stands. Each submission is kept as an ActionPlanVersion; the approved one is numbered in
    `approved_number`, so an approved plan being revised shows both."""

    __tablename__ = "action_plan"
    __table_args__ = (Index("ix_action_plan_status", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"), unique=True)
    status: Mapped[PlanStatus] = mapped_column(enum_type(PlanStatus), default=PlanStatus.DRAFT)
    # [{"desired_outcome", "description", "sessions", "frequency"}, ...]
    activities: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    rar_days_planned: Mapped[int | None] = mapped_column(Integer)
    edited_at: Mapped[datetime] = mapped_column(UtcDateTime)
    edited_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    # The approved version's number and its planned sessions (the reviews count against them in SQL).
    approved_number: Mapped[int | None] = mapped_column(Integer)
    approved_sessions: Mapped[int | None] = mapped_column(Integer)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    referral: Mapped[Referral] = relationship(lazy="raise_on_sql")
    edited_by: Mapped[User] = relationship(lazy="raise_on_sql")

    @property
    def planned_sessions(self) -> int:
        return sum(int(activity.get("sessions") or 0) for activity in self.activities or [])

    def __repr__(self) -> str:
        return f"<ActionPlan {self.id} {self.status}>"


class ActionPlanVersion(db.Model):
    """One submission of an action plan, numbered 1, 2, 3… per plan. Its content never changes; only
    the referrer's decision on it is added."""

    __tablename__ = "action_plan_version"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("action_plan.id"))
    number: Mapped[int] = mapped_column(Integer)
    activities: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    rar_days_planned: Mapped[int | None] = mapped_column(Integer)
    planned_sessions: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    decision: Mapped[Decision | None] = mapped_column(enum_type(Decision))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)

    submitted_by: Mapped[User] = relationship(foreign_keys=[submitted_by_id], lazy="raise_on_sql")
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id], lazy="raise_on_sql")


VERSION_CONTENT = ("plan_id", "number", "activities", "rar_days_planned", "planned_sessions", "submitted_at")


class PlanVersionsAreFinal(RuntimeError):
    pass


@event.listens_for(ActionPlanVersion, "before_update")
def _refuse_content_change(mapper: Any, connection: Any, target: ActionPlanVersion) -> None:
    state = inspect(target)
    changed = [name for name in VERSION_CONTENT if state.attrs[name].history.has_changes()]
    if changed:
        raise PlanVersionsAreFinal(f"a submitted action plan is kept as it was ({', '.join(changed)})")


@event.listens_for(ActionPlanVersion, "before_delete")
def _refuse_version_delete(mapper: Any, connection: Any, target: ActionPlanVersion) -> None:
    raise PlanVersionsAreFinal("submitted action plans are kept")


# --- progress reviews -------------------------------------------------------------------------------


class ReviewKind(StrEnum):
    TWELVE_WEEK = "twelve_week"  # every 12 weeks from acceptance (then from the last review)
    ENDING = "ending"  # near the end: the order ends soon, or the plan's sessions are nearly used

    @property
    def label(self) -> str:
        return {"twelve_week": "12-week review", "ending": "End-of-plan review"}[self.value]


class ReviewStatus(StrEnum):
    SUBMITTED = "submitted"  # waiting for the referrer to read it
    READ = "read"

    @property
    def label(self) -> str:
        return {"submitted": "Waiting to be read", "read": "Read"}[self.value]

    @property
    def colour(self) -> str:
        return {"submitted": "blue", "read": "green"}[self.value]


class Progress(StrEnum):
    NOT_STARTED = "not_started"
    LITTLE = "little_progress"
    SOME = "some_progress"
    GOOD = "good_progress"
    ACHIEVED = "achieved"

    @property
    def label(self) -> str:
        return {
            "not_started": "Not started",
            "little_progress": "Little progress",
            "some_progress": "Some progress",
            "good_progress": "Good progress",
            "achieved": "Achieved",
        }[self.value]


class ProgressReview(TimestampMixin, VersionedMixin, db.Model):
    """A progress review the caseworker submitted: attendance as the sessions said then, progress
    towards each desired outcome, risk observations; the referrer marks it read, with a response."""

    __tablename__ = "progress_review"
    __table_args__ = (
        UniqueConstraint("referral_id", "number"),
        Index("ix_progress_review_status", "status", "referral_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"))
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, 3… per referral
    kind: Mapped[ReviewKind] = mapped_column(enum_type(ReviewKind))
    status: Mapped[ReviewStatus] = mapped_column(enum_type(ReviewStatus), default=ReviewStatus.SUBMITTED)
    due_on: Mapped[date] = mapped_column(Date)  # when it was asked for
    # When the next 12-weekly review falls due: 12 weeks after this one was submitted (London day).
    next_due_on: Mapped[date] = mapped_column(Date)
    # {"attended", "late", "did_not_attend", "not_held", "planned"}, counted from the sessions on submission.
    attendance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # [{"desired_outcome", "progress", "comment"}, ...]
    outcomes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    risk_observations: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    read_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    response: Mapped[str | None] = mapped_column(Text)

    referral: Mapped[Referral] = relationship(lazy="raise_on_sql")
    submitted_by: Mapped[User] = relationship(foreign_keys=[submitted_by_id], lazy="raise_on_sql")
    read_by: Mapped[User | None] = relationship(foreign_keys=[read_by_id], lazy="raise_on_sql")

    @property
    def late(self) -> bool:
        from portal.dates import london_day

        return london_day(self.submitted_at) > self.due_on

    def __repr__(self) -> str:
        return f"<ProgressReview {self.id} {self.kind} {self.status}>"
