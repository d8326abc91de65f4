"""A partner manager makes an API token for their case-management system, sees it once, uses it,
then revokes it; the pages on the way pass axe-core."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from portal.accounts.models import User
from tests.browser.conftest import TITLE_SUFFIX, assert_accessible, sign_in

pytestmark = pytest.mark.browser


def test_manager_creates_a_token_sees_it_once_uses_it_and_revokes_it(
    page: Page, live_server: str, nacro_manager: User, nacro_contract
) -> None:
    sign_in(page, live_server, nacro_manager)
    page.get_by_role("banner").get_by_role("link", name="Your account").click()
    page.get_by_role("link", name="Manage your API tokens").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your API tokens")
    page.get_by_role("button", name="Create an API token").click()

    page.get_by_role("button", name="Create token").click()  # no name: the error summary says so
    expect(page).to_have_title(f"Error: Create an API token {TITLE_SUFFIX}")
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter a name for the token")
    assert_accessible(page)

    page.get_by_label("Name").fill("Case management system")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("API token created")
    expect(page).to_have_title(f"API token created {TITLE_SUFFIX}")
    assert_accessible(page)
    secret = page.locator("#api-token").inner_text().strip()
    assert secret.startswith("pp_") and len(secret) == 46

    answer = page.request.get(f"{live_server}/api/v1/contracts", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status == 200 and answer.json()["items"][0]["reference"] == nacro_contract.reference

    page.get_by_role("link", name="Go to your API tokens").click()
    card = page.locator(".govuk-summary-card", has_text="Case management system")
    expect(card).to_contain_text("Active")
    expect(page.locator("main")).not_to_contain_text(secret)  # shown once, never again
    card.get_by_role("link", name="Revoke the token Case management system").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Revoke the token ‘Case management system’?")
    page.get_by_role("button", name="Yes, revoke the token").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("has been revoked")
    expect(page.locator(".govuk-summary-card", has_text="Case management system")).to_contain_text("Revoked")
    assert_accessible(page)

    answer = page.request.get(f"{live_server}/api/v1/contracts", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status == 401
