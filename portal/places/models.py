"""County, Prison and ProbationOffice: the places of a CRC's Contract Package Area, as records its
administrators manage (never constants in code), so another CRC can run the portal as it is."""

from __future__ import annotations

import re

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import TimestampMixin, VersionedMixin
from portal.extensions import db


class _Place(TimestampMixin, VersionedMixin):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # Retired places stay on the records that name them, but are offered for nothing new.
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class County(_Place, db.Model):
    __tablename__ = "county"
    __table_args__ = (UniqueConstraint("crc_id", "name"),)

    crc_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)


class Prison(_Place, db.Model):
    __tablename__ = "prison"
    __table_args__ = (UniqueConstraint("crc_id", "name"),)

    crc_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    # Empty for a prison outside the area's counties (HMP Woodhill is in Milton Keynes).
    county_id: Mapped[int | None] = mapped_column(ForeignKey("county.id"))

    county: Mapped[County | None] = relationship(lazy="joined")


class ProbationOffice(_Place, db.Model):
    __tablename__ = "probation_office"
    __table_args__ = (UniqueConstraint("crc_id", "name"),)

    crc_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    county_id: Mapped[int | None] = mapped_column(ForeignKey("county.id"))

    county: Mapped[County | None] = relationship(lazy="joined")


PLACE_MODELS: dict[str, type] = {"counties": County, "prisons": Prison, "probation-offices": ProbationOffice}


def office_key(name: str) -> str:
    """What two spellings of one office share: "Bedford", "bedford probation office" and
    "Bedford Probation Office." are one office."""
    key = re.sub(r"[^a-z0-9 ]", " ", (name or "").lower())
    key = re.sub(r"\b(probation|office|offices|nps|crc)\b", " ", key)
    return " ".join(key.split())
