"""SafeguardingConcern and its vocabularies (categories, urgency, outcomes)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.db import TimestampMixin, UtcDateTime, VersionedMixin, enum_type
from portal.extensions import db
from portal.referrals.models import Referral


class ConcernCategory(StrEnum):
    CHILD_PROTECTION = "child_protection"
    DOMESTIC_ABUSE = "domestic_abuse"
    ADULT_AT_RISK = "adult_at_risk"
    SELF_HARM = "self_harm"
    RISK_TO_PUBLIC = "risk_to_public"
    RISK_TO_STAFF = "risk_to_staff"
    EXPLOITATION = "exploitation"
    OTHER = "other"

    @property
    def label(self) -> str:
        return CATEGORY_LABELS[self]


CATEGORY_LABELS = {
    ConcernCategory.CHILD_PROTECTION: "A child at risk of harm",
    ConcernCategory.DOMESTIC_ABUSE: "Domestic abuse",
    ConcernCategory.ADULT_AT_RISK: "An adult at risk (care and support needs)",
    ConcernCategory.SELF_HARM: "Self-harm or suicide",
    ConcernCategory.RISK_TO_PUBLIC: "A risk to the public or a known adult",
    ConcernCategory.RISK_TO_STAFF: "A risk to staff",
    ConcernCategory.EXPLOITATION: "Exploitation (criminal, sexual, financial, modern slavery)",
    ConcernCategory.OTHER: "Other",
}


class Urgency(StrEnum):
    URGENT = "urgent"
    STANDARD = "standard"

    @property
    def label(self) -> str:
        return {"urgent": "Urgent", "standard": "Not urgent"}[self.value]

    @property
    def working_hours(self) -> int:
        """How long the referrer has to acknowledge, in working hours (09:00 to 17:00, working days)."""
        return {"urgent": 4, "standard": 8}[self.value]


class ConcernStatus(StrEnum):
    OPEN = "open"  # waiting for the referrer to acknowledge it
    ACKNOWLEDGED = "acknowledged"  # the referrer has it; waiting to be closed with an outcome
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return {"open": "Waiting for acknowledgement", "acknowledged": "Acknowledged", "closed": "Closed"}[self.value]

    @property
    def colour(self) -> str:
        return {"open": "red", "acknowledged": "yellow", "closed": "grey"}[self.value]


NOT_CLOSED = frozenset({ConcernStatus.OPEN, ConcernStatus.ACKNOWLEDGED})


class ConcernOutcome(StrEnum):
    NO_FURTHER_ACTION = "no_further_action"
    RISK_PLAN_UPDATED = "risk_plan_updated"
    REFERRED_TO_CHILDRENS_SERVICES = "referred_to_childrens_services"
    REFERRED_TO_ADULT_SOCIAL_CARE = "referred_to_adult_social_care"
    POLICE_ACTION = "police_action"
    ENFORCEMENT_OR_RECALL = "enforcement_or_recall"
    TRANSFERRED_TO_NPS = "transferred_to_nps"
    OTHER = "other"

    @property
    def label(self) -> str:
        return OUTCOME_LABELS[self]


OUTCOME_LABELS = {
    ConcernOutcome.NO_FURTHER_ACTION: "No further action needed",
    ConcernOutcome.RISK_PLAN_UPDATED: "Risk management plan updated",
    ConcernOutcome.REFERRED_TO_CHILDRENS_SERVICES: "Referred to children's services (MASH)",
    ConcernOutcome.REFERRED_TO_ADULT_SOCIAL_CARE: "Referred to adult social care",
    ConcernOutcome.POLICE_ACTION: "Police involved",
    ConcernOutcome.ENFORCEMENT_OR_RECALL: "Enforcement or recall",
    ConcernOutcome.TRANSFERRED_TO_NPS: "Case transferred to the NPS (risk of serious harm high)",
    ConcernOutcome.OTHER: "Other",
}


class SafeguardingConcern(TimestampMixin, VersionedMixin, db.Model):
    """A safeguarding concern a partner raised on a referral (not a behaviour alert: it has a
    deadline, escalation and an outcome)."""

    __tablename__ = "safeguarding_concern"
    __table_args__ = (
        Index("ix_safeguarding_concern_referral", "referral_id", "status"),
        Index("ix_safeguarding_concern_due", "status", "acknowledge_due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"))
    status: Mapped[ConcernStatus] = mapped_column(enum_type(ConcernStatus), default=ConcernStatus.OPEN)
    category: Mapped[ConcernCategory] = mapped_column(enum_type(ConcernCategory))
    urgency: Mapped[Urgency] = mapped_column(enum_type(Urgency))
    what_happened: Mapped[str] = mapped_column(Text)
    # Who the partner has already told, and when they told them.
    told_mash: Mapped[bool] = mapped_column(Boolean, default=False)
    told_police: Mapped[bool] = mapped_column(Boolean, default=False)
    told_responsible_officer: Mapped[bool] = mapped_column(Boolean, default=False)
    told_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The partner judges the risk of serious harm now high: the case belongs to the NPS, and the
    # referral stopped at the partner when this was raised.
    rosh_high: Mapped[bool] = mapped_column(Boolean, default=False)

    raised_at: Mapped[datetime] = mapped_column(UtcDateTime)
    raised_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    acknowledge_due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The team manager told (null when the referrer had none and the CRC's administrators were told).
    escalated_to_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    outcome: Mapped[ConcernOutcome | None] = mapped_column(enum_type(ConcernOutcome))
    outcome_detail: Mapped[str | None] = mapped_column(Text)

    referral: Mapped[Referral] = relationship(lazy="raise_on_sql")
    raised_by: Mapped[User] = relationship(foreign_keys=[raised_by_id], lazy="raise_on_sql")
    acknowledged_by: Mapped[User | None] = relationship(foreign_keys=[acknowledged_by_id], lazy="raise_on_sql")
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id], lazy="raise_on_sql")
    escalated_to: Mapped[User | None] = relationship(foreign_keys=[escalated_to_id], lazy="raise_on_sql")

    @property
    def who_was_told(self) -> list[str]:
        told = []
        if self.told_mash:
            told.append("MASH")
        if self.told_police:
            told.append("the police")
        if self.told_responsible_officer:
            told.append("the responsible officer")
        return told

    def overdue(self, now: datetime) -> bool:
        return self.status == ConcernStatus.OPEN and self.acknowledge_due_at < now

    def __repr__(self) -> str:
        return f"<SafeguardingConcern {self.id} {self.status}>"
