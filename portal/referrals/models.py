"""Referral, its timeline (ReferralEvent) and case notes, with the vocabularies API.md fixes."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    and_,
    event,
    or_,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.contracts.models import Contract, Service
from portal.dates import london_today
from portal.db import TimestampMixin, UtcDateTime, VersionedMixin, enum_type, utcnow
from portal.extensions import db
from portal.people.models import Person


class ReferralStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return {"in_progress": "In progress"}.get(self.value, self.value.capitalize())

    @property
    def colour(self) -> str:
        return {
            "draft": "grey",
            "sent": "blue",
            "accepted": "turquoise",
            "declined": "red",
            "in_progress": "green",
            "completed": "purple",
            "withdrawn": "orange",
        }[self.value]


OPEN_STATUSES = frozenset({ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS})
LIVE_STATUSES = frozenset({ReferralStatus.SENT, ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS})


class RoshLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"

    @property
    def label(self) -> str:
        return f"{self.value.capitalize()} risk of serious harm"


class RiskFlag(StrEnum):
    DOMESTIC_ABUSE = "domestic_abuse"
    CHILD_SAFEGUARDING = "child_safeguarding"
    VIOLENCE = "violence"
    SELF_HARM = "self_harm"
    ARSON = "arson"
    SEXUAL_OFFENDING = "sexual_offending"

    @property
    def label(self) -> str:
        return RISK_FLAG_LABELS[self]


RISK_FLAG_LABELS = {
    RiskFlag.DOMESTIC_ABUSE: "Domestic abuse",
    RiskFlag.CHILD_SAFEGUARDING: "Child safeguarding",
    RiskFlag.VIOLENCE: "Violence",
    RiskFlag.SELF_HARM: "Self-harm",
    RiskFlag.ARSON: "Arson",
    RiskFlag.SEXUAL_OFFENDING: "Sexual offending",
}


class Complexity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class LocationType(StrEnum):
    CUSTODY = "custody"
    COMMUNITY = "community"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class ReleaseType(StrEnum):
    """How a person in custody is (or is expected to be) released (Through the Gate)."""

    CONDITIONAL_RELEASE = "conditional_release"
    HOME_DETENTION_CURFEW = "home_detention_curfew"
    PAROLE = "parole"
    END_OF_SENTENCE = "end_of_sentence"
    REMAND = "remand"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "conditional_release": "On licence (automatic conditional release)",
            "home_detention_curfew": "Home detention curfew (tagged)",
            "parole": "Parole Board release",
            "end_of_sentence": "At the end of the sentence, with no licence",
            "remand": "From remand",
            "other": "Other",
        }[self.value]


class ColourBand(StrEnum):
    """The CRC operating model's bands and their minimum face-to-face hours (Annex 3)."""

    GREEN = "green"
    YELLOW = "yellow"
    BLUE = "blue"
    RED = "red"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def minimum_hours(self) -> int:
        return {"green": 12, "yellow": 24, "blue": 35, "red": 35}[self.value]


class Reoffending(StrEnum):
    """Likelihood of reoffending, which with the risk of serious harm suggests the colour band."""

    LOW = "low"
    HIGH = "high"

    @property
    def label(self) -> str:
        return f"{self.value.capitalize()} likelihood of reoffending"


class C2C(StrEnum):
    """C2C, the third factor of Annex 3's colour banding: with high reoffending, high C2C makes
    the case red."""

    LOW = "low"
    HIGH = "high"

    @property
    def label(self) -> str:
        return f"{self.value.capitalize()} C2C"


class DeclineReason(StrEnum):
    NO_CAPACITY = "no_capacity"
    OUTSIDE_AREA = "outside_area"
    NOT_ELIGIBLE = "not_eligible"
    RISK_TOO_HIGH = "risk_too_high"
    DUPLICATE = "duplicate"
    OTHER = "other"

    @property
    def label(self) -> str:
        return DECLINE_REASON_LABELS[self]


DECLINE_REASON_LABELS = {
    DeclineReason.NO_CAPACITY: "No capacity",
    DeclineReason.OUTSIDE_AREA: "Outside our service area",
    DeclineReason.NOT_ELIGIBLE: "Not eligible for the service",
    DeclineReason.RISK_TOO_HIGH: "Risk too high for the service",
    DeclineReason.DUPLICATE: "Duplicate referral",
    DeclineReason.OTHER: "Other",
}


