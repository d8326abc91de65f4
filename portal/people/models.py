"""The Person record and the equality-monitoring categories it carries."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import TimestampMixin, UtcDateTime, VersionedMixin, enum_type
from portal.extensions import db


class Gender(StrEnum):
    MALE = "male"
    FEMALE = "female"
    OTHER = "other"
    NOT_STATED = "not_stated"

    @property
    def label(self) -> str:
        return {"male": "Male", "female": "Female", "other": "Other", "not_stated": "Not stated"}[self.value]


class Disability(StrEnum):
    YES = "yes"
    NO = "no"
    NOT_STATED = "not_stated"

    @property
    def label(self) -> str:
        return {"yes": "Yes", "no": "No", "not_stated": "Not stated"}[self.value]


# ONS 2021 Census ethnic groups for England and Wales: (code, group, category).
ETHNICITIES = (
    ("asian_bangladeshi", "Asian", "Asian, Asian British or Asian Welsh: Bangladeshi"),
    ("asian_chinese", "Asian", "Asian, Asian British or Asian Welsh: Chinese"),
    ("asian_indian", "Asian", "Asian, Asian British or Asian Welsh: Indian"),
    ("asian_pakistani", "Asian", "Asian, Asian British or Asian Welsh: Pakistani"),
    ("asian_other", "Asian", "Asian, Asian British or Asian Welsh: any other Asian background"),
    ("black_african", "Black", "Black, Black British, Black Welsh, Caribbean or African: African"),
    ("black_caribbean", "Black", "Black, Black British, Black Welsh, Caribbean or African: Caribbean"),
    ("black_other", "Black", "Black, Black British, Black Welsh, Caribbean or African: any other Black background"),
    ("mixed_white_asian", "Mixed", "Mixed or multiple ethnic groups: White and Asian"),
    ("mixed_white_black_african", "Mixed", "Mixed or multiple ethnic groups: White and Black African"),
    ("mixed_white_black_caribbean", "Mixed", "Mixed or multiple ethnic groups: White and Black Caribbean"),
    ("mixed_other", "Mixed", "Mixed or multiple ethnic groups: any other mixed background"),
    ("white_british", "White", "White: English, Welsh, Scottish, Northern Irish or British"),
    ("white_irish", "White", "White: Irish"),
    ("white_gypsy_irish_traveller", "White", "White: Gypsy or Irish Traveller"),
    ("white_roma", "White", "White: Roma"),
    ("white_other", "White", "White: any other White background"),
    ("other_arab", "Other", "Other ethnic group: Arab"),
    ("other_any", "Other", "Other ethnic group: any other ethnic group"),
    ("not_stated", "Not stated", "Not stated"),
)
ETHNICITY_CODES = tuple(code for code, _, _ in ETHNICITIES)
ETHNICITY_GROUPS = {code: group for code, group, _ in ETHNICITIES}
ETHNICITY_LABELS = {code: label for code, _, label in ETHNICITIES}


class Person(TimestampMixin, VersionedMixin, db.Model):
    """A person on probation, as one CRC holds them. A CRN is unique within that CRC: another CRC
    (another data controller) referring the same CRN has a record of its own, and can neither read
    nor change this one."""

    __tablename__ = "person"
    __table_args__ = (UniqueConstraint("crc_id", "crn"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    crc_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    crn: Mapped[str] = mapped_column(String(7))
    prison_number: Mapped[str | None] = mapped_column(String(7))
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column(Date)
    gender: Mapped[Gender] = mapped_column(enum_type(Gender))
    ethnicity: Mapped[str] = mapped_column(String(40))
    disability: Mapped[Disability] = mapped_column(enum_type(Disability))
    interpreter_language: Mapped[str | None] = mapped_column(String(60))
    # Set when the retention rule anonymised the record (portal.people.retention).
    anonymised_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def ethnicity_label(self) -> str:
        return ETHNICITY_LABELS.get(self.ethnicity, self.ethnicity)

    @property
    def ethnicity_group(self) -> str:
        return ETHNICITY_GROUPS.get(self.ethnicity, "Not stated")

    def age_on(self, day: date) -> int:
        years = day.year - self.date_of_birth.year
        if (day.month, day.day) < (self.date_of_birth.month, self.date_of_birth.day):
            years -= 1
        return years
