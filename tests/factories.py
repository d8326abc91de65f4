"""factory_boy factories: records built the way the portal would build them."""

from __future__ import annotations

from datetime import date

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
from portal.extensions import db
from portal.organisations.models import Organisation, OrganisationKind, Tier

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
    start_date = date(2026, 4, 1)
    end_date = date(2028, 3, 31)
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
    effective_from = date(2026, 4, 1)
    effective_to = None
