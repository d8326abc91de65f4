"""Remittance details of a partner organisation, bank account changes awaiting the CRC's
confirmation, and the purchase order number of each contract."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import TimestampMixin, UtcDateTime, VersionedMixin, enum_type, utcnow
from portal.extensions import db


def sort_code_text(sort_code: str | None) -> str:
    """'123456' -> '12-34-56'."""
    if not sort_code:
        return ""
    return "-".join(sort_code[i : i + 2] for i in range(0, 6, 2))


class RemittanceDetails(TimestampMixin, VersionedMixin, db.Model):
    """What the CRC pays to and where it sends remittance advice: one row a partner. The bank
    account here is the confirmed one; a change waits in BankDetailsChange until confirmed."""

    __tablename__ = "remittance_details"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), unique=True)
    account_name: Mapped[str | None] = mapped_column(String(70))
    sort_code: Mapped[str | None] = mapped_column(String(6))
    account_number: Mapped[str | None] = mapped_column(String(8))
    bank_confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    bank_confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    remittance_email: Mapped[str | None] = mapped_column(String(254))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    @property
    def has_bank_account(self) -> bool:
        return bool(self.sort_code and self.account_number)

    @property
    def sort_code_text(self) -> str:
        return sort_code_text(self.sort_code)


class ChangeStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"  # replaced by a later request before it was decided

    @property
    def label(self) -> str:
        return {
            "pending": "Awaiting confirmation",
            "confirmed": "Confirmed",
            "rejected": "Rejected",
            "withdrawn": "Replaced",
        }[self.value]


class BankDetailsChange(TimestampMixin, VersionedMixin, db.Model):
    """A partner manager's request to pay into another bank account. It takes effect only when a
    contract manager confirms it (a fraud control: a changed account is the commonest invoice fraud),
    and an organisation has at most one awaiting confirmation."""

    __tablename__ = "bank_details_change"
    __table_args__ = (
        Index(
            "uq_bank_details_change_one_pending",
            "organisation_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    account_name: Mapped[str] = mapped_column(String(70))
    sort_code: Mapped[str] = mapped_column(String(6))
    account_number: Mapped[str] = mapped_column(String(8))
    status: Mapped[ChangeStatus] = mapped_column(enum_type(ChangeStatus), default=ChangeStatus.PENDING)
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    rejection_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def sort_code_text(self) -> str:
        return sort_code_text(self.sort_code)


class PurchaseOrder(TimestampMixin, VersionedMixin, db.Model):
    """The CRC's purchase order number for a contract, which the partner quotes on its invoices."""

    __tablename__ = "contract_purchase_order"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"), unique=True)
    number: Mapped[str] = mapped_column(String(40))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
