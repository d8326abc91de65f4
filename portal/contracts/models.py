"""Contract, RateCardItem, RateCardPrice and OutcomeType, and the identifiers DESIGN.md fixes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Money, TimestampMixin, VersionedMixin, enum_type
from portal.extensions import db
from portal.organisations.models import Organisation
from portal.places.models import County, Prison


class Pathway(StrEnum):
    ACCOMMODATION = "accommodation"
    ETE = "ete"
    HEALTH = "health"
    DRUGS_ALCOHOL = "drugs_alcohol"
    FINANCE_BENEFIT_DEBT = "finance_benefit_debt"
    CHILDREN_FAMILIES = "children_families"
    ATTITUDES_THINKING_BEHAVIOUR = "attitudes_thinking_behaviour"
    WOMEN_ABUSE = "women_abuse"
    WOMEN_SEX_WORK = "women_sex_work"

    @property
    def label(self) -> str:
        return PATHWAY_LABELS[self]


PATHWAY_LABELS = {
    Pathway.ACCOMMODATION: "Accommodation",
    Pathway.ETE: "Education, training and employment",
    Pathway.HEALTH: "Health",
    Pathway.DRUGS_ALCOHOL: "Drugs and alcohol",
    Pathway.FINANCE_BENEFIT_DEBT: "Finance, benefit and debt",
    Pathway.CHILDREN_FAMILIES: "Children and families",
    Pathway.ATTITUDES_THINKING_BEHAVIOUR: "Attitudes, thinking and behaviour",
    Pathway.WOMEN_ABUSE: "Women: abuse",
    Pathway.WOMEN_SEX_WORK: "Women: sex work",
}


class Setting(StrEnum):
    CUSTODY = "custody"
    COMMUNITY = "community"
    BOTH = "both"

    @property
    def label(self) -> str:
        return {"custody": "Custody", "community": "Community", "both": "Custody and community"}[self.value]


class Unit(StrEnum):
    PER_REFERRAL = "per_referral"
    PER_SESSION = "per_session"
    PER_HOUR = "per_hour"
    PER_RAR_DAY = "per_rar_day"
    PER_OUTCOME = "per_outcome"
    MONTHLY_FIXED = "monthly_fixed"

    @property
    def label(self) -> str:
        return UNIT_LABELS[self]


UNIT_LABELS = {
    Unit.PER_REFERRAL: "Per referral started",
    Unit.PER_SESSION: "Per attended session",
    Unit.PER_HOUR: "Per attended hour",
    Unit.PER_RAR_DAY: "Per RAR day delivered",
    Unit.PER_OUTCOME: "Per verified outcome",
    Unit.MONTHLY_FIXED: "Fixed monthly amount",
}


# The units that price sessions: an item of one of them names the session kinds it prices.
SESSION_UNITS = (Unit.PER_SESSION, Unit.PER_HOUR, Unit.PER_RAR_DAY)


class KindList(TypeDecorator):
    """A list of session kinds (portal.delivery.models.SessionKind values), stored as one text
    joined by "|" so that SQL can test a kind with LIKE on both databases. Empty: every kind."""

    impl = String(200)
    cache_ok = True

    def process_bind_param(self, value: list[str] | None, dialect: object) -> str:
        return "|".join(str(getattr(kind, "value", kind)) for kind in value or [])

    def process_result_value(self, value: str | None, dialect: object) -> list[str]:
        return [kind for kind in (value or "").split("|") if kind]


class ContractTier(StrEnum):
    SUBCONTRACT = "subcontract"
    GRANT = "grant"

    @property
    def label(self) -> str:
        return {"subcontract": "Subcontract (Tier II)", "grant": "Grant (Tier III)"}[self.value]


class ContractStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ENDED = "ended"

    @property
    def label(self) -> str:
        return self.value.capitalize()


VAT_RATES_BASIS_POINTS = (0, 2000)  # 0% (most charities' services are exempt) or 20%

# The places a contract covers are the CRC's records (portal.places), not names: renaming a place
# renames it on every contract, and a place a contract covers cannot be deleted from under it.
contract_county = Table(
    "contract_county",
    db.metadata,
    Column("contract_id", ForeignKey("contract.id", ondelete="CASCADE"), primary_key=True),
    Column("county_id", ForeignKey("county.id"), primary_key=True, index=True),
)
contract_prison = Table(
    "contract_prison",
    db.metadata,
    Column("contract_id", ForeignKey("contract.id", ondelete="CASCADE"), primary_key=True),
    Column("prison_id", ForeignKey("prison.id"), primary_key=True, index=True),
)


class Contract(TimestampMixin, VersionedMixin, db.Model):
    __tablename__ = "contract"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(30), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    crc_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    tier: Mapped[ContractTier] = mapped_column(enum_type(ContractTier))
    status: Mapped[ContractStatus] = mapped_column(enum_type(ContractStatus), default=ContractStatus.DRAFT)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    value_cap_pence: Mapped[int] = mapped_column(Money)
    # Basis points, so the rate is exact: 2000 = 20%.
    vat_rate_bp: Mapped[int] = mapped_column(Integer, default=0)
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=30)
    accept_sla_working_days: Mapped[int] = mapped_column(Integer, default=2)
    first_contact_sla_working_days: Mapped[int] = mapped_column(Integer, default=5)
    description: Mapped[str | None] = mapped_column(Text)

    crc: Mapped[Organisation] = relationship(foreign_keys=[crc_id], lazy="joined", innerjoin=True)
    partner: Mapped[Organisation] = relationship(foreign_keys=[partner_id], lazy="joined", innerjoin=True)
    items: Mapped[list[RateCardItem]] = relationship(
        back_populates="contract", order_by="RateCardItem.code", lazy="raise_on_sql"
    )
    outcome_types: Mapped[list[OutcomeType]] = relationship(
        back_populates="contract", order_by="OutcomeType.code", lazy="raise_on_sql"
    )
    # The area it serves: a page listing contracts with their places loads them with selectinload.
    counties: Mapped[list[County]] = relationship(secondary=contract_county, order_by=County.name)
    prisons: Mapped[list[Prison]] = relationship(secondary=contract_prison, order_by=Prison.name)

    @property
    def county_names(self) -> list[str]:
        # Sorted here, not by the database, so both databases give one order (the demo's draws use it).
        return sorted(county.name for county in self.counties)

    @property
    def prison_names(self) -> list[str]:
        return sorted(prison.name for prison in self.prisons)

    @property
    def vat_rate(self) -> Decimal:
        return Decimal(self.vat_rate_bp) / Decimal(10000)

    @property
    def vat_rate_label(self) -> str:
        return f"{self.vat_rate_bp // 100}%"

    def __repr__(self) -> str:
        return f"<Contract {self.reference}>"


class OutcomeFrom(StrEnum):
    """The event an outcome type's days are counted from (API.md, "Billing rules"); none (NULL)
    counts from the referral's acceptance."""

    START = "start"  # first contact
    RELEASE = "release"  # release from custody; for a community referral, first contact

    @property
    def label(self) -> str:
        return {"start": "First contact", "release": "Release from custody"}[self.value]


