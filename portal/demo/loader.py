"""Loads the demo data through the same service functions the pages use, so it is audited like real work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import time_machine
from flask import current_app
from sqlalchemy import func, select

from portal.accounts import mfa
from portal.accounts.models import Role, User
from portal.accounts.service import create_user
from portal.audit.service import record_event
from portal.contracts import service as contracts
from portal.contracts.models import Contract, ContractStatus
from portal.contracts.rate_card_csv import import_rate_card
from portal.dates import london_day
from portal.db import utcnow
from portal.demo import grants as demo_grants
from portal.demo.contracts import OUTCOME_RULES, OUTCOME_TYPES, DemoContract, demo_contracts, rate_card_csv
from portal.demo.history import describe_history, load_demo_history, setup_moment
from portal.demo.services import describe_services
from portal.demo.supply_chain import (
    CRC,
    CRC_DOMAIN,
    CRC_USERS,
    DEMO_CONTRACT_MANAGER,
    DEMO_MFA_SECRET,
    DEMO_PASSWORD,
    PARTNER_PEOPLE,
    PARTNERS,
    DemoOrganisation,
    demo_peppol_id,
    email_for,
)
from portal.extensions import db
from portal.organisations.models import Organisation
from portal.organisations.service import create_organisation
from portal.places.bench import load_bench_places
from portal.referrals.models import Referral


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: Role
    organisation: str


def database_is_empty() -> bool:
    return not db.session.scalar(select(func.count()).select_from(Organisation))


def load_demo_data(*, history: bool = True) -> list[DemoLogin]:
    """Create the demo CRC, its partners and their users, then the partners' contracts; with
    `history`, then a year of referrals, delivery, invoices and service returns on them (most of
    the loading time: tests that only need the logins and contracts leave it out). Returns the
    logins to print."""
    now = utcnow()
    dated = demo_contracts(london_day(now))
    # With a history, the supply chain was set up before it began (so the audit log reads in order).
    first_day = min(contract.start_date for contract in dated if contract.status == ContractStatus.ACTIVE)
    with time_machine.travel(setup_moment(now, first_day), tick=False) if history else nullcontext():
        with _quick_password_hashes():
            logins, partners = _load_organisations_and_users()
        # Set up by the demo contract manager, so the audit log shows the contracts as their work.
        manager = db.session.scalars(select(User).where(User.email == f"{DEMO_CONTRACT_MANAGER}@{CRC_DOMAIN}")).one()
        for demo_contract in dated:
            _create_contract(manager, demo_contract, partners[demo_contract.partner])
        demo_grants.set_expectations(manager, london_day(now))
    if history:
        demo_grants.before_history(now)
        load_demo_history(now)
    return logins


def _load_organisations_and_users() -> tuple[list[DemoLogin], dict[str, Organisation]]:
    logins: list[DemoLogin] = []

    crc = _create_org(CRC)
    load_bench_places(crc.id)  # BeNCH's counties, prisons and probation offices
    for local, name, role in CRC_USERS:
        user = _add_user(f"{local}@{CRC_DOMAIN}", name, Role(role), crc)
        logins.append(DemoLogin(user.email, user.role, crc.name))

    partners: dict[str, Organisation] = {}
    for demo in PARTNERS:
        partner = partners[demo.slug] = _create_org(demo)
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
    _enrol_in_two_step_verification()
    leaver = _add_user(email_for("leaver", "nacro"), "Ian Moss", Role.PROVIDER_CASEWORKER, nacro)
    leaver.active = False
    leaver.rotate_session_token()
    record_event("user.deactivated", record=leaver, details={"via": "demo-data"})
    db.session.commit()
    return logins, partners


def _enrol_in_two_step_verification() -> None:
    """Demo accounts whose role must use two-step verification share the documented DEMO_MFA_SECRET,
    so the demo signs in as production does, with nobody left at the set-up page."""
    if not current_app.config["MFA_REQUIRED"]:
        return
    for user in db.session.scalars(select(User).where(User.role.in_(mfa.ROLES_THAT_MUST_USE_IT))):
        mfa.enrol_with_secret(user, DEMO_MFA_SECRET)
        record_event("user.mfa_enrolled", record=user, details={"via": "demo-data"})
    db.session.commit()


def _create_org(demo: DemoOrganisation) -> Organisation:
    is_partner = demo.kind == "partner"
    return create_organisation(
        None,
        name=demo.name,
        kind=demo.kind,
        tier=demo.tier,
        charity_number=demo.charity_number,
        company_number=demo.company_number,
        vat_number=demo.vat_number,
        peppol_id=None if demo.vat_number else demo_peppol_id(demo.slug),
        address_line_1=demo.street,
        town=demo.town,
        postcode=demo.postcode,
        # A partner's main contact is its manager.
        contact_name=PARTNER_PEOPLE[demo.slug][0][0] if is_partner else None,
        contact_email=email_for("manager", demo.slug) if is_partner else None,
        contact_phone=demo.phone,
    )


def _add_user(email: str, name: str, role: Role, organisation: Organisation) -> User:
    return create_user(None, email=email, name=name, role=role, organisation=organisation, password=DEMO_PASSWORD).user


@contextmanager
def _quick_password_hashes() -> Iterator[None]:
    """Hash the demo accounts' password at Argon2's lowest cost, so loading takes seconds, not
    tens of seconds. The password is published in the README, so a costly hash would protect
    nothing; each account's hash is upgraded to the configured cost when it first signs in."""
    config = current_app.config
    saved = {key: config[key] for key in ("ARGON2_TIME_COST", "ARGON2_MEMORY_COST") if key in config}
    config.update(ARGON2_TIME_COST=1, ARGON2_MEMORY_COST=1024)
    try:
        yield
    finally:
        for key in ("ARGON2_TIME_COST", "ARGON2_MEMORY_COST"):
            config.pop(key, None)
        config.update(saved)


