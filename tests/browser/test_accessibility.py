"""Every page each role can reach passes axe-core with no serious or critical problem, has a
title ending with an en dash and the product name (TITLE_SUFFIX) and exactly one h1.

One test per role: it signs in once and checks each page as a subtest, so a failure names
the role and the path. The pages come from the blueprints' views and portal/navigation.py;
when the navigation grows, the role's test says which page to add.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from portal.accounts.models import Role, User
from portal.db import utcnow
from portal.organisations.models import Organisation
from tests.browser.conftest import TITLE_SUFFIX, assert_accessible, sign_in
from tests.factories import UserFactory
from tests.helpers import Portal

pytestmark = pytest.mark.browser

ENDS_WITH_PRODUCT_NAME = re.compile(re.escape(f" {TITLE_SUFFIX}") + "$")

# Paths name records by the keys of the `everyone` fixture.
PAGES_BY_ROLE: dict[str, list[str]] = {
    "admin": [
        "/",
        "/account",
        "/account/password",
        "/users",
        "/users/new",
        "/users/{nacro_caseworker.id}",
        "/users/{invited_user.id}",
        "/users/{locked_user.id}",
        "/users/{nacro_caseworker.id}/edit",
        "/users/{nacro_caseworker.id}/deactivate",
        "/users/{deactivated_user.id}/reactivate",
        "/organisations/",
        "/organisations/{nacro.id}",
        "/organisations/{crc.id}",
        "/audit/",
        "/audit/?date_from=31/2/2026",
    ],
    "contract_manager": ["/", "/account", "/organisations/", "/organisations/{nacro.id}"],
    "referrer": ["/", "/account", "/organisations/", "/organisations/{nacro.id}"],
    "nacro_manager": [
        "/",
        "/account",
        "/users",
        "/users/new",
        "/users/{nacro_caseworker.id}",
        "/users/{nacro_caseworker.id}/edit",
    ],
    "nacro_caseworker": ["/", "/account", "/account/password"],
}
SIGNED_OUT_PAGES = [("/sign-in", 200), ("/forgot-password", 200), ("/accessibility", 200), ("/no-such-page", 404)]


@pytest.fixture
def everyone(
    crc: Organisation,
    nacro: Organisation,
    st_giles: Organisation,
    admin: User,
    contract_manager: User,
    referrer: User,
    nacro_manager: User,
    nacro_caseworker: User,
    st_giles_manager: User,
    st_giles_caseworker: User,
) -> dict[str, Any]:
    """A CRC and two partners with someone in every role, and users in every status a tag shows."""
    return {
        "crc": crc,
        "nacro": nacro,
        "admin": admin,
        "contract_manager": contract_manager,
        "referrer": referrer,
        "nacro_manager": nacro_manager,
        "nacro_caseworker": nacro_caseworker,
        "invited_user": UserFactory(
            email="invited@nacro.example", name="Ivy Invited", organisation=nacro, invited=True
        ),
        "deactivated_user": UserFactory(
            email="gone@nacro.example", name="Dee Activated", organisation=nacro, active=False
        ),
        "locked_user": UserFactory(
            email="locked@stgiles.example",
            name="Lou Locked",
            organisation=st_giles,
            role=Role.PROVIDER_MANAGER,
            locked_until=utcnow() + timedelta(minutes=15),
        ),
    }


def visit(page: Page, url: str, status: int, where: str) -> None:
    response = page.goto(url)
    assert response is not None, f"{where}: no response"
    assert response.status == status, f"{where}: HTTP {response.status}, expected {status}"


def check_page(page: Page, where: str) -> None:
    """The page's title names the product, it has one h1, and axe-core finds nothing serious."""
    expect(page, f"{where}: the title should end with '{TITLE_SUFFIX}'").to_have_title(ENDS_WITH_PRODUCT_NAME)
    expect(page.locator("h1"), f"{where}: the page should have exactly one h1").to_have_count(1)
    assert_accessible(page)


def test_signed_out_pages_are_accessible(page: Page, live_server: str, subtests: pytest.Subtests) -> None:
    for path, status in SIGNED_OUT_PAGES:
        with subtests.test(msg=f"signed out {path}"):
            visit(page, f"{live_server}{path}", status, f"signed out {path}")
            check_page(page, f"signed out {path}")

    with subtests.test(msg="signed out /sign-in with an empty form submitted"):
        page.goto(f"{live_server}/sign-in")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator(".govuk-error-summary")).to_be_visible()
        expect(page).to_have_title(f"Error: Sign in {TITLE_SUFFIX}")
        check_page(page, "signed out /sign-in (errors)")


@pytest.mark.parametrize("role", PAGES_BY_ROLE)
def test_every_page_a_role_can_reach_is_accessible(
    page: Page, live_server: str, app: Flask, everyone: dict[str, Any], subtests: pytest.Subtests, role: str
) -> None:
    if role == "admin":
        _make_audit_events(app)
    sign_in(page, live_server, everyone[role])

    with subtests.test(msg=f"{role}: every service navigation entry is checked"):
        links = page.locator(".govuk-service-navigation a").evaluate_all("links => links.map(a => a.pathname)")
        unchecked = set(links) - set(PAGES_BY_ROLE[role])
        assert links and not unchecked, f"add the pages {role} can reach to PAGES_BY_ROLE: {sorted(unchecked)}"

    for path in PAGES_BY_ROLE[role]:
        where = f"{role} {path}"
        with subtests.test(msg=where):
            visit(page, f"{live_server}{path.format(**everyone)}", 200, where)
            if path.startswith("/audit/?"):
                expect(page.locator(".govuk-error-summary"), f"{where}: invalid date error").to_be_visible()
            elif path.startswith("/audit/"):
                expect(page.locator("table.govuk-table tbody tr").first, f"{where}: audit events").to_be_visible()
            check_page(page, where)


def test_the_accessibility_check_reports_what_it_finds(page: Page, live_server: str) -> None:
    """The harness itself: a broken page fails, naming the rule, its impact and the element."""
    page.goto(f"{live_server}/accessibility")
    page.evaluate("""() => {
        const image = document.createElement('img');
        image.id = 'unlabelled-image';
        image.src = '/static/dist/assets/images/favicon.svg';
        document.querySelector('main').append(image);
    }""")
    with pytest.raises(AssertionError) as failure:
        assert_accessible(page)
    message = str(failure.value)
    assert "image-alt (critical)" in message
    assert "#unlabelled-image" in message


def _make_audit_events(app: Flask) -> None:
    """Some sign-ins and sign-outs, and a failed sign-in, so the audit log has rows to show."""
    visitor = Portal(app.test_client())
    visitor.sign_in("manager@nacro.example")
    visitor.sign_out()
    Portal(app.test_client()).sign_in("caseworker@nacro.example", password="not-the-password")
