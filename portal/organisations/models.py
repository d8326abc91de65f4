"""The Organisation record: a CRC (Tier I prime) or a partner (Tier II subcontractor / Tier III grantee)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import TimestampMixin, VersionedMixin, enum_type
from portal.extensions import db

if TYPE_CHECKING:
    from portal.accounts.models import User


class OrganisationKind(StrEnum):
    CRC = "crc"
    PARTNER = "partner"

    @property
    def label(self) -> str:
        return {"crc": "CRC", "partner": "Partner"}[self.value]


class Tier(StrEnum):
    II = "II"
    III = "III"

    @property
    def label(self) -> str:
        return {"II": "Tier II (subcontract)", "III": "Tier III (grant)"}[self.value]


class Organisation(TimestampMixin, VersionedMixin, db.Model):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[OrganisationKind] = mapped_column(enum_type(OrganisationKind))
    tier: Mapped[Tier | None] = mapped_column(enum_type(Tier))
    charity_number: Mapped[str | None] = mapped_column(String(20))
    company_number: Mapped[str | None] = mapped_column(String(20))
    vat_number: Mapped[str | None] = mapped_column(String(20))
    # Where e-invoices reach it on the PEPPOL network when it has no VAT number (the VAT number is
    # its address otherwise): "scheme:identifier", the scheme from the EAS code list, like a GLN
    # "0088:5060123456782".
    peppol_id: Mapped[str | None] = mapped_column(String(60))
    address_line_1: Mapped[str | None] = mapped_column(String(200))
    address_line_2: Mapped[str | None] = mapped_column(String(200))
    town: Mapped[str | None] = mapped_column(String(100))
    postcode: Mapped[str | None] = mapped_column(String(10))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    # Where new referrals are announced (a shared mailbox), besides the partner's managers.
    referral_email: Mapped[str | None] = mapped_column(String(254))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    users: Mapped[list[User]] = relationship(back_populates="organisation", lazy="raise_on_sql")

    @property
    def is_crc(self) -> bool:
        return self.kind == OrganisationKind.CRC

    @property
    def is_partner(self) -> bool:
        return self.kind == OrganisationKind.PARTNER

    @property
    def address_lines(self) -> list[str]:
        return [line for line in (self.address_line_1, self.address_line_2, self.town, self.postcode) if line]

    def __repr__(self) -> str:
        return f"<Organisation {self.id} {self.kind}>"
