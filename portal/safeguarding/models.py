"""SafeguardingConcern and its vocabularies (categories, urgency, outcomes), and RiskSummary: the
structured risk summary that travels with a referral, one row per version."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.db import TimestampMixin, UtcDateTime, VersionedMixin, enum_type
from portal.delivery.models import contract_copy
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
    # The referral's contract, copied (migration 0038): who may see a concern is decided by it
    # (portal.access), so a list of concerns is narrowed to the reader's contracts from the
    # concern's own rows and indexes, rather than by testing each concern's referral.
    contract_id: Mapped[int | None] = contract_copy()
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


# --- risk that travels: the structured risk summary of a referral ---------------------------------------


class AtRisk(StrEnum):
    CHILDREN = "children"
    PARTNER = "partner_or_ex_partner"
    KNOWN_ADULT = "known_adult"
    PUBLIC = "public"
    STAFF = "staff"

    @property
    def label(self) -> str:
        return {
            "children": "Children",
            "partner_or_ex_partner": "A partner or ex-partner",
            "known_adult": "A known adult",
            "public": "The public",
            "staff": "Staff",
        }[self.value]


class CheckStatus(StrEnum):
    NOT_REQUESTED = "not_requested"
    REQUESTED = "requested"
    NOTHING_KNOWN = "nothing_known"
    INFORMATION_SHARED = "information_shared"

    @property
    def label(self) -> str:
        return {
            "not_requested": "Not requested",
            "requested": "Requested, waiting for an answer",
            "nothing_known": "Done: nothing known",
            "information_shared": "Done: information shared (see the nature of the risk)",
        }[self.value]


RISK_FIELDS = (
    "at_risk",
    "nature",
    "when_greatest",
    "protective_factors",
    "police_da_check",
    "police_da_check_on",
    "childrens_services_check",
    "childrens_services_check_on",
    "mappa",
    "iom",
    "lone_working_restrictions",
)
RISK_FIELD_LABELS = {
    "at_risk": "Who is at risk",
    "nature": "Nature of the risk",
    "when_greatest": "When the risk is greatest",
    "protective_factors": "Protective factors",
    "police_da_check": "Police domestic abuse check",
    "police_da_check_on": "Police domestic abuse check dated",
    "childrens_services_check": "Children's services check",
    "childrens_services_check_on": "Children's services check dated",
    "mappa": "MAPPA",
    "iom": "Integrated Offender Management (IOM)",
    "lone_working_restrictions": "Lone-working restrictions",
}


class RiskSummary(db.Model):
    """One version of a referral's structured risk summary. Never changed: an amendment is a new row
    with the next number and its reason, so the history of what partners were told is kept."""

    __tablename__ = "risk_summary"
    __table_args__ = (UniqueConstraint("referral_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"))
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, 3… per referral; the latest is the current one
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    reason: Mapped[str | None] = mapped_column(Text)  # why it was amended (none for the first)
    at_risk: Mapped[list[str]] = mapped_column(JSON, default=list)
    nature: Mapped[str] = mapped_column(Text)
    when_greatest: Mapped[str | None] = mapped_column(Text)
    protective_factors: Mapped[str | None] = mapped_column(Text)
    police_da_check: Mapped[CheckStatus] = mapped_column(enum_type(CheckStatus))
    police_da_check_on: Mapped[date | None] = mapped_column(Date)
    childrens_services_check: Mapped[CheckStatus] = mapped_column(enum_type(CheckStatus))
    childrens_services_check_on: Mapped[date | None] = mapped_column(Date)
    mappa: Mapped[bool] = mapped_column(Boolean, default=False)
    iom: Mapped[bool] = mapped_column(Boolean, default=False)
    lone_working_restrictions: Mapped[str | None] = mapped_column(Text)

    recorded_by: Mapped[User] = relationship(lazy="raise_on_sql")

    @property
    def people_at_risk(self) -> list[AtRisk]:
        return [AtRisk(value) for value in self.at_risk or []]


class RiskSummariesAreFinal(RuntimeError):
    pass


@event.listens_for(RiskSummary, "before_update")
def _refuse_risk_update(mapper: Any, connection: Any, target: RiskSummary) -> None:
    raise RiskSummariesAreFinal("a risk summary is amended by recording a new version, never changed")


@event.listens_for(RiskSummary, "before_delete")
def _refuse_risk_delete(mapper: Any, connection: Any, target: RiskSummary) -> None:
    raise RiskSummariesAreFinal("risk summaries are kept")
