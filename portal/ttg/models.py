"""ReleaseRecord: the day a person on a custody referral was released, and the release-day checklist."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.db import UtcDateTime, enum_type
from portal.extensions import db
from portal.referrals.models import ReleaseType


class FirstNight(StrEnum):
    """Where the person slept on their first night out (the resettlement measure's categories)."""

    OWN_TENANCY = "own_tenancy"
    FAMILY_OR_FRIENDS = "family_or_friends"
    SUPPORTED_HOUSING = "supported_housing"
    APPROVED_PREMISES = "approved_premises"
    TEMPORARY = "temporary"
    NO_FIXED_ABODE = "no_fixed_abode"

    @property
    def label(self) -> str:
        return {
            "own_tenancy": "Their own tenancy or home",
            "family_or_friends": "Settled with family or friends",
            "supported_housing": "Supported housing",
            "approved_premises": "Approved premises",
            "temporary": "Temporary: a hostel night, B&B or sofa-surfing",
            "no_fixed_abode": "No fixed abode (rough sleeping or nowhere arranged)",
        }[self.value]

    @property
    def settled(self) -> bool:
        return self in SETTLED


SETTLED = frozenset({FirstNight.OWN_TENANCY, FirstNight.FAMILY_OR_FRIENDS, FirstNight.SUPPORTED_HOUSING})
CHECKLIST = (
    ("id_held", "Has identification"),
    ("bank_account", "Has a bank account"),
    ("benefit_claim", "Benefit claim made"),
    ("gp_registered", "Registered with a GP"),
    ("met_at_gate", "Met at the gate"),
)


class ReleaseRecord(db.Model):
    """One release per referral: the case stays one across the gate (the referral moves to the
    community); this keeps the day, how, where to, and the release-day checklist."""

    __tablename__ = "release_record"
    __table_args__ = (Index("ix_release_record_released_on", "released_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"), unique=True)
    released_on: Mapped[date] = mapped_column(Date)
    release_type: Mapped[ReleaseType] = mapped_column(enum_type(ReleaseType))
    prison: Mapped[str | None] = mapped_column(String(60))  # released from
    community_office: Mapped[str] = mapped_column(String(100))  # reporting to
    address_area: Mapped[str | None] = mapped_column(String(10))  # a postcode or its district
    first_night: Mapped[FirstNight] = mapped_column(enum_type(FirstNight))
    first_night_address: Mapped[str | None] = mapped_column(Text)
    id_held: Mapped[bool] = mapped_column(Boolean, default=False)
    bank_account: Mapped[bool] = mapped_column(Boolean, default=False)
    benefit_claim: Mapped[bool] = mapped_column(Boolean, default=False)
    gp_registered: Mapped[bool] = mapped_column(Boolean, default=False)
    met_at_gate: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))

    recorded_by: Mapped[User] = relationship(lazy="raise_on_sql")
