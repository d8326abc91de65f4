"""factory_boy factories: records built the way the portal would build them."""

from __future__ import annotations

import factory
from factory.alchemy import SQLAlchemyModelFactory

from portal.accounts.models import Role, User
from portal.accounts.passwords import hash_password
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