class WithdrawReason(StrEnum):
    """Grouped as Refer and Monitor groups them: problem with referral, circumstances, sentence, other."""

    INCORRECT_REFERRAL = "incorrect_referral"
    MISSING_INFORMATION = "missing_information"
    WRONG_SERVICE = "wrong_service"
    ENGAGEMENT_WITH_ANOTHER_SERVICE = "engagement_with_another_service"
    MOVED_OUT_OF_AREA = "moved_out_of_area"
    IN_HOSPITAL = "in_hospital"
    DIED = "died"
    RECALLED = "recalled"
    SENTENCE_ENDED = "sentence_ended"
    SENTENCE_REVOKED = "sentence_revoked"
    TRANSFERRED_TO_NPS = "transferred_to_nps"
    OTHER = "other"

    @property
    def label(self) -> str:
        return WITHDRAW_REASONS[self][1]

    @property
    def group(self) -> str:
        return WITHDRAW_REASONS[self][0]


WITHDRAW_REASONS = {
    WithdrawReason.INCORRECT_REFERRAL: ("Problem with the referral", "Referral made in error"),
    WithdrawReason.MISSING_INFORMATION: ("Problem with the referral", "Information missing or wrong"),
    WithdrawReason.WRONG_SERVICE: ("Problem with the referral", "Wrong service chosen"),
    WithdrawReason.ENGAGEMENT_WITH_ANOTHER_SERVICE: (
        "The person's circumstances changed",
        "Now working with another service",
    ),
    WithdrawReason.MOVED_OUT_OF_AREA: ("The person's circumstances changed", "Moved out of the area"),
    WithdrawReason.IN_HOSPITAL: ("The person's circumstances changed", "In hospital or unwell"),
    WithdrawReason.DIED: ("The person's circumstances changed", "Died"),
    WithdrawReason.RECALLED: ("The sentence changed", "Recalled to prison"),
    WithdrawReason.SENTENCE_ENDED: ("The sentence changed", "Sentence or licence ended"),
    WithdrawReason.SENTENCE_REVOKED: ("The sentence changed", "Order revoked or amended by the court"),
    # A safeguarding concern raised the risk of serious harm to high: the case belongs to the NPS.
    WithdrawReason.TRANSFERRED_TO_NPS: ("The risk changed", "Risk of serious harm high: transferred to the NPS"),
    WithdrawReason.OTHER: ("Other", "Other"),
}


