"""A case file printed from the browser: the record, without the portal around it (header,
navigation, buttons and forms), and the risk banner kept whole."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in
from tests.factories import ReferralFactory

pytestmark = pytest.mark.browser


def test_a_printed_case_file_holds_the_record_and_not_the_portal(
    page: Page, live_server, ttg_service, nacro_caseworker
):
    referral = ReferralFactory(
        contract=ttg_service, service_code="ACC-TTG", in_progress=True, caseworker=nacro_caseworker
    )
    sign_in(page, live_server, nacro_caseworker)
    page.goto(f"{live_server}/referrals/{referral.reference}")
    header = page.locator(".portal-header")
    expect(header).to_be_visible()
    page.emulate_media(media="print")
    expect(header).to_be_hidden()
    expect(page.locator(".govuk-footer")).to_be_hidden()
    expect(page.locator(".moj-sub-navigation")).to_be_hidden()
    for form in page.locator("form").all():
        expect(form).to_be_hidden()
    expect(page.get_by_text(referral.reference).first).to_be_visible()
    assert page.pdf().startswith(b"%PDF")
