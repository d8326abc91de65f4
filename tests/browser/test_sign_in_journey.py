"""Journeys through a real browser: signing in, inviting a colleague, signing out, and a mistyped password."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page, expect

from portal.accounts.models import User
from portal.accounts.service import SIGN_IN_FAILED
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser


def test_partner_manager_invites_a_caseworker_then_signs_out(page: Page, live_server: str, nacro_manager: User) -> None:
    sign_in(page, live_server, nacro_manager)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Users")
    page.get_by_role("button", name="Invite a user").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Invite a user")
    page.get_by_label("Full name").fill("Casey Newcomer")
    page.get_by_label("Email address").fill("casey.newcomer@nacro.example")
    page.get_by_role("group", name="Role").get_by_label("Caseworker", exact=True).check()
    page.get_by_role("button", name="Send invitation").click()

    banner = page.locator(".govuk-notification-banner--success")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("An invitation has been sent to casey.newcomer@nacro.example.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Casey Newcomer")
    expect(page).to_have_title("Casey Newcomer – Partner Portal")
    expect(summary_value(page, "Email address")).to_have_text("casey.newcomer@nacro.example")
    expect(summary_value(page, "Role")).to_have_text("Caseworker")
    expect(summary_value(page, "Status")).to_have_text("Invited")

    page.get_by_role("banner").get_by_role("button", name="Sign out").click()

    expect(page).to_have_url(f"{live_server}/sign-in")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Partner Portal")
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("You have signed out.")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_wrong_password_shows_the_error_summary_with_the_generic_message(
    page: Page, live_server: str, nacro_caseworker: User
) -> None:
    page.goto(f"{live_server}/sign-in")
    page.locator("#email").fill(nacro_caseworker.email)
    page.locator("#password").fill("not-my-password")
    page.get_by_role("button", name="Sign in").click()

    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()  # GOV.UK Frontend moves focus here so screen readers announce it
    expect(summary.get_by_role("heading")).to_have_text("There is a problem")
    expect(summary.get_by_role("link")).to_have_text(SIGN_IN_FAILED)
    expect(page).to_have_title("Error: Sign in – Partner Portal")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Partner Portal")

    # The summary's link takes the user to the first field to correct.
    summary.get_by_role("link").click()
    expect(page.locator("#email")).to_be_focused()


def summary_value(page: Page, key: str) -> Locator:
    """The value beside `key` in the page's GOV.UK summary list."""
    row = page.locator(".govuk-summary-list__row").filter(has=page.locator("dt", has_text=key))
    return row.locator(".govuk-summary-list__value")
