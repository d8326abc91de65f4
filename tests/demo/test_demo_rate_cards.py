"""The demo rate cards survive the CSV round trip, the load stays quick, and the supply chain shows on the pages.

Each test loads the demo data afresh, because each changes something (an import, a sign-in).
"""

import re

import pytest
from sqlalchemy import select

from portal.accounts.models import User
from portal.contracts.models import Contract, ContractStatus, ContractTier
from portal.contracts.rate_card_csv import RateCardImportFailed, export_rate_card, import_rate_card, read_rate_card
from portal.dates import london_today
from portal.demo.contracts import DEMO_CONTRACTS, demo_contracts, rate_card_csv
from portal.demo.loader import load_demo_data
from portal.demo.supply_chain import DEMO_PASSWORD
from portal.extensions import db
from portal.formatting import format_date
from tests.helpers import text_of


@pytest.fixture
def contract_manager_of_the_demo():  # type: ignore[no-untyped-def]
    load_demo_data(history=False)
    return db.session.scalars(select(User).where(User.email == "contracts@bench-crc.example")).one()


def test_every_demo_rate_card_exports_and_imports_back_with_no_change(contract_manager_of_the_demo):
    contracts = db.session.scalars(select(Contract).order_by(Contract.reference)).all()
    assert len(contracts) == len(DEMO_CONTRACTS)
    for contract in contracts:
        exported = export_rate_card(contract)
        if contract.tier == ContractTier.GRANT:  # a grant paid by its schedule: no rate card at all
            assert exported.count("\n") == 1
            continue
        assert len(read_rate_card(exported.encode())) >= 1
        if contract.status == ContractStatus.ENDED:
            with pytest.raises(RateCardImportFailed):  # an ended contract's rate card no longer changes
                import_rate_card(contract_manager_of_the_demo, contract, exported.encode())
            continue
        summary = import_rate_card(contract_manager_of_the_demo, contract, exported.encode())
        assert not summary.changed_anything, (contract.reference, summary.describe())
        assert export_rate_card(contract) == exported


def test_the_demo_definitions_are_what_the_portal_exports(contract_manager_of_the_demo):
    """The data module and the database agree, row for row (the export sorts items by code)."""
    for demo in demo_contracts(london_today()):
        contract = db.session.scalars(select(Contract).where(Contract.reference == demo.reference)).one()
        expected = rate_card_csv(demo).splitlines()
        exported = export_rate_card(contract).splitlines()
        assert exported[0] == expected[0]
        assert sorted(exported[1:]) == sorted(expected[1:])


def test_demo_password_hashes_are_upgraded_to_the_configured_cost_at_first_sign_in(portal, app):
    load_demo_data(history=False)
    configured = app.config["ARGON2_TIME_COST"]
    app.config["ARGON2_TIME_COST"] = 2  # as if the portal's cost were higher than the demo hashes'
    try:
        assert portal.sign_in("manager@nacro.example", DEMO_PASSWORD).status_code == 302
    finally:
        app.config["ARGON2_TIME_COST"] = configured
    user = db.session.scalars(select(User).where(User.email == "manager@nacro.example")).one()
    assert ",t=2," in user.password_hash


def test_the_contract_manager_sees_the_supply_chain_with_its_contracts(portal):
    load_demo_data(history=False)
    portal.sign_in("contracts@bench-crc.example", DEMO_PASSWORD)
    organisations = text_of(portal.get("/organisations/"))
    assert "Nacro Partner Tier II (subcontract) 2 " in organisations
    assert "Cambridge Women's Resource Centre Partner Tier III (grant) 1 " in organisations
    nacro = text_of(portal.get(portal_link(portal, "Nacro")))
    assert "BENCH-ACC-01 Through the Gate resettlement" in nacro
    contract = db.session.scalars(select(Contract).where(Contract.reference == "BENCH-ACC-01")).one()
    assert f"Active {format_date(contract.start_date)} to {format_date(contract.end_date)}" in nacro
    assert "Sarah Collins manager@nacro.example 01632 960 101" in nacro  # the main contact


def portal_link(portal, name):
    html = portal.get("/organisations/").get_data(as_text=True)
    return re.search(rf'href="(/organisations/\d+)">{re.escape(name)}</a>', html).group(1)
