"""GrantInstalment (one row of a grant's schedule, raised as a grant payment), GrantActivity
(drop-in and group work recorded without a referral), and a contract's expected volumes:
ExpectedStarts (starts a month, by service) and SpendProfile (expected spend a month)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.contracts.models import Contract
from portal.db import Money, TimestampMixin, UtcDateTime, VersionedMixin, enum_type
from portal.extensions import db


class Timing(StrEnum):
    ADVANCE = "advance"
    ARREARS = "arrears"

    @property
    def label(self) -> str:
        return {"advance": "In advance", "arrears": "In arrears"}[self.value]


class GrantPaymentStatus(StrEnum):
    """An instalment is `scheduled` until the partner raises it as a grant payment; from then on it
    follows the invoice's workflow (submitted, queried, approved, rejected, paid)."""

    SCHEDULED = "scheduled"
    SUBMITTED = "submitted"
    QUERIED = "queried"
    APPROVED = "approved"
    REJECTED = "rejected"
    PAID = "paid"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def colour(self) -> str:
        return {
            "scheduled": "grey",
            "submitted": "blue",
            "queried": "orange",
            "approved": "turquoise",
            "rejected": "red",
            "paid": "green",
        }[self.value]


# Raised and not rejected: these count against the contract's value cap, as a submitted invoice does.
RAISED_STATUSES = frozenset(
    {GrantPaymentStatus.SUBMITTED, GrantPaymentStatus.QUERIED, GrantPaymentStatus.APPROVED, GrantPaymentStatus.PAID}
)


class GrantInstalment(TimestampMixin, VersionedMixin, db.Model):
    """One instalment of a grant's schedule. Raised, it is a grant payment: it takes a number from
    the partner's invoice sequence and goes through submit, approve (or query, reject) and pay."""

    __tablename__ = "grant_instalment"
    __table_args__ = (
        # One live instalment a period: a rejected one keeps its period beside its replacement.
        Index(
            "uq_grant_instalment_live_period",
            "contract_id",
            "period_start",
            unique=True,
            postgresql_where=text("status != 'rejected'"),
            sqlite_where=text("status != 'rejected'"),
        ),
        Index("ix_grant_instalment_partner_status", "partner_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"), index=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    # The period the instalment funds, and when the CRC pays it.
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    amount_pence: Mapped[int] = mapped_column(Money)
    timing: Mapped[Timing] = mapped_column(enum_type(Timing))
    # Released only once the period's service (monitoring) returns are accepted.
    needs_accepted_return: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[GrantPaymentStatus] = mapped_column(
        enum_type(GrantPaymentStatus), default=GrantPaymentStatus.SCHEDULED
    )
    number: Mapped[str | None] = mapped_column(String(24), unique=True)
    # When the raised payment is due: the scheduled day, or the contract's terms after it was raised.
    payment_due_on: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    queried_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    queried_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    query_reason: Mapped[str | None] = mapped_column(Text)
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    rejected_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    rejected_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    paid_on: Mapped[date | None] = mapped_column(Date)
    payment_reference: Mapped[str | None] = mapped_column(String(60))
    # The rejected instalment this one replaces (for the same period); the rejected one is kept.
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("grant_instalment.id"))
    # The remittance details as they were when raised (portal.remittance.service.remittance_of).
    remittance: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    contract: Mapped[Contract] = relationship(lazy="raise_on_sql")

    @property
    def is_raised(self) -> bool:
        return self.status != GrantPaymentStatus.SCHEDULED

    @property
    def counts_against_cap(self) -> bool:
        return self.status in RAISED_STATUSES


class ActivityKind(StrEnum):
    DROP_IN = "drop_in"
    GROUP_WORK = "group_work"

    @property
    def label(self) -> str:
        return {"drop_in": "Drop-in", "group_work": "Group work"}[self.value]


class GrantActivity(TimestampMixin, db.Model):
    """Grant-funded work with no referral behind it: a drop-in or a group, and how many came."""

    __tablename__ = "grant_activity"
    __table_args__ = (Index("ix_grant_activity_contract_day", "contract_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"))
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[ActivityKind] = mapped_column(enum_type(ActivityKind))
    attendees: Mapped[int] = mapped_column(Integer)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    description: Mapped[str | None] = mapped_column(String(200))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))


class ExpectedStarts(VersionedMixin, db.Model):
    """How many starts the contract expects in a month for one of its services."""

    __tablename__ = "expected_starts"
    __table_args__ = (UniqueConstraint("contract_id", "service_code", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"))
    service_code: Mapped[str] = mapped_column(String(40))
    month: Mapped[date] = mapped_column(Date)  # its first day
    starts: Mapped[int] = mapped_column(Integer)


class SpendProfile(db.Model):
    """How much the contract expects to spend (before VAT) in a month."""

    __tablename__ = "spend_profile"
    __table_args__ = (UniqueConstraint("contract_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"))
    month: Mapped[date] = mapped_column(Date)  # its first day
    expected_pence: Mapped[int] = mapped_column(Money)
