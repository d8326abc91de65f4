"""A caseworker's week, through a real browser: a group session, RAR-day sessions, an outcome with
evidence the referrer verifies, and the end-of-service report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from portal.contracts.models import Unit
from portal.dates import london_today
from portal.extensions import db
from portal.referrals.models import ReferralStatus
from tests.browser.conftest import assert_accessible, sign_in
from tests.browser.test_referral_journey import fill_date, sign_out
from tests.factories import OutcomeTypeFactory, PersonFactory, RateCardItemFactory, ReferralFactory

pytestmark = pytest.mark.browser

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture
def caseload(ttg_service, referrer, nacro_caseworker, app, observer_app, tmp_path):
    app.config["STORAGE_DIR"] = observer_app.config["STORAGE_DIR"] = tmp_path
    accepted_at = datetime.now(UTC) - timedelta(days=10)
    people = [("Ava", "Ashdown"), ("Ben", "Bright"), ("Cal", "Crane")]
    referrals = [
        ReferralFactory(
            reference=f"DJ{n}000AA",
            contract=ttg_service,
            service_code="ACC-TTG",
            referrer=referrer,
            status=ReferralStatus.ACCEPTED,
            accepted_at=accepted_at,
            caseworker=nacro_caseworker,
            rar_days=2,
            desired_outcomes=["Find settled accommodation"],
            person=PersonFactory(given_name=given, family_name=family),
        )
        for n, (given, family) in enumerate(people)
    ]
    first_night = OutcomeTypeFactory(
        contract=ttg_service, code="accommodation_secured_first_night", name="Accommodation on the first night"
    )
    # The service prices the outcome, so the claim form offers it.
    RateCardItemFactory(
        contract=ttg_service,
        code="ACC-TTG-NIGHT",
        service_code="ACC-TTG",
        unit=Unit.PER_OUTCOME,
        outcome_type=first_night,
    )
    db.session.commit()
    return referrals


def record_one_to_one(page: Page, live_server: str, reference: str, day) -> None:
    page.goto(f"{live_server}/referrals/{reference}")
    page.get_by_role("button", name="Record a session").click()
    fill_date(page, "Date", day)
    page.get_by_label("Start time").fill("10:00")
    page.get_by_label("Length in minutes").fill("60")
    page.get_by_label("One-to-one").check()
    page.get_by_role("group", name="Attendance").get_by_label("Attended", exact=True).check()
    page.get_by_label("This session counts as a RAR day").check()
    page.get_by_role("button", name="Save session").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("The session has been saved")


def test_a_caseworkers_week_from_group_session_to_end_of_service(
    page: Page, live_server: str, caseload, ttg_service, nacro_caseworker, referrer
) -> None:
    today = london_today()
    ava, _ben, cal = caseload
    sign_in(page, live_server, nacro_caseworker)

    # A group session for all three: Cal did not come, and it was unacceptable.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My sessions").click()
    page.get_by_role("button", name="Record a group session").click()
    page.get_by_role("link", name=f"{ttg_service.reference}: {ttg_service.title}").click()
    page.get_by_label("Title").fill("Tenancy skills")
    page.get_by_label("Facilitator").fill(nacro_caseworker.name)
    fill_date(page, "Date", today - timedelta(days=3))
    page.get_by_label("Start time").fill("13:00")
    page.get_by_label("Length in minutes").fill("120")
    page.get_by_label("Attendance of Ava Ashdown").select_option("attended")
    page.get_by_label("Attendance of Ben Bright").select_option("attended")
    page.get_by_label("Attendance of Cal Crane").select_option("did_not_attend")
    page.get_by_label("Why Cal Crane missed it").select_option("unacceptable")
    assert_accessible(page)
    page.get_by_role("button", name="Save group session").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("saved for 3 people")

    # Two one-to-one sessions for Ava, each a RAR day.
    record_one_to_one(page, live_server, ava.reference, today - timedelta(days=2))
    record_one_to_one(page, live_server, ava.reference, today - timedelta(days=1))
    expect(page.get_by_text("2 of 2 RAR days delivered")).to_be_visible()

    # An outcome with a PDF as evidence.
    page.get_by_role("button", name="Claim an outcome").click()
    page.get_by_label("Outcome", exact=True).select_option(label="Accommodation on the first night (Accommodation)")
    fill_date(page, "Date achieved", today - timedelta(days=1))
    page.get_by_label("Evidence", exact=True).fill("Licence agreement for supported housing, signed.")
    page.get_by_label("Evidence files (optional)").set_input_files(
        [{"name": "licence.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    page.get_by_role("button", name="Claim outcome").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("The outcome has been claimed")
    expect(page.get_by_role("link", name="licence.pdf")).to_be_visible()
    sign_out(page)

    # The referrer sees the alert about Cal, and verifies Ava's outcome.
    sign_in(page, live_server, referrer)
    page.get_by_role("link", name="1 alert to acknowledge").click()
    expect(page.get_by_role("heading", level=1, name="Alerts")).to_be_visible()
    expect(page.get_by_text(cal.reference, exact=True)).to_be_visible()
    assert_accessible(page)
    page.goto(f"{live_server}/")
    page.get_by_role("link", name="1 outcome claim to verify or reject").click()
    page.locator(f'a[href="/referrals/{ava.reference}/outcomes"]').click()
    assert_accessible(page)
    page.get_by_role("button", name="Verify Accommodation on the first night").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("The outcome has been verified")
    sign_out(page)

    # The caseworker completes the end-of-service report.
    sign_in(page, live_server, nacro_caseworker)
    page.goto(f"{live_server}/referrals/{ava.reference}")
    page.get_by_role("button", name="Complete the referral").click()
    page.get_by_label("Achieved", exact=True).check()
    page.get_by_label("Summary of the work").fill("Housed in supported accommodation; engaging well.")
    assert_accessible(page)
    page.get_by_role("button", name="Submit report and complete the referral").click()
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(f"Referral {ava.reference} is complete")
    expect(page.locator(".portal-case-file__identity")).to_contain_text("Completed")
