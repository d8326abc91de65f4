"""A referral's first days, through a real browser: sent by the CRC, risk read, accepted, assigned."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from portal.dates import london_today
from tests.browser.conftest import assert_accessible, sign_in

pytestmark = pytest.mark.browser


def fill_date(page: Page, legend: str, day) -> None:
    group = page.get_by_role("group", name=legend)
    group.get_by_label("Day").fill(str(day.day))
    group.get_by_label("Month").fill(str(day.month))
    group.get_by_label("Year").fill(str(day.year))


def sign_out(page: Page) -> None:
    page.get_by_role("banner").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Partner Portal")


def test_a_custody_referral_with_a_domestic_abuse_flag_is_sent_read_accepted_and_assigned(
    page: Page, live_server: str, ttg_service, referrer, nacro_manager, nacro_caseworker
) -> None:
    today = london_today()

    # The referrer makes the referral, part by part.
    sign_in(page, live_server, referrer)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Referrals").click()
    page.get_by_role("button", name="Make a referral").click()
    page.get_by_role("button", name="Start a new referral").click()

    page.get_by_label("Service").select_option(label="Through the Gate accommodation – Nacro")
    page.get_by_role("button", name="Save and continue").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Who are you referring?")
    page.get_by_label("CRN", exact=True).fill("X765432")
    page.get_by_label("First name").fill("Lee")
    page.get_by_label("Last name").fill("Marsh")
    fill_date(page, "Date of birth", date(today.year - 34, 6, 15))  # not today - 34 years: no 29 February then
    page.get_by_role("group", name="Gender").get_by_label("Male", exact=True).check()
    page.get_by_label("Ethnic group").select_option("white_british")
    page.get_by_role("group", name="Does the person have a disability?").get_by_label("No", exact=True).check()
    assert_accessible(page)
    page.get_by_role("button", name="Save and continue").click()

    page.get_by_label("Custody").check()
    page.get_by_label("Prison", exact=True).select_option("HMP Bedford")
    fill_date(page, "Expected release date", today + timedelta(days=21))
    page.get_by_role("button", name="Save and continue").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Risk information")
    page.get_by_label("Medium risk of serious harm").check()
    page.get_by_label("Domestic abuse").check()
    page.get_by_label("Risk summary").fill("Controlling behaviour towards a former partner, who lives in Bedford.")
    page.get_by_role("button", name="Save and continue").click()

    page.get_by_role("group", name="How complex are the person's needs?").get_by_label("High").check()
    page.get_by_label("Desired outcomes").fill("A tenancy away from the former partner")
    page.get_by_label("Reason for referral and needs").fill("No fixed abode on release.")
    page.get_by_label("RAR days ordered (optional)").fill("10")
    fill_date(page, "Sentence end date", today + timedelta(days=365))
    page.get_by_role("button", name="Save and continue").click()
    # Someone in custody has no RAR days: the form says so beside the field, and nothing is saved.
    expect(page.locator(".govuk-error-summary")).to_contain_text("RAR days are for community orders")
    assert_accessible(page)
    page.get_by_label("RAR days ordered (optional)").fill("")
    page.get_by_role("button", name="Save and continue").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Check your answers before sending the referral")
    assert_accessible(page)
    page.get_by_role("button", name="Send referral").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Referral sent")
    reference = page.locator(".govuk-panel__body strong").inner_text()
    sign_out(page)

    # The partner manager finds it in "New", reads the risk, and cannot accept without saying so.
    sign_in(page, live_server, nacro_manager)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Referrals").click()
    expect(page.get_by_role("link", name="New (1)")).to_be_visible()
    page.get_by_role("link", name=reference).click()
    banner = page.locator(".portal-risk-banner")
    expect(banner).to_contain_text("Medium risk of serious harm")
    expect(banner).to_contain_text("Domestic abuse")
    assert_accessible(page)
    page.get_by_role("button", name="Accept").click()
    page.get_by_label("Caseworker (optional)").select_option(label=f"{nacro_caseworker.name} (Caseworker)")
    page.get_by_role("button", name="Accept referral").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "Confirm you have read the risk information before accepting"
    )
    page.get_by_label("I have read the risk information").check()
    page.get_by_label("Caseworker (optional)").select_option(label=f"{nacro_caseworker.name} (Caseworker)")
    page.get_by_role("button", name="Accept referral").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(f"You accepted referral {reference}")
    sign_out(page)

    # The caseworker sees it in "My cases".
    sign_in(page, live_server, nacro_caseworker)
    page.goto(f"{live_server}/referrals/?tab=mine")
    expect(page.get_by_role("link", name=reference)).to_be_visible()
    sign_out(page)

    # The referrer sees the status change and the timeline.
    sign_in(page, live_server, referrer)
    page.goto(f"{live_server}/referrals/{reference}")
    expect(page.locator(".portal-case-file__identity")).to_contain_text("Accepted")
    page.get_by_role("navigation", name="Case file").get_by_role("link", name="History").click()
    timeline = page.locator(".portal-timeline")
    expect(timeline).to_contain_text(f"Assigned to {nacro_caseworker.name}")
    expect(timeline).to_contain_text(f"Accepted by {nacro_manager.name}, who confirmed reading the risk information")
    expect(timeline).to_contain_text("Referral sent to Nacro for Through the Gate accommodation (ACC-TTG)")