class OutcomeType(TimestampMixin, VersionedMixin, db.Model):
    """An outcome a contract recognises (and may pay for), tied to a pathway, with its rule: from
    which event and within how many days it can be achieved, how many a referral may have, and
    whether a claim needs an evidence file (portal.delivery.outcome_rules applies it)."""

    __tablename__ = "outcome_type"
    __table_args__ = (UniqueConstraint("contract_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"))
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(200))
    pathway: Mapped[Pathway] = mapped_column(enum_type(Pathway))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The rule. NULL outcome_from: counted from acceptance.
    outcome_from: Mapped[OutcomeFrom | None] = mapped_column(enum_type(OutcomeFrom))
    outcome_earliest_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    outcome_latest_days: Mapped[int | None] = mapped_column(Integer)
    max_per_referral: Mapped[int | None] = mapped_column(Integer)
    evidence_required: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Recorded but never paid: claimable on a referral whose service has no price for it.
    recorded_unpaid: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    contract: Mapped[Contract] = relationship(back_populates="outcome_types", lazy="raise_on_sql")

    @property
    def rule_text(self) -> str:
        """The rule in words, like "Achieved at least 91 days after first contact"."""
        from portal.delivery.outcome_rules import Rule, describe

        return describe(Rule.of(self))


class RateCardItem(TimestampMixin, VersionedMixin, db.Model):
    """A priced service on a contract: what is billed, and by which unit."""

    __tablename__ = "rate_card_item"
    __table_args__ = (
        UniqueConstraint("contract_id", "code"),
        Index("ix_rate_card_item_service", "contract_id", "service_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"))
    code: Mapped[str] = mapped_column(String(40))
    service_code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    pathway: Mapped[Pathway] = mapped_column(enum_type(Pathway))
    setting: Mapped[Setting] = mapped_column(enum_type(Setting))
    unit: Mapped[Unit] = mapped_column(enum_type(Unit))
    outcome_type_id: Mapped[int | None] = mapped_column(ForeignKey("outcome_type.id"))
    max_units_per_referral: Mapped[int | None] = mapped_column(Integer)
    # The session kinds a per_session, per_hour or per_rar_day item prices; empty: every kind.
    session_kinds: Mapped[list[str]] = mapped_column(KindList, default=list, server_default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    contract: Mapped[Contract] = relationship(back_populates="items", lazy="raise_on_sql")
    outcome_type: Mapped[OutcomeType | None] = relationship(lazy="joined")
    prices: Mapped[list[RateCardPrice]] = relationship(
        back_populates="item", order_by="RateCardPrice.effective_from", lazy="selectin"
    )

    @property
    def prices_sessions(self) -> bool:
        return self.unit in SESSION_UNITS

    @property
    def session_kinds_label(self) -> str:
        """'Every kind of session' or 'One-to-one, phone'."""
        from portal.contracts.measures import kinds_label

        return kinds_label(self.session_kinds)


class RateCardPrice(TimestampMixin, VersionedMixin, db.Model):
    """A unit price for an item over a period: from `effective_from` to `effective_to`
    inclusive, or open-ended when `effective_to` is empty."""

    __tablename__ = "rate_card_price"
    __table_args__ = (UniqueConstraint("item_id", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("rate_card_item.id"), index=True)
    unit_price_pence: Mapped[int] = mapped_column(Money)
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)

    item: Mapped[RateCardItem] = relationship(back_populates="prices", lazy="raise_on_sql")


class ServiceSex(StrEnum):
    """Whom a service is for, by the gender recorded on the person (empty: anyone)."""

    FEMALE = "female"
    MALE = "male"

    @property
    def label(self) -> str:
        return {"female": "Women", "male": "Men"}[self.value]

    @property
    def noun(self) -> str:
        return {"female": "women", "male": "men"}[self.value]


class Service(TimestampMixin, VersionedMixin, db.Model):
    """What a referrer refers a person to: a service of a contract, priced by the rate-card items
    with its code (RateCardItem.service_code), with the eligibility every referral is checked
    against when it is sent (portal.contracts.eligibility)."""

    __tablename__ = "service"
    __table_args__ = (UniqueConstraint("contract_id", "code"), UniqueConstraint("contract_id", "name"))

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    pathway: Mapped[Pathway] = mapped_column(enum_type(Pathway))
    # Custody, community or both: also the first rule of eligibility.
    setting: Mapped[Setting] = mapped_column(enum_type(Setting))
    sex: Mapped[ServiceSex | None] = mapped_column(enum_type(ServiceSex))
    min_age: Mapped[int | None] = mapped_column(Integer)
    max_age: Mapped[int | None] = mapped_column(Integer)
    # Ids of the CRC's places (portal.places); empty: no limit.
    county_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    prison_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    probation_office_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    open_to_referrals: Mapped[bool] = mapped_column(Boolean, default=True)

    contract: Mapped[Contract] = relationship(lazy="raise_on_sql")

    def __repr__(self) -> str:
        return f"<Service {self.code}>"
