"""Loads the demo data through the same service functions the pages use, so it is audited like real work."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from portal.accounts.models import Role, User
from portal.accounts.service import create_user
from portal.audit.service import record_event
from portal.demo.supply_chain import (
    CRC,
    CRC_DOMAIN,
    CRC_USERS,
    DEMO_PASSWORD,
    PARTNER_PEOPLE,
    PARTNERS,
    DemoOrganisation,
    email_for,
)
from portal.extensions import db
from portal.organisations.models import Organisation
from portal.organisations.service import create_organisation


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: Role
    organisation: str


def database_is_empty() -> bool:
    return not db.session.scalar(select(func.count()).select_from(Organisation))


def _create_org(demo: DemoOrganisation) -> Organisation:
    return create_organisation(
        None,
        name=demo.name,
        kind=demo.kind,
        tier=demo.tier,
        charity_number=demo.charity_number,
        company_number=demo.company_number,
        vat_number=demo.vat_number,
        address_line_1="Demo House, 1 High Street",
        town=demo.town,
        postcode=demo.postcode,
        contact_name=None,
        contact_email=email_for("contracts", demo.slug) if demo.kind == "partner" else None,
    )


def _add_user(email: str, name: str, role: Role, organisation: Organisation) -> User:
    return create_user(None, email=email, name=name, role=role, organisation=organisation, password=DEMO_PASSWORD).user


def load_demo_data() -> list[DemoLogin]:
    """Create the demo CRC, partners and users. Returns the logins to print."""
    logins: list[DemoLogin] = []

    crc = _create_org(CRC)
    for local, name, role in CRC_USERS:
        user = _add_user(f"{local}@{CRC_DOMAIN}", name, Role(role), crc)
        logins.append(DemoLogin(user.email, user.role, crc.name))

    for demo in PARTNERS:
        partner = _create_org(demo)
        managers_caseworkers, extra_caseworkers = PARTNER_PEOPLE[demo.slug]
        manager_name, caseworker_name = managers_caseworkers
        for local, name, role in (
            ("manager", manager_name, Role.PROVIDER_MANAGER),
            ("caseworker", caseworker_name, Role.PROVIDER_CASEWORKER),
        ):
            user = _add_user(email_for(local, demo.slug), name, role, partner)
            logins.append(DemoLogin(user.email, user.role, partner.name))
        for index, name in enumerate(extra_caseworkers, start=2):
            _add_user(email_for(f"caseworker{index}", demo.slug), name, Role.PROVIDER_CASEWORKER, partner)

    # Accounts in the other states a user administrator meets.
    nacro = db.session.scalars(select(Organisation).where(Organisation.name == "Nacro")).one()
    create_user(
        None,
        email=email_for("new.starter", "nacro"),
        name="Robert Nash",
        role=Role.PROVIDER_CASEWORKER,
        organisation=nacro,
        send_invitation=False,
    )
    leaver = _add_user(email_for("leaver", "nacro"), "Ian Moss", Role.PROVIDER_CASEWORKER, nacro)
    leaver.active = False
    leaver.rotate_session_token()
    record_event("user.deactivated", record=leaver, details={"via": "demo-data"})
    db.session.commit()
    return logins


def demo_logins() -> list[DemoLogin]:
    """The main demo logins (manager, caseworker and CRC accounts), from the database."""
    wanted = {f"{local}@{CRC_DOMAIN}" for local, _, _ in CRC_USERS[:3]}
    for demo in PARTNERS:
        wanted |= {email_for("manager", demo.slug), email_for("caseworker", demo.slug)}
    users = db.session.scalars(select(User).join(User.organisation).where(User.email.in_(wanted))).all()
    role_order = list(Role)
    users = sorted(users, key=lambda u: (u.organisation.kind != "crc", u.organisation.name, -role_order.index(u.role)))
    return [DemoLogin(user.email, user.role, user.organisation.name) for user in users]
