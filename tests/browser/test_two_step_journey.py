"""A partner manager's first sign-in sets up an authenticator app; the next asks for its code."""

import re

import pyotp
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible
from tests.factories import PASSWORD


@pytest.fixture(autouse=True)
def mfa_required(app, monkeypatch):
    monkeypatch.setitem(app.config, "MFA_REQUIRED", True)


def test_manager_sets_up_two_step_verification_then_signs_in_with_a_code(page, live_server, nacro_manager):
    page.goto(f"{live_server}/sign-in")
    page.locator("#email").fill(nacro_manager.email)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", level=1, name="Set up two-step verification")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    assert_accessible(page)
    secret = page.locator(".portal-secret").inner_text().replace(" ", "")
    page.get_by_label("Code from your authenticator app").fill("000000")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("link", name=re.compile("The code is not right"))).to_be_visible()
    page.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", level=1, name="Your recovery codes")).to_be_visible()
    assert_accessible(page)
    codes = page.locator(".portal-recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("button", name="I have saved my recovery codes").click()
    expect(page.get_by_role("heading", level=1, name=f"Welcome, {nacro_manager.name}")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    page.locator("#email").fill(nacro_manager.email)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1, name="Enter the code from your authenticator app")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Enter the code from your authenticator app").fill(codes[0])
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1, name=f"Welcome, {nacro_manager.name}")).to_be_visible()

    page.goto(f"{live_server}/account")
    expect(page.get_by_text("You have 9 unused recovery codes")).to_be_visible()
    expect(page.get_by_role("cell", name=re.compile("This device"))).to_be_visible()
    assert_accessible(page)