class Referral(TimestampMixin, VersionedMixin, db.Model):
    __tablename__ = "referral"
    __table_args__ = (
        Index("ix_referral_contract_status", "contract_id", "status"),
        Index("ix_referral_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Null while a draft; given on sending.
    reference: Mapped[str | None] = mapped_column(String(8), unique=True)
    status: Mapped[ReferralStatus] = mapped_column(enum_type(ReferralStatus), default=ReferralStatus.DRAFT)
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contract.id"))
    service_code: Mapped[str | None] = mapped_column(String(40))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    # The person's "given family", lower-cased, as the inbox's name search reads it: kept by the
    # database itself (triggers, migration 0034) whenever a referral's person or a person's name
    # changes, so a search reads the referral row alone. Never set here.
    person_name: Mapped[str | None] = mapped_column(String(201))
    # The CRC organisation that owns the referral (set from the referrer on creation).
    crc_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    # Indexed by ix_referral_referrer_sent, which begins with it (below).
    referrer_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))

    # Where the person is.
    location_type: Mapped[LocationType | None] = mapped_column(enum_type(LocationType))
    prison: Mapped[str | None] = mapped_column(String(60))
    expected_release_date: Mapped[date | None] = mapped_column(Date)
    # Through the Gate: when the person came into custody, and how they are to be released.
    reception_date: Mapped[date | None] = mapped_column(Date)
    release_type: Mapped[ReleaseType | None] = mapped_column(enum_type(ReleaseType))
    community_office: Mapped[str | None] = mapped_column(String(100))
    # The reference-data records the names above were chosen from (portal.places): figures group
    # by these; the names stay as they were when the referral was made.
    prison_id: Mapped[int | None] = mapped_column(ForeignKey("prison.id"), index=True)
    probation_office_id: Mapped[int | None] = mapped_column(ForeignKey("probation_office.id"), index=True)
    postcode: Mapped[str | None] = mapped_column(String(10))
    contact_details: Mapped[str | None] = mapped_column(Text)

    # Risk first.
    rosh_level: Mapped[RoshLevel | None] = mapped_column(enum_type(RoshLevel))
    risk_flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    risk_summary: Mapped[str | None] = mapped_column(Text)

    # Needs.
    complexity: Mapped[Complexity | None] = mapped_column(enum_type(Complexity))
    desired_outcomes: Mapped[list[str]] = mapped_column(JSON, default=list)
    reason: Mapped[str | None] = mapped_column(Text)
    rar_days: Mapped[int | None] = mapped_column(Integer)
    sentence_end_date: Mapped[date | None] = mapped_column(Date)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    colour_band: Mapped[ColourBand | None] = mapped_column(enum_type(ColourBand))
    reoffending: Mapped[Reoffending | None] = mapped_column(enum_type(Reoffending))
    # Annex 3's third factor; unknown (None) is banded as low, as the portal did before recording it.
    c2c: Mapped[C2C | None] = mapped_column(enum_type(C2C))
    # Why the band differs from the one the risk and reoffending suggest (portal.referrals.banding).
    colour_band_reason: Mapped[str | None] = mapped_column(Text)

    # The clocks and who moved the referral along.
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    accept_due_on: Mapped[date | None] = mapped_column(Date)
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The London calendar day of acceptance: the date a per-referral fee is billed by. Kept in
    # step with accepted_at by the listener below, so SQL never needs time-zone arithmetic.
    accepted_on: Mapped[date | None] = mapped_column(Date)
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    risk_confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    risk_confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    first_contact_due_on: Mapped[date | None] = mapped_column(Date)
    first_contact_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Its London calendar day, kept in step like accepted_on: outcome rules count from it in SQL.
    first_contact_on: Mapped[date | None] = mapped_column(Date)
    declined_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    declined_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decline_reason: Mapped[DeclineReason | None] = mapped_column(enum_type(DeclineReason))
    decline_detail: Mapped[str | None] = mapped_column(Text)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    withdraw_reason: Mapped[WithdrawReason | None] = mapped_column(enum_type(WithdrawReason))
    withdraw_detail: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    caseworker_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    contract: Mapped[Contract | None] = relationship(lazy="raise_on_sql")
    person: Mapped[Person | None] = relationship(lazy="raise_on_sql")
    referrer: Mapped[User] = relationship(foreign_keys=[referrer_id], lazy="raise_on_sql")
    caseworker: Mapped[User | None] = relationship(foreign_keys=[caseworker_id], lazy="raise_on_sql")
    # The service referred to (its name is what people read; the code is what rate cards price).
    # Lists load it with joinedload(Referral.service), so their queries do not grow with the rows;
    # one record (a page, an email) may load it when read.
    service: Mapped[Service | None] = relationship(
        primaryjoin="and_(foreign(Referral.contract_id) == Service.contract_id, "
        "foreign(Referral.service_code) == Service.code)",
        viewonly=True,
        uselist=False,
    )

    @property
    def service_name(self) -> str:
        """The service's name (its code if the service has no record)."""
        service = self.service
        return service.name if service is not None else (self.service_code or "")

    @property
    def flags(self) -> list[RiskFlag]:
        return [RiskFlag(flag) for flag in self.risk_flags or []]

    @property
    def is_custody(self) -> bool:
        return self.location_type == LocationType.CUSTODY

    def days_to_release(self, today: date) -> int | None:
        if not self.is_custody or self.expected_release_date is None:
            return None
        return (self.expected_release_date - today).days

    # Overdue, one definition for Python and SQL alike (a hybrid: `referral.overdue` on a record,
    # `Referral.overdue` in a query), by London's today. Each pair below must say the same thing;
    # tests/referrals/test_lists.py checks they do, state by state.

    @hybrid_property
    def accept_overdue(self) -> bool:
        """Sent and not yet answered after the day the answer was due."""
        return (
            self.status == ReferralStatus.SENT
            and self.accept_due_on is not None
            and self.accept_due_on < london_today()
        )

    @accept_overdue.inplace.expression
    @classmethod
    def _accept_overdue(cls) -> ColumnElement[bool]:
        return and_(
            cls.status == ReferralStatus.SENT, cls.accept_due_on.is_not(None), cls.accept_due_on < london_today()
        )

    @hybrid_property
    def first_contact_overdue(self) -> bool:
        """Accepted with no first contact after the day it was due."""
        return (
            self.status == ReferralStatus.ACCEPTED
            and self.first_contact_at is None
            and self.first_contact_due_on is not None
            and self.first_contact_due_on < london_today()
        )

    @first_contact_overdue.inplace.expression
    @classmethod
    def _first_contact_overdue(cls) -> ColumnElement[bool]:
        return and_(
            cls.status == ReferralStatus.ACCEPTED,
            cls.first_contact_at.is_(None),
            cls.first_contact_due_on.is_not(None),
            cls.first_contact_due_on < london_today(),
        )

    @hybrid_property
    def overdue(self) -> bool:
        return self.accept_overdue or self.first_contact_overdue

    @overdue.inplace.expression
    @classmethod
    def _overdue(cls) -> ColumnElement[bool]:
        return or_(cls.accept_overdue, cls.first_contact_overdue)

    def __repr__(self) -> str:
        return f"<Referral {self.reference or self.id} {self.status}>"


