"""A quarterly service return through a real browser: the partner manager starts it, writes the
narrative and submits; the contract manager returns it with a reason; the partner resubmits; the
contract manager accepts it and downloads the PDF, whose figures match the records counted by hand."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from tests.browser.conftest import assert_accessible, sign_in
from tests.browser.test_referral_journey import sign_out
from tests.helpers import STORY_DAY
from tests.returns import conftest as worked_example
from tests.returns.conftest import EXPECTED_Q3

pytestmark = [pytest.mark.browser, pytest.mark.on_day(STORY_DAY)]  # a worked example set in 2026
quarter = worked_example.quarter  # the worked example's records, counted by hand in EXPECTED_Q3


def write_narrative(page: Page) -> None:
    page.get_by_role("button", name="Write the narrative").click()
    page.get_by_label("Achievements").fill("Four referrals received; two people housed on release.")
    page.get_by_label("Challenges").fill("A caseworker vacancy slowed first contact.")
    page.get_by_label("Case study").fill("A woman in her thirties, homeless on release, now holds a tenancy.")
    page.get_by_role("button", name="Save the narrative").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("The narrative has been saved")


def test_a_quarterly_return_is_submitted_returned_resubmitted_accepted_and_downloaded(
    page: Page,
    live_server: str,
    quarter,
    nacro_manager,
    contract_manager,
) -> None:
    sign_in(page, live_server, nacro_manager)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Service returns").click()
    page.get_by_role("button", name="Start a return").click()
    page.get_by_label("Contract").select_option("BENCH-ACC-01")
    page.get_by_label("Period").select_option("2026-Q3")
    page.get_by_role("button", name="Start the return").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Service return for July to September 2026")
    expect(page.locator('tr[data-figure="received"] td a').first).to_contain_text("4 referrals received")
    assert_accessible(page)

    # Submitting before writing the narrative says what is missing.
    page.get_by_role("button", name="Submit the return").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Enter achievements")
    # The summary takes focus as it starts, which scrolls to it: a click before that may land
    # where the button was (once in a full run, "Write the narrative" was never followed).
    expect(summary).to_be_focused()
    write_narrative(page)
    page.get_by_role("button", name="Submit the return").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("The return has been submitted")
    sign_out(page)

    # The contract manager sends it back with a reason.
    sign_in(page, live_server, contract_manager)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Service returns").click()
    page.get_by_role("link", name="July to September 2026").click()
    page.get_by_role("button", name="Return it for changes").click()
    page.get_by_label("What needs to change?").fill("Say what you are doing about the vacancy.")
    page.get_by_role("button", name="Return for changes").click()
    expect(page.locator(".govuk-tag").first).to_have_text("Returned for changes")
    sign_out(page)

    # The partner reads why, changes the narrative and submits again.
    sign_in(page, live_server, nacro_manager)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Service returns").click()
    page.get_by_role("link", name="July to September 2026").click()
    expect(page.locator(".govuk-inset-text").first).to_contain_text("Say what you are doing about the vacancy.")
    page.get_by_role("button", name="Write the narrative").click()
    page.get_by_label("Staffing (optional)").fill("The vacancy is filled from 1 November.")
    page.get_by_role("button", name="Save the narrative").click()
    page.get_by_role("button", name="Submit the return").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("The return has been submitted")
    sign_out(page)

    # The contract manager accepts it and downloads the PDF.
    sign_in(page, live_server, contract_manager)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Service returns").click()
    page.get_by_role("link", name="July to September 2026").click()
    page.get_by_role("button", name="Accept the return").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("The return has been accepted")
    assert_accessible(page)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the PDF").click()
    data = Path(download_info.value.path()).read_bytes()
    text = "\n".join(p.extract_text() for p in PdfReader(BytesIO(data)).pages)
    lines = [" ".join(line.split()) for line in text.splitlines()]

    def value(label: str) -> str:
        return next(line for line in lines if line.startswith(label + " ")).removeprefix(label + " ").split()[0]

    assert "Accepted" in text and contract_manager.name in text and nacro_manager.name in text
    for label, key in (
        ("Referrals received", "received"),
        ("Attendance rate", "attendance_rate"),
        ("Hours delivered", "hours_delivered"),
        ("Outcomes claimed", "claimed"),
        ("Answered within SLA", "answered_within_sla"),
        ("Caseload at the end", "caseload_end"),
    ):
        assert value(label) == str(EXPECTED_Q3[key]), label
    assert "The vacancy is filled from 1 November." in text
