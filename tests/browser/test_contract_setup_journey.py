"""Setting up a new partner, through a real browser: a contract manager adds the partner, then two
contracts — one with a rate card built item by item, one imported from a CSV file."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import Page, expect

from portal.contracts import service as contracts_service
from portal.contracts.models import Contract, ContractStatus, Unit
from portal.contracts.pricing import price_on
from portal.extensions import db
from portal.organisations.models import Organisation
from tests.browser.conftest import assert_accessible, sign_in
from tests.browser.test_referral_journey import fill_date

pytestmark = pytest.mark.browser

RATE_CARD = (
    "code,service_code,name,pathway,setting,unit,outcome_type,max_units_per_referral,unit_price,effective_from,effective_to\n"
    "MEN-HOUR,MEN-COM,Peer mentoring,attitudes_thinking_behaviour,community,per_hour,,20,32.50,2026-04-01,2026-09-30\n"
    "MEN-HOUR,MEN-COM,Peer mentoring,attitudes_thinking_behaviour,community,per_hour,,20,34.00,2026-10-01,\n"
    "MEN-ETE,MEN-COM,Into work,ete,community,per_outcome,entered_employment,1,400.00,2026-04-01,\n"
)


def flash(page: Page):
    return page.locator(".govuk-notification-banner")


def new_contract(page: Page, reference: str, title: str, tier: str, vat: str, cap: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Contracts").click()
    page.get_by_role("button", name="Add a contract").click()
    page.get_by_label("Reference").fill(reference)
    page.get_by_label("Title").fill(title)
    page.get_by_label("Partner").select_option(label="Hope Street Mentors")
    page.get_by_role("group", name="Tier").get_by_label(tier).check()
    fill_date(page, "Start date", date(2026, 4, 1))
    fill_date(page, "End date", date(2028, 3, 31))
    page.get_by_label("Value cap").fill(cap)
    page.get_by_role("group", name="VAT rate").get_by_label(vat, exact=True).check()
    page.get_by_role("group", name="Counties").get_by_label("Bedfordshire").check()
    page.get_by_role("button", name="Add contract").click()
    expect(flash(page)).to_contain_text(f"Contract {reference} created as a draft")


def test_a_contract_manager_sets_up_a_partner_with_two_contracts_by_pages_and_by_csv(
    page: Page, live_server: str, contract_manager, tmp_path
) -> None:
    sign_in(page, live_server, contract_manager)

    # The partner, with a field left wrong first: the error summary names it and nothing is lost.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Organisations").click()
    page.get_by_role("button", name="Add a partner").click()
    page.get_by_label("Organisation name").fill("Hope Street Mentors")
    page.get_by_role("group", name="Tier").get_by_label("Tier III – grant agreement").check()
    page.get_by_label("Charity number (optional)").fill("1234567")
    page.get_by_label("Address line 1").fill("12 Hope Street")
    page.get_by_label("Town or city").fill("Bedford")
    page.get_by_label("Postcode").fill("MK40 1AA")
    page.get_by_label("Full name").fill("Sam Okafor")
    page.get_by_label("Email address").fill("not-an-email")
    page.get_by_role("button", name="Add partner").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "Enter the main contact's email address in the correct format"
    )
    expect(page.get_by_label("Address line 1")).to_have_value("12 Hope Street")
    assert_accessible(page)
    page.get_by_label("Email address").fill("sam@hopestreet.example")
    page.get_by_role("button", name="Add partner").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hope Street Mentors")

    # The first contract: a grant with a monthly amount, its rate card added item by item.
    new_contract(page, "HSM-GRANT-01", "Women's mentoring grant", "Grant", "0% (exempt)", "60000")
    page.get_by_role("button", name="Add an item").click()
    page.get_by_label("Item code").fill("HSM-FIXED")
    page.get_by_label("Service code").fill("HSM-WOM")
    page.get_by_label("Name", exact=True).fill("Women's mentoring service")
    page.get_by_label("Pathway").select_option(label="Attitudes, thinking and behaviour")
    page.get_by_role("group", name="Setting").get_by_label("Community", exact=True).check()
    page.get_by_role("group", name="How is it billed?").get_by_label("Fixed monthly amount").check()
    page.get_by_role("button", name="Add item").click()
    expect(flash(page)).to_contain_text("Item HSM-FIXED added")
    page.get_by_label("Unit price").fill("2500")
    fill_date(page, "Applies from", date(2026, 4, 1))
    page.get_by_role("button", name="Add price").click()
    expect(flash(page)).to_contain_text("Price added")
    page.goto(f"{live_server}/contracts/HSM-GRANT-01")
    page.get_by_role("button", name="Make active").click()
    page.get_by_role("button", name="Yes, make it active").click()
    expect(flash(page)).to_contain_text("Contract HSM-GRANT-01 is now active")

    # The second: a subcontract whose rate card comes from a CSV file, with a mid-year price change.
    new_contract(page, "HSM-MEN-01", "Peer mentoring", "Subcontract", "20%", "120000")
    page.get_by_role("button", name="Import rate card").click()
    bad = tmp_path / "bad.csv"
    bad.write_text(RATE_CARD.replace("32.50", "-3"), encoding="utf-8")
    page.get_by_label("Rate card file").set_input_files(str(bad))
    page.get_by_role("button", name="Import rate card").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("The rate card was not imported")
    problems = page.get_by_role("table", name="Problems found in bad.csv")
    expect(problems.get_by_role("row").nth(1)).to_contain_text("2")
    expect(problems.get_by_role("row").nth(1)).to_contain_text("unit_price")
    assert_accessible(page)
    good = tmp_path / "rate-card.csv"
    good.write_text(RATE_CARD, encoding="utf-8")
    page.get_by_label("Rate card file").set_input_files(str(good))
    page.get_by_role("button", name="Import rate card").click()
    expect(flash(page)).to_contain_text("Rate card imported from rate-card.csv")
    expect(page.get_by_role("link", name="MEN-HOUR")).to_be_visible()
    assert_accessible(page)

    db.session.expire_all()
    partner = db.session.query(Organisation).filter_by(name="Hope Street Mentors").one()
    contracts = {
        contract.reference: contract for contract in db.session.query(Contract).filter_by(partner_id=partner.id)
    }
    assert set(contracts) == {"HSM-GRANT-01", "HSM-MEN-01"}
    assert contracts["HSM-GRANT-01"].status == ContractStatus.ACTIVE
    assert contracts["HSM-MEN-01"].value_cap_pence == 120_000_00
    items = contracts_service.items_with_prices(contracts["HSM-MEN-01"])
    hours = next(item for item in items if item.unit == Unit.PER_HOUR)
    assert price_on(hours, date(2026, 9, 30)).unit_price_pence == 3250
    assert price_on(hours, date(2026, 10, 1)).unit_price_pence == 3400