# The inbox's order (newest sent first, drafts last): with this index a page of a partner's or the
# CRC's referrals reads about fifty index entries instead of sorting every referral they can see.
# It carries what says who may see a referral and the person's name (PostgreSQL INCLUDE, migration
# 0034), so a broad name search reads it alone, not the table, until it has its page.
Index(
    "ix_referral_sent_at",
    Referral.sent_at.desc().nulls_last(),
    Referral.id.desc(),
    postgresql_include=["contract_id", "crc_id", "status", "referrer_id", "person_name"],
)

# The referrals a referrer sent (their home page's counts: outcomes to verify, alerts, plans…), with
# what says whether they may still see each, read from the index alone: a national referrer's
# sixteen thousand in 2 ms, where the planner otherwise read every referral newest first (migration
# 0037). It begins with referrer_id, so it also answers whatever an index of referrer_id alone did
# (ix_referral_referrer_id, dropped by migration 0040).
Index("ix_referral_referrer_sent", Referral.referrer_id, Referral.id, postgresql_include=["crc_id", "status"])


class ReferralEventKind(StrEnum):
    SENT = "sent"
    AMENDED = "amended"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    ASSIGNED = "assigned"
    WITHDRAWN = "withdrawn"
    NOTE = "note"
    SESSION = "session"
    OUTCOME = "outcome"
    COMPLETED = "completed"


class ReferralEvent(db.Model):
    """One line of a referral's timeline, written by the operation that made it happen.

    The audit log is the security record for administrators; this is the case history
    both sides read on the referral page.
    """

    __tablename__ = "referral_event"
    __table_args__ = (Index("ix_referral_event_referral", "referral_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[ReferralEventKind] = mapped_column(enum_type(ReferralEventKind))
    summary: Mapped[str] = mapped_column(String(300))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor: Mapped[User | None] = relationship(lazy="raise_on_sql")


class CaseNote(db.Model):
    """A note on a referral by either side. Notes are never edited or deleted."""

    __tablename__ = "case_note"
    __table_args__ = (Index("ix_case_note_referral", "referral_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    body: Mapped[str] = mapped_column(Text)
    # A correction note is about a session or outcome that can no longer be edited (it is on a
    # submitted invoice): the record stays as it was, and the note says what was wrong.
    session_id: Mapped[int | None] = mapped_column(ForeignKey("delivery_session.id", ondelete="SET NULL"))
    outcome_id: Mapped[int | None] = mapped_column(ForeignKey("outcome.id", ondelete="SET NULL"))

    author: Mapped[User] = relationship(lazy="raise_on_sql")

    @property
    def is_correction(self) -> bool:
        return self.session_id is not None or self.outcome_id is not None


class CaseNotesAreFinal(RuntimeError):
    pass


@event.listens_for(CaseNote, "before_update")
def _refuse_note_update(mapper: Any, connection: Any, target: CaseNote) -> None:
    raise CaseNotesAreFinal("case notes cannot be edited")


@event.listens_for(CaseNote, "before_delete")
def _refuse_note_delete(mapper: Any, connection: Any, target: CaseNote) -> None:
    raise CaseNotesAreFinal("case notes cannot be deleted")


class ImportStatus(StrEnum):
    CHECKED = "checked"  # every row passed; waiting for the user to confirm
    IMPORTING = "importing"
    IMPORTED = "imported"
    FAILED = "failed"


class ReferralImport(TimestampMixin, db.Model):
    """An uploaded CSV of referrals: checked in full, previewed, then imported all or nothing."""

    __tablename__ = "referral_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    crc_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    filename: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    row_count: Mapped[int] = mapped_column(Integer)
    status: Mapped[ImportStatus] = mapped_column(enum_type(ImportStatus), default=ImportStatus.CHECKED)
    job_id: Mapped[str | None] = mapped_column(String(40))
    # References created, or the errors that stopped the import.
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    created_by: Mapped[User] = relationship(lazy="raise_on_sql")


@event.listens_for(Referral, "before_insert")
@event.listens_for(Referral, "before_update")
def _keep_accepted_on(mapper: Any, connection: Any, target: Referral) -> None:
    from portal.dates import london_day

    target.accepted_on = london_day(target.accepted_at) if target.accepted_at else None
    target.first_contact_on = london_day(target.first_contact_at) if target.first_contact_at else None