def _create_contract(manager: User, demo: DemoContract, partner: Organisation) -> Contract:
    """Set up a contract as a contract manager would: a draft, its outcome types and rate card
    (item by item, or from a spreadsheet), then make it active (and end it, for an old one)."""
    contract = contracts.create_contract(
        manager,
        reference=demo.reference,
        title=demo.title,
        partner_id=partner.id,
        tier=demo.tier,
        start_date=demo.start_date,
        end_date=demo.end_date,
        value_cap_pence=demo.cap_pounds * 100,
        vat_rate_bp=demo.vat_rate_bp,
        payment_terms_days=demo.payment_terms_days,
        accept_sla_working_days=demo.accept_sla_working_days,
        first_contact_sla_working_days=demo.first_contact_sla_working_days,
        counties=list(demo.counties),
        prisons=list(demo.prisons),
        description=demo.description,
    )
    outcome_types = {}
    priced = {item.outcome_type for item in demo.items if item.outcome_type}
    for code in demo.outcome_type_codes:
        name, pathway = OUTCOME_TYPES[code]
        rule = OUTCOME_RULES[code]
        outcome_types[code] = contracts.add_outcome_type(
            manager,
            contract,
            commit=False,
            code=code,
            name=name,
            pathway=pathway,
            outcome_from=rule.outcome_from,
            outcome_earliest_days=rule.earliest,
            outcome_latest_days=rule.latest,
            max_per_referral=rule.most,
            evidence_required=rule.evidence_required,
            # An outcome the contract recognises but no item pays for is recorded, not paid.
            recorded_unpaid=code not in priced,
        )
    db.session.commit()

    if demo.imported_from_csv:
        import_rate_card(manager, contract, rate_card_csv(demo).encode(), filename=f"{demo.reference}.csv")
    else:
        for demo_item in demo.items:
            outcome_type = outcome_types.get(demo_item.outcome_type) if demo_item.outcome_type else None
            item = contracts.add_item(
                manager,
                contract,
                code=demo_item.code,
                service_code=demo_item.service_code,
                name=demo_item.name,
                pathway=demo_item.pathway,
                setting=demo_item.setting,
                unit=demo_item.unit,
                outcome_type_id=outcome_type.id if outcome_type else None,
                max_units_per_referral=demo_item.max_units_per_referral,
                session_kinds=list(demo_item.session_kinds),
            )
            for demo_price in demo_item.prices:
                contracts.add_price(
                    manager,
                    item,
                    contract,
                    unit_price_pence=demo_price.unit_price_pence,
                    effective_from=demo_price.effective_from,
                    effective_to=demo_price.effective_to,
                )

    describe_services(manager, contract, demo)
    if demo.status != ContractStatus.DRAFT:
        contracts.activate_contract(manager, contract)
    if demo.status == ContractStatus.ENDED:
        contracts.end_contract(manager, contract, end_date=demo.end_date)
    return contract


def describe_demo_data() -> str:
    """What the database holds, in a few words: "11 organisations, 30 users and 14 contracts"."""
    counts = [db.session.scalar(select(func.count()).select_from(model)) for model in (Organisation, User, Contract)]
    described = f"{counts[0]} organisations, {counts[1]} users and {counts[2]} contracts"
    if db.session.scalar(select(func.count()).select_from(Referral)):
        described += f", with a year of history: {describe_history()}"
    return described


def demo_logins() -> list[DemoLogin]:
    """The main demo logins (manager, caseworker and CRC accounts), from the database."""
    wanted = {f"{local}@{CRC_DOMAIN}" for local, _, _ in CRC_USERS[:3]}
    for demo in PARTNERS:
        wanted |= {email_for("manager", demo.slug), email_for("caseworker", demo.slug)}
    users = db.session.scalars(select(User).join(User.organisation).where(User.email.in_(wanted))).all()
    role_order = list(Role)
    users = sorted(users, key=lambda u: (u.organisation.kind != "crc", u.organisation.name, -role_order.index(u.role)))
    return [DemoLogin(user.email, user.role, user.organisation.name) for user in users]
