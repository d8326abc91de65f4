"""ServiceReturn: a partner's periodic performance report on one contract, its narrative and, once
submitted, its frozen figures."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.contracts.models import Contract
from portal.dates import Period, PeriodKind
from portal.db import TimestampMixin, UtcDateTime, VersionedMixin, enum_type
from portal.extensions import db


class ReturnStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    ACCEPTED = "accepted"

    @property
    def label(self) -> str:
        return {"returned": "Returned for changes"}.get(self.value, self.value.capitalize())

    @property
    def colour(self) -> str:
        return {"draft": "grey", "submitted": "blue", "returned": "orange", "accepted": "green"}[self.value]


# While a return is in one of these, its figures are the frozen snapshot, never the live records.
FROZEN_STATUSES = frozenset({ReturnStatus.SUBMITTED, ReturnStatus.ACCEPTED})
EDITABLE_STATUSES = frozenset({ReturnStatus.DRAFT, ReturnStatus.RETURNED})

NARRATIVE_FIELDS = (
    "achievements",
    "challenges",
    "case_study",
    "safeguarding_note",
    "complaints",
    "staffing",
)
# Submitting needs these (the others may be left empty: "none this period" is an answer too).
REQUIRED_NARRATIVE = ("achievements", "challenges", "case_study")


class ServiceReturn(TimestampMixin, VersionedMixin, db.Model):
    __tablename__ = "service_return"
    __table_args__ = (
        UniqueConstraint("contract_id", "period_kind", "period_start"),
        Index("ix_service_return_status", "status", "period_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"), index=True)
    period_kind: Mapped[PeriodKind] = mapped_column(enum_type(PeriodKind))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    status: Mapped[ReturnStatus] = mapped_column(enum_type(ReturnStatus), default=ReturnStatus.DRAFT)

    # The partner's narrative.
    achievements: Mapped[str | None] = mapped_column(Text)
    challenges: Mapped[str | None] = mapped_column(Text)
    case_study: Mapped[str | None] = mapped_column(Text)  # anonymised: no names, CRNs or dates of birth
    # Deprecated: the number of safeguarding concerns was typed here until they became records of their
    # own (portal/safeguarding); the return's figure `concerns_raised` counts those. Kept, never written
    # again, for the returns that were typed.
    safeguarding_concerns: Mapped[int | None] = mapped_column(Integer)
    safeguarding_note: Mapped[str | None] = mapped_column(Text)
    complaints: Mapped[str | None] = mapped_column(Text)
    staffing: Mapped[str | None] = mapped_column(Text)

    # The figures as they stood at the last submission: what the PDF shows ever after.
    kpis: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    returned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    returned_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    return_reason: Mapped[str | None] = mapped_column(Text)
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    contract: Mapped[Contract] = relationship(lazy="joined", innerjoin=True)
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id], lazy="raise_on_sql")
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id], lazy="raise_on_sql")
    returned_by: Mapped[User | None] = relationship(foreign_keys=[returned_by_id], lazy="raise_on_sql")
    accepted_by: Mapped[User | None] = relationship(foreign_keys=[accepted_by_id], lazy="raise_on_sql")

    @property
    def period(self) -> Period:
        return Period(self.period_kind, self.period_start)

    @property
    def is_frozen(self) -> bool:
        return self.status in FROZEN_STATUSES

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE_STATUSES

    @property
    def filename(self) -> str:
        return f"service-return-{self.contract.reference}-{self.period.code}.pdf"

    def __repr__(self) -> str:
        return f"<ServiceReturn {self.contract_id} {self.period_start} {self.status}>"
