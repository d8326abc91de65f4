"""factory_boy factories: records built the way the portal would build them."""

from __future__ import annotations

from datetime import date, timedelta

import factory
from factory.alchemy import SQLAlchemyModelFactory

from portal.accounts.models import Role, User
from portal.accounts.passwords import hash_password
from portal.contracts.models import (
    Contract,
    ContractStatus,
    ContractTier,
    OutcomeType,
    Pathway,
    RateCardItem,
    RateCardPrice,
    Setting,
    Unit,
)
from portal.dates import financial_year_start, london_today
from portal.db import utcnow
from portal.extensions import db
from portal.organisations.models import Organisation, OrganisationKind, Tier
from portal.people.models import Disability, Gender, Person
from portal.referrals.models import Complexity, LocationType, Referral, ReferralStatus, RoshLevel
from portal.working_days import add_working_days

PASSWORD = "correct-horse-battery-staple"


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


class CrcFactory(BaseFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Test CRC {n}")
    kind = OrganisationKind.CRC
    tier = None


class PartnerFactory(BaseFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Partner Charity {n}")
    kind = OrganisationKind.PARTNER
    tier = Tier.II
    charity_number = factory.Sequence(lambda n: f"{1100000 + n}")


class UserFactory(BaseFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    name = factory.Faker("name", locale="en_GB")
    role = Role.PROVIDER_CASEWORKER
    active = True
    organisation = factory.SubFactory(PartnerFactory)
    password_hash = factory.LazyFunction(lambda: hash_password(PASSWORD))

    class Params:
        invited = factory.Trait(password_hash=None)


class ContractFactory(BaseFactory):
    class Meta:
        model = Contract

    reference = factory.Sequence(lambda n: f"TEST-{n:03d}")
    title = factory.Sequence(lambda n: f"Test services {n}")
    crc = factory.SubFactory(CrcFactory)
    partner = factory.SubFactory(PartnerFactory)
    tier = ContractTier.SUBCONTRACT
    status = ContractStatus.ACTIVE
    # Running from 1 April at least six months ago for two years: stories record work weeks back.
    start_date = factory.LazyFunction(lambda: financial_year_start(london_today() - timedelta(days=183)))
    end_date = factory.LazyAttribute(lambda c: c.start_date.replace(year=c.start_date.year + 2) - timedelta(days=1))
    value_cap_pence = 25_000_000
    vat_rate_bp = 0
    payment_terms_days = 30
    accept_sla_working_days = 2
    first_contact_sla_working_days = 5
    counties = factory.LazyFunction(lambda: ["Bedfordshire"])
    prisons = factory.LazyFunction(list)


class OutcomeTypeFactory(BaseFactory):
    class Meta:
        model = OutcomeType

    contract = factory.SubFactory(ContractFactory)
    code = factory.Sequence(lambda n: f"outcome_{n}")
    name = factory.LazyAttribute(lambda o: o.code.replace("_", " ").capitalize())
    pathway = Pathway.ACCOMMODATION
    active = True


class RateCardItemFactory(BaseFactory):
    class Meta:
        model = RateCardItem

    contract = factory.SubFactory(ContractFactory)
    code = factory.Sequence(lambda n: f"ITEM-{n:03d}")
    service_code = "SERVICE-A"
    name = factory.Sequence(lambda n: f"Service item {n}")
    pathway = Pathway.ACCOMMODATION
    setting = Setting.BOTH
    unit = Unit.PER_SESSION
    outcome_type = None
    max_units_per_referral = None
    active = True


class RateCardPriceFactory(BaseFactory):
    class Meta:
        model = RateCardPrice

    item = factory.SubFactory(RateCardItemFactory)
    unit_price_pence = 5000
    effective_from = factory.LazyAttribute(lambda p: p.item.contract.start_date)
    effective_to = None


class PersonFactory(BaseFactory):
    class Meta:
        model = Person

    crn = factory.Sequence(lambda n: f"X{100000 + n}")
    given_name = factory.Faker("first_name", locale="en_GB")
    family_name = factory.Faker("last_name", locale="en_GB")
    date_of_birth = date(1988, 6, 15)
    gender = Gender.MALE
    ethnicity = "white_british"
    disability = Disability.NO
    prison_number = None
    interpreter_language = None


class ReferralFactory(BaseFactory):
    """A referral already sent (give status= for others); contract and service must be given."""

    class Meta:
        model = Referral

    reference = factory.Sequence(lambda n: f"AB{1000 + n:04d}CD")
    status = ReferralStatus.SENT
    contract = factory.SubFactory(ContractFactory)
    crc_id = factory.LazyAttribute(lambda o: o.contract.crc_id)
    service_code = "SERVICE-A"
    person = factory.SubFactory(PersonFactory)
    referrer = factory.SubFactory(
        UserFactory, role=Role.CRC_REFERRER, organisation=factory.SelfAttribute("..contract.crc")
    )
    location_type = LocationType.COMMUNITY
    community_office = "Bedford probation office"
    postcode = "MK40 1QJ"
    rosh_level = RoshLevel.MEDIUM
    risk_flags = factory.LazyFunction(lambda: ["domestic_abuse"])
    risk_summary = "Known history of domestic abuse towards a former partner. Do not meet at home."
    complexity = Complexity.MEDIUM
    desired_outcomes = factory.LazyFunction(lambda: ["Find settled accommodation"])
    reason = "Homeless on release and needs support to find accommodation."
    rar_days = 10
    sentence_end_date = factory.LazyFunction(lambda: london_today() + timedelta(days=365))
    urgent = False
    sent_at = factory.LazyFunction(utcnow)
    accept_due_on = factory.LazyFunction(lambda: add_working_days(london_today(), 2))
