"""Every page each role can reach passes axe-core with no serious or critical problem, has a
title ending with an en dash and the product name (TITLE_SUFFIX) and exactly one h1.

One test per role: it signs in once and checks each page as a subtest, so a failure names
the role and the path. The pages come from the blueprints' views and portal/navigation.py;
when the navigation grows, the role's test says which page to add.
"""

from __future__ import annotations

import os
import re
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.accounts.models import Role, User
from portal.accounts.tokens import create_token
from portal.contracts.models import Contract, ContractStatus, Pathway, Unit
from portal.dates import Period, PeriodKind, london_today
from portal.db import utcnow
from portal.delivery.models import AlertKind, GroupSession, SessionKind
from portal.extensions import db
from portal.organisations.models import Organisation
from portal.referrals.models import ColourBand, LocationType, ReferralStatus
from tests.browser.conftest import TITLE_SUFFIX, assert_accessible, sign_in
from tests.factories import (
    AlertFactory,
    ContractFactory,
    OutcomeFactory,
    OutcomeTypeFactory,
    RateCardItemFactory,
    RateCardPriceFactory,
    ReferralFactory,
    ServiceReturnFactory,
    SessionFactory,
    UserFactory,
)
from tests.helpers import Portal

pytestmark = pytest.mark.browser

ENDS_WITH_PRODUCT_NAME = re.compile(re.escape(f" {TITLE_SUFFIX}") + "$")

# Paths name records by the keys of the `everyone` fixture.
CONTRACT_PAGES = [
    "/contracts/",
    "/contracts/{nacro_contract.reference}",
    "/contracts/{nacro_contract.reference}/items/{referral_fee.code}",
    "/contracts/{nacro_contract.reference}/outcome-types",
    "/contracts/{nacro_contract.reference}/services",
]
# The service directory, for those who refer.
SERVICE_DIRECTORY_PAGES = ["/services/", "/services/?q=accommodation&setting=custody&pathway=accommodation"]
# Counties, prisons and probation offices, which administrators keep.
PLACE_PAGES = [
    "/places/",
    "/places/new?kind=counties",
    "/places/new?kind=probation-offices",
    "/places/prisons/{prison.id}/edit",
    "/places/probation-offices/{office.id}/edit",
    "/places/import",
]
CONTRACT_MANAGER_PAGES = [
    "/contracts/?status=draft",
    "/contracts/new",
    "/contracts/{draft_contract.reference}",
    "/contracts/{nacro_contract.reference}/edit",
    "/contracts/{draft_contract.reference}/activate",
    "/contracts/{nacro_contract.reference}/end",
    "/contracts/{nacro_contract.reference}/outcome-types/{housed.id}/edit",
    "/contracts/{nacro_contract.reference}/items/new",
    "/contracts/{nacro_contract.reference}/items/{referral_fee.code}/edit",
    "/contracts/{nacro_contract.reference}/items/{referral_fee.code}/prices/new",
    "/contracts/{nacro_contract.reference}/items/{referral_fee.code}/prices/{fee_price.id}/edit",
    "/contracts/{nacro_contract.reference}/items/{referral_fee.code}/prices/{fee_price.id}/end",
    "/contracts/{nacro_contract.reference}/items/{referral_fee.code}/prices/{fee_price.id}/delete",
    "/contracts/{nacro_contract.reference}/rate-card/import",
    "/contracts/{nacro_contract.reference}/services/new",
    "/contracts/{nacro_contract.reference}/services/ACC-TTG/edit",
]
REFERRAL_PAGES = [
    "/referrals/",
    "/referrals/?tab=open&overdue=yes",
    "/referrals/{referral.reference}",
    "/referrals/{referral.reference}/sessions",
    "/referrals/{referral.reference}/outcomes",
    "/referrals/{referral.reference}/notes",
    "/referrals/{referral.reference}/history",
    "/referrals/{sent_referral.reference}",
    "/referrals/{referral.reference}/safeguarding",
    "/referrals/{referral.reference}/risk",
    "/referrals/{referral.reference}/release",
    "/safeguarding/",
    "/safeguarding/?status=all&mine=yes",
    "/referrals/{referral.reference}/plan",
    "/plans/reviews/{review.id}",
]
# Plans and reviews waiting for each side (the partner's and the referrer's queues).
PLAN_QUEUE_PAGES = ["/plans/", "/plans/?mine=yes"]
# The queues of delivery work: claims and alerts, for both sides.
QUEUE_PAGES = ["/outcomes/", "/outcomes/?status=&mine=no", "/alerts/"]
REFERRER_PAGES = [
    "/referrals/?tab=drafts",
    "/referrals/new",
    "/referrals/drafts/{draft.id}/service",
    "/referrals/drafts/{draft.id}/person",
    "/referrals/drafts/{draft.id}/person?crn=X999999",
    "/referrals/drafts/{draft.id}/location",
    "/referrals/drafts/{draft.id}/risk",
    "/referrals/drafts/{draft.id}/needs",
    "/referrals/drafts/{draft.id}/check",
    "/referrals/{sent_referral.reference}/withdraw",
    "/referrals/{referral.reference}/amend",
    "/referrals/import",
    "/referrals/{referral.reference}/outcomes/{outcome.id}/reject",
    "/safeguarding/referrals/{referral.reference}/risk",
    "/safeguarding/{concern.id}/close",
    "/through-the-gate/referrals/{referral.reference}/release",
    "/plans/{plan.id}/request-changes",
    *PLAN_QUEUE_PAGES,
]
PARTNER_MANAGER_PAGES = [
    "/referrals/{sent_referral.reference}/accept",
    "/referrals/{sent_referral.reference}/decline",
    "/referrals/{referral.reference}/assign",
    *PLAN_QUEUE_PAGES,
]
DELIVERY_PAGES = [
    "/my-sessions",
    "/referrals/{referral.reference}/sessions/new",
    "/referrals/{referral.reference}/sessions/{session.id}/edit",
    "/referrals/{referral.reference}/sessions/{future_session.id}/reschedule",
    "/referrals/{referral.reference}/sessions/{session.id}/delete",
    "/referrals/{referral.reference}/sessions/{session.id}/correction",
    "/referrals/{referral.reference}/outcomes/new",
    "/referrals/{referral.reference}/outcomes/{outcome.id}/edit",
    "/referrals/{referral.reference}/complete",
    "/group-sessions/new",
    "/group-sessions/new?contract={nacro_contract.reference}",
    "/group-sessions/{group.id}",
    "/group-sessions/{group.id}/edit",
    "/safeguarding/referrals/{referral.reference}/new",
    "/through-the-gate/referrals/{referral.reference}/release",
    "/plans/referrals/{referral.reference}",
    "/plans/referrals/{referral.reference}/review",
    *PLAN_QUEUE_PAGES,
]

# Everyone may make API tokens: their list and the form (the shown-once page is in test_api_tokens_journey).
API_TOKEN_PAGES = ["/account/api-tokens", "/account/api-tokens/new", "/account/emails"]

RETURN_PAGES = [
    "/dashboard/",
    "/dashboard/?view=contracts",
    "/dashboard/?view=figures",
    "/dashboard/?view=charts",
    "/dashboard/?view=equality",
    "/dashboard/?view=export",
    "/dashboard/?period=2026-Q3&pathway=accommodation",
    "/service-returns/",
    "/service-returns/{service_return.id}",
    "/service-returns/{submitted_return.id}",
]
PARTNER_RETURN_PAGES = ["/service-returns/new", "/service-returns/{service_return.id}/narrative"]
CONTRACT_MANAGER_RETURN_PAGES = ["/service-returns/{submitted_return.id}/return", "/service-returns/bulk"]

PAGES_BY_ROLE: dict[str, list[str]] = {
    "admin": [
        "/",
        "/account",
        "/account/password",
        "/people/",
        "/people/?crn=X999999",
        "/people/{referral.person_id}",
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
        "/safeguarding/",
        "/safeguarding/team-managers",
        "/safeguarding/team-managers/{referrer.id}",
        *PLACE_PAGES,
        *CONTRACT_PAGES,
        *API_TOKEN_PAGES,
    ],
    "contract_manager": [
        "/",
        "/account",
        "/organisations/",
        "/organisations/{nacro.id}",
        "/organisations/new",
        "/organisations/{nacro.id}/edit",
        *CONTRACT_PAGES,
        *CONTRACT_MANAGER_PAGES,
        *SERVICE_DIRECTORY_PAGES,
        *REFERRAL_PAGES,
        "/referrals/import",
        "/invoices/",
        *QUEUE_PAGES,
        *API_TOKEN_PAGES,
        *RETURN_PAGES,
        *CONTRACT_MANAGER_RETURN_PAGES,
    ],
    "referrer": [
        "/",
        "/account",
        "/organisations/",
        "/organisations/{nacro.id}",
        *CONTRACT_PAGES,
        *REFERRAL_PAGES,
        *REFERRER_PAGES,
        *SERVICE_DIRECTORY_PAGES,
        *QUEUE_PAGES,
        *API_TOKEN_PAGES,
    ],
    "nacro_manager": [
        "/",
        "/account",
        "/users",
        "/users/new",
        "/users/{nacro_caseworker.id}",
        "/users/{nacro_caseworker.id}/edit",
        *CONTRACT_PAGES,
        *REFERRAL_PAGES,
        *PARTNER_MANAGER_PAGES,
        "/my-sessions",
        "/invoices/",
        *API_TOKEN_PAGES,
        *RETURN_PAGES,
        *PARTNER_RETURN_PAGES,
    ],
    "nacro_caseworker": [
        "/",
        "/account",
        "/account/password",
        "/account/two-step-verification",
        *CONTRACT_PAGES,
        *REFERRAL_PAGES,
        "/referrals/?tab=mine",
        *DELIVERY_PAGES,
        *QUEUE_PAGES,
        *API_TOKEN_PAGES,
        "/account/api-tokens/{caseworker_token.id}/revoke",
    ],
}
SIGNED_OUT_PAGES = [
    ("/sign-in", 200),
    ("/forgot-password", 200),
    ("/accessibility", 200),
    ("/privacy", 200),
    ("/no-such-page", 404),
    ("/api/docs", 200),
]

# This month is invoiced early (before its last working day) only with a reason.
EARLY_REASON = "Invoiced as the work is done, by agreement"


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
    nacro_contract: Contract,
) -> dict[str, Any]:
    """A CRC and two partners with someone in every role, and users in every status a tag shows;
    a contract with a rate card (current and future prices, an outcome payment, an unpriced grant)
    and a draft contract."""
    today = london_today()
    housed = OutcomeTypeFactory(
        contract=nacro_contract, code="accommodation_secured_first_night", name="Accommodation secured on release"
    )
    referral_fee = RateCardItemFactory(
        contract=nacro_contract,
        code="ACC-TTG-REF",
        service_code="ACC-TTG",
        name="Through the Gate referral fee",
        unit=Unit.PER_REFERRAL,
        max_units_per_referral=1,
    )
    fee_price = RateCardPriceFactory(
        item=referral_fee,
        unit_price_pence=12_500,
        effective_from=today - timedelta(days=100),
        effective_to=today + timedelta(days=29),
    )
    RateCardPriceFactory(item=referral_fee, unit_price_pence=13_000, effective_from=today + timedelta(days=30))
    outcome_payment = RateCardItemFactory(
        contract=nacro_contract,
        code="ACC-TTG-OUT",
        service_code="ACC-TTG",
        name="Accommodation outcome payment",
        unit=Unit.PER_OUTCOME,
        outcome_type=housed,
    )
    RateCardPriceFactory(item=outcome_payment, unit_price_pence=30_000, effective_from=today - timedelta(days=100))
    RateCardItemFactory(
        contract=nacro_contract,
        code="WOM-GRANT",
        service_code="WOM",
        name="Women's centre grant",
        pathway=Pathway.WOMEN_ABUSE,
        unit=Unit.MONTHLY_FIXED,
        active=False,
    )
    accepted_at = utcnow() - timedelta(days=7)
    referral = ReferralFactory(
        reference="AC2345DE",
        contract=nacro_contract,
        service_code="ACC-TTG",
        referrer=referrer,
        status=ReferralStatus.IN_PROGRESS,
        accepted_at=accepted_at,
        caseworker=nacro_caseworker,
        rar_days=5,
        colour_band=ColourBand.YELLOW,
        location_type=LocationType.CUSTODY,
        prison="HMP Bedford",
        expected_release_date=today + timedelta(days=9),
    )
    session = SessionFactory(
        referral=referral,
        date=today - timedelta(days=2),
        missed=True,
        recorded_by=nacro_caseworker,
    )
    future_session = SessionFactory(
        referral=referral,
        date=today + timedelta(days=3),
        start_time=time(14),
        kind=SessionKind.VIDEO,
        attendance=None,
        feedback_at=None,
        recorded_by=nacro_caseworker,
    )
    outcome = OutcomeFactory(
        referral=referral,
        outcome_type=housed,
        achieved_on=today - timedelta(days=1),
        evidence="Licence agreement seen.",
        claimed_by=nacro_caseworker,
    )
    group = GroupSession(
        contract_id=nacro_contract.id,
        title="Tenancy skills",
        facilitator="Cas Worker",
        date=today - timedelta(days=3),
        start_time=time(13),
        duration_minutes=120,
        created_by_id=nacro_caseworker.id,
    )
    db.session.add(group)
    db.session.flush()
    SessionFactory(
        referral=referral,
        group_session_id=group.id,
        date=group.date,
        start_time=group.start_time,
        duration_minutes=group.duration_minutes,
        kind=SessionKind.GROUP,
        recorded_by=nacro_caseworker,
    )
    AlertFactory(session=session, kind=AlertKind.UNACCEPTABLE_ABSENCE, detail="Did not attend")
    # Last quarter's return is a draft; the one before was submitted (its figures frozen).
    last_quarter = Period(PeriodKind.QUARTER, date(today.year, (today.month - 1) // 3 * 3 + 1, 1)).previous()
    quarter_before = last_quarter.previous()
    service_return = ServiceReturnFactory(
        contract=nacro_contract,
        period_kind=PeriodKind.QUARTER,
        period_start=last_quarter.start,
        period_end=last_quarter.end,
        created_by=nacro_manager,
    )
    submitted_return = ServiceReturnFactory(
        contract=nacro_contract,
        period_kind=PeriodKind.QUARTER,
        period_start=quarter_before.start,
        period_end=quarter_before.end,
        created_by=nacro_manager,
        submitted=True,
    )
    from portal.safeguarding.risk import record_risk_summary
    from portal.safeguarding.service import acknowledge_concern, raise_concern

    record_risk_summary(
        referrer,
        referral,
        {
            "at_risk": ["partner_or_ex_partner", "children"],
            "nature": "Violent towards a former partner; two children at her address.",
            "police_da_check": "information_shared",
            "police_da_check_on": today - timedelta(days=20),
            "iom": True,
            "lone_working_restrictions": "No home visits.",
        },
    )
    concern = raise_concern(
        nacro_caseworker,
        referral,
        {"category": "domestic_abuse", "urgency": "urgent", "what_happened": "Threats about an ex-partner."},
    )
    acknowledge_concern(referrer, concern)
    from portal.places.models import Prison, ProbationOffice
    from portal.plans.models import ProgressReview, ReviewKind
    from portal.plans.service import request_changes, save_plan

    activity = {"description": "Housing advice", "sessions": 4, "frequency": "weekly"}
    plan = save_plan(
        nacro_caseworker,
        referral,
        activities=[{**activity, "desired_outcome": referral.desired_outcomes[0]}],
        submit=True,
    )
    request_changes(referrer, plan, reason="Add the work towards employment.")
    review = ProgressReview(
        referral_id=referral.id,
        number=1,
        kind=ReviewKind.TWELVE_WEEK,
        due_on=today,
        next_due_on=today + timedelta(weeks=12),
        attendance={"attended": 3, "late": 0, "did_not_attend": 1, "not_held": 0, "planned": None},
        outcomes=[{"desired_outcome": referral.desired_outcomes[0], "progress": "some_progress", "comment": "Bids."}],
        risk_observations="None seen.",
        submitted_at=utcnow(),
        submitted_by_id=nacro_caseworker.id,
    )
    db.session.add(review)
    db.session.commit()

    return {
        "plan": plan,
        "review": review,
        "concern": concern,
        "prison": db.session.scalars(select(Prison).where(Prison.crc_id == crc.id)).first(),
        "office": db.session.scalars(select(ProbationOffice).where(ProbationOffice.crc_id == crc.id)).first(),
        "service_return": service_return,
        "submitted_return": submitted_return,
        "referral": referral,
        "sent_referral": ReferralFactory(
            reference="SN2345DE",
            contract=nacro_contract,
            service_code="ACC-TTG",
            referrer=referrer,
            accept_due_on=today - timedelta(days=1),
        ),
        "draft": ReferralFactory(
            reference=None, status=ReferralStatus.DRAFT, contract=nacro_contract, referrer=referrer, sent_at=None
        ),
        "session": session,
        "future_session": future_session,
        "group": group,
        "outcome": outcome,
        "nacro_contract": nacro_contract,
        "draft_contract": ContractFactory(
            reference="BENCH-MEN-03", title="Peer mentoring", crc=crc, partner=nacro, status=ContractStatus.DRAFT
        ),
        "housed": housed,
        "referral_fee": referral_fee,
        "fee_price": fee_price,
        "crc": crc,
        "nacro": nacro,
        "admin": admin,
        "contract_manager": contract_manager,
        "referrer": referrer,
        "nacro_manager": nacro_manager,
        "nacro_caseworker": nacro_caseworker,
        # A token to list, revoke, and show on the administrator's page for the caseworker.
        "caseworker_token": create_token(None, nacro_caseworker, name="Case management system").token,
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


def shoot(page: Page, name: str) -> None:
    """A full-page screenshot into $A11Y_SCREENSHOTS/<name>.png, when that is set: to look at a
    form as a person sees it (axe-core cannot tell that a page looks wrong)."""
    folder = os.environ.get("A11Y_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


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


PHONE = {"width": 375, "height": 800}


def check_fits_a_phone(page: Page, where: str) -> None:
    """Nothing scrolls sideways at 375 px (wide tables stack into rows), and axe-core still finds
    nothing serious there (the stacked tables keep their roles)."""
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        wide = page.evaluate(WIDEST)
        raise AssertionError(f"{where}: the page is {overflow}px wider than the phone; too wide: {wide}")
    assert_accessible(page)


# The innermost elements that stick out past the right edge: what makes a page scroll sideways.
WIDEST = """() => [...document.querySelectorAll('body *')]
  .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1
    && ![...el.children].some(child => child.getBoundingClientRect().right > window.innerWidth + 1))
  .slice(0, 5)
  .map(el => el.tagName.toLowerCase() + '.' + el.className + ': ' + (el.textContent || '').trim().slice(0, 40))"""


def test_the_signed_out_pages_fit_a_375_pixel_phone(page: Page, live_server: str, subtests: pytest.Subtests) -> None:
    page.set_viewport_size(PHONE)
    for path, status in SIGNED_OUT_PAGES:
        where = f"signed out at 375px {path}"
        with subtests.test(msg=where):
            visit(page, f"{live_server}{path}", status, where)
            check_fits_a_phone(page, where)


@pytest.mark.parametrize("role", PAGES_BY_ROLE)
def test_every_page_a_role_can_reach_fits_a_375_pixel_phone(
    page: Page, live_server: str, everyone: dict[str, Any], subtests: pytest.Subtests, role: str
) -> None:
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, everyone[role])
    for path in PAGES_BY_ROLE[role]:
        where = f"{role} at 375px {path}"
        with subtests.test(msg=where):
            visit(page, f"{live_server}{path.format(**everyone)}", 200, where)
            check_fits_a_phone(page, where)


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


BAD_RATE_CARD = (
    "code,service_code,name,pathway,setting,unit,outcome_type,max_units_per_referral,"
    "unit_price,effective_from,effective_to\n"
    "BAD-PATH,SVC,Bad pathway,housing,both,per_session,,,10.00,2026-04-01,\n"
    "BAD-PRICE,SVC,Negative price,health,both,per_session,,,-5.00,2026-04-01,\n"
    "NO-OUTCOME,SVC,Outcome without a type,health,both,per_outcome,,,10.00,2026-04-01,\n"
)


def test_contract_forms_showing_errors_are_accessible(
    page: Page, live_server: str, everyone: dict[str, Any], subtests: pytest.Subtests
) -> None:
    """The contract manager's forms as they look after a mistake: error summary, messages by the fields."""
    sign_in(page, live_server, everyone["contract_manager"])
    contract = everyone["nacro_contract"].reference

    with subtests.test(msg="an empty new contract"):
        page.goto(f"{live_server}/contracts/new")
        page.get_by_role("button", name="Add contract").click()
        expect(page.locator(".govuk-error-summary")).to_be_visible()
        expect(page).to_have_title(f"Error: Add a contract {TITLE_SUFFIX}")
        check_page(page, "new contract (errors)")

    with subtests.test(msg="an overlapping price"):
        page.goto(f"{live_server}/contracts/{contract}/items/ACC-TTG-REF/prices/new")
        page.get_by_label("Unit price").fill("140")
        page.locator("#effective_from-day").fill("1")
        page.locator("#effective_from-month").fill("1")
        page.locator("#effective_from-year").fill("2020")
        page.get_by_role("button", name="Add price").click()
        expect(page.locator(".govuk-error-summary")).to_contain_text("This price overlaps the price from")
        check_page(page, "new price (errors)")

    with subtests.test(msg="a rate card file with errors"):
        page.goto(f"{live_server}/contracts/{contract}/rate-card/import")
        page.get_by_label("Rate card file").set_input_files(
            files=[{"name": "broken.csv", "mimeType": "text/csv", "buffer": BAD_RATE_CARD.encode()}]
        )
        page.get_by_role("button", name="Import rate card").click()
        expect(page.get_by_role("heading", name="3 problems in broken.csv")).to_be_visible()
        check_page(page, "rate card import (errors)")


# --- invoices (issue 6) ------------------------------------------------------------------------------

INVOICE_PAGES = [
    "/invoices/{submitted.id}",
    "/invoices/{submitted.id}/lines/{submitted_line.id}",
    "/invoices/{approved.id}",
    "/invoices/{credit_note.id}",
    "/invoices/{draft.id}",
]
INVOICE_PAGES_BY_ROLE: dict[str, list[str]] = {
    "nacro_manager": [
        "/invoices/",
        "/invoices/?status=submitted",
        "/invoices/new",
        *INVOICE_PAGES,
        "/invoices/{approved.id}/credit-note",
    ],
    "contract_manager": [
        "/invoices/",
        "/invoices/?overdue=yes",
        "/invoices/queue",
        *INVOICE_PAGES,
        "/invoices/{submitted.id}/query",
        "/invoices/{submitted.id}/reject",
        "/invoices/{approved.id}/mark-paid",
        "/invoices/{approved.id}/credit-note",
    ],
    "nacro_caseworker": ["/invoices/", *INVOICE_PAGES],
}


@pytest.fixture
def invoices(everyone: dict[str, Any]) -> dict[str, Any]:
    """Nacro's invoices in every state a page shows: submitted (overdue), approved with a credit
    note, and a draft that takes spend past the contract's cap."""
    from portal.invoicing import service
    from portal.invoicing.models import InvoiceLine

    contract, manager = everyone["nacro_contract"], everyone["nacro_manager"]
    month = london_today().strftime("%Y-%m")

    def accepted_referral(reference: str) -> None:
        ReferralFactory(
            reference=reference,
            contract=contract,
            service_code="ACC-TTG",
            referrer=everyone["referrer"],
            status=ReferralStatus.ACCEPTED,
            accepted_at=utcnow() - timedelta(days=1),
        )

    submitted = service.submit_invoice(
        manager, service.generate_draft(manager, contract, month, early_reason=EARLY_REASON)
    )
    submitted.due_date = london_today() - timedelta(days=1)
    db.session.commit()
    accepted_referral("IN2345AA")
    accepted_referral("IN2345AC")
    approved = service.submit_invoice(
        manager, service.generate_draft(manager, contract, month, early_reason=EARLY_REASON)
    )
    service.approve_invoice(everyone["contract_manager"], approved)
    credit_note = service.raise_credit_note(
        manager, approved, event_ids=[service.creditable_events(approved)[0].id], reason="Recorded twice", rebill=True
    )
    accepted_referral("IN2345BB")
    contract.value_cap_pence = 30_000
    db.session.commit()
    draft = service.generate_draft(manager, contract, month, early_reason=EARLY_REASON)
    line = db.session.scalars(db.select(InvoiceLine).where(InvoiceLine.invoice_id == submitted.id)).first()
    return everyone | {
        "submitted": submitted,
        "submitted_line": line,
        "approved": approved,
        "credit_note": credit_note,
        "draft": draft,
    }


@pytest.mark.parametrize("width", [1280, 375])
@pytest.mark.parametrize("role", INVOICE_PAGES_BY_ROLE)
def test_every_invoice_page_a_role_can_reach_is_accessible(
    page: Page, live_server: str, invoices: dict[str, Any], subtests: pytest.Subtests, role: str, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 800})
    sign_in(page, live_server, invoices[role])
    for path in INVOICE_PAGES_BY_ROLE[role]:
        where = f"{role} at {width}px {path}"
        with subtests.test(msg=where):
            visit(page, f"{live_server}{path.format(**invoices)}", 200, where)
            check_page(page, where)
            if width == 375:
                check_fits_a_phone(page, where)


def test_invoice_forms_showing_errors_are_accessible(
    page: Page, live_server: str, invoices: dict[str, Any], subtests: pytest.Subtests
) -> None:
    """Generating a month not yet started; deciding and crediting with nothing filled in."""
    sign_in(page, live_server, invoices["nacro_manager"])
    with subtests.test(msg="a future month"):
        page.goto(f"{live_server}/invoices/new")
        group = page.get_by_role("group", name="Month to invoice")
        group.get_by_label("Month").fill("1")
        group.get_by_label("Year").fill(str(london_today().year + 2))
        page.get_by_role("button", name="Generate draft invoice").click()
        expect(page.locator(".govuk-error-summary")).to_contain_text("a month that has not started")
        check_page(page, "generate (errors)")
    with subtests.test(msg="submitting past the cap"):
        page.goto(f"{live_server}/invoices/{invoices['draft'].id}")
        page.get_by_role("button", name="Submit invoice").click()
        expect(page.locator(".govuk-error-summary")).to_contain_text("past the contract's value cap")
        check_page(page, "submit (errors)")
    with subtests.test(msg="an empty credit note"):
        page.goto(f"{live_server}/invoices/{invoices['approved'].id}/credit-note")
        page.get_by_role("button", name="Raise credit note").click()
        expect(page.locator(".govuk-error-summary")).to_contain_text("Choose the work to credit")
        check_page(page, "credit note (errors)")
    page.get_by_role("banner").get_by_role("button", name="Sign out").click()
    sign_in(page, live_server, invoices["contract_manager"])
    with subtests.test(msg="a query with no reason"):
        page.goto(f"{live_server}/invoices/{invoices['submitted'].id}/query")
        page.get_by_role("button", name="Query invoice").click()
        expect(page.locator(".govuk-error-summary")).to_contain_text("Say what needs checking")
        check_page(page, "query (errors)")
    with subtests.test(msg="a payment with no date"):
        page.goto(f"{live_server}/invoices/{invoices['approved'].id}/mark-paid")
        page.get_by_role("button", name="Mark as paid").click()
        expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the date it was paid")
        check_page(page, "mark paid (errors)")


# --- grants, expected volumes and remittance details (issue 18) ---------------------------------------

GRANT_PAGES = [
    "/grants/{grant.reference}",
    "/grants/payments",
    "/grants/payments?status=scheduled",
    "/grants/payments/{approved_payment.id}",
    "/grants/payments/{submitted_payment.id}",
    "/grants/payments/{rejected_payment.id}",
    "/grants/payments/{scheduled_payment.id}",
    "/grants/{grant.reference}/activity",
    "/contracts/{grant.reference}/volumes",
    "/contracts/{nacro_contract.reference}/volumes",
    "/contracts/{nacro_contract.reference}",
    "/remittance/{nacro.id}",
]
GRANT_PAGES_BY_ROLE: dict[str, list[str]] = {
    "contract_manager": [
        *GRANT_PAGES,
        "/",
        "/grants/{grant.reference}/instalments/new",
        "/grants/{grant.reference}/schedule/import",
        "/grants/payments/{submitted_payment.id}/query",
        "/grants/payments/{submitted_payment.id}/reject",
        "/grants/payments/{approved_payment.id}/pay",
        "/grants/payments/{rejected_payment.id}/replace",
        "/contracts/{nacro_contract.reference}/volumes/starts",
        "/contracts/{nacro_contract.reference}/volumes/starts?service=ACC-TTG&month={plan_month}",
        "/contracts/{nacro_contract.reference}/volumes/starts/months",
        "/contracts/{nacro_contract.reference}/volumes/import",
        "/remittance/",
        "/remittance/{nacro.id}/bank-account/reject",
    ],
    "nacro_manager": [
        *GRANT_PAGES,
        "/grants/payments/{rejected_payment.id}/replace",
        "/grants/{grant.reference}/activity/new",
        "/remittance/{nacro.id}/details",
    ],
}


@pytest.fixture
def grants(everyone: dict[str, Any]) -> dict[str, Any]:
    """A grant paid by a schedule with an instalment in each state (approved, submitted, rejected,
    not yet released), drop-in work, expected starts that Nacro's contract is well below, and a
    change of bank account awaiting confirmation."""
    from portal.contracts.models import ContractTier
    from portal.grants import activity, service, volumes
    from portal.remittance import service as remittance

    today = london_today()
    start = today - timedelta(days=200)
    manager, partner = everyone["contract_manager"], everyone["nacro_manager"]
    grant = ContractFactory(
        reference="BENCH-WOM-04",
        title="Women's centre",
        crc=everyone["crc"],
        partner=everyone["nacro"],
        tier=ContractTier.GRANT,
        start_date=start,
        end_date=start + timedelta(days=720),
        value_cap_pence=200_000_00,
        payment_terms_days=14,
    )

    def instalment(offset: int) -> Any:
        first = start + timedelta(days=offset)
        fields = service.InstalmentFields(first, first + timedelta(days=89), first, 20_000_00, "advance", False)
        return service.add_instalment(manager, grant, fields)

    approved, submitted, rejected, scheduled = (instalment(offset) for offset in (0, 90, 180, 270))
    for raised in (approved, submitted, rejected):
        service.submit_payment(partner, raised)
    service.approve_payment(manager, approved)
    service.reject_payment(manager, rejected, reason="The period's return is missing")
    activity.record_activity(
        everyone["nacro_caseworker"],
        grant,
        day=today - timedelta(days=3),
        kind="drop_in",
        attendees="9",
        duration_minutes="120",
        description="Wednesday drop-in",
    )
    volumes.set_expected_starts(manager, grant, service_code="", month=start, starts=6)
    contract = everyone["nacro_contract"]
    plan_month = max(contract.start_date, today - timedelta(days=40)).replace(day=1)
    volumes.set_expected_starts(manager, contract, service_code="ACC-TTG", month=plan_month, starts=40)
    remittance.request_bank_change(
        partner, everyone["nacro"], account_name="Nacro", sort_code="309430", account_number="00733445"
    )
    return everyone | {
        "grant": grant,
        "approved_payment": approved,
        "submitted_payment": submitted,
        "rejected_payment": rejected,
        "scheduled_payment": scheduled,
        "plan_month": plan_month.strftime("%Y-%m"),
    }


@pytest.mark.parametrize("width", [1280, 375])
@pytest.mark.parametrize("role", GRANT_PAGES_BY_ROLE)
def test_every_grant_volume_and_remittance_page_a_role_can_reach_is_accessible(
    page: Page, live_server: str, grants: dict[str, Any], subtests: pytest.Subtests, role: str, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 800})
    sign_in(page, live_server, grants[role])
    for path in GRANT_PAGES_BY_ROLE[role]:
        where = f"{role} at {width}px {path}"
        with subtests.test(msg=where):
            visit(page, f"{live_server}{path.format(**grants)}", 200, where)
            check_page(page, where)
            if width == 375:
                check_fits_a_phone(page, where)


def test_grant_and_volume_forms_showing_errors_are_accessible(
    page: Page, live_server: str, grants: dict[str, Any], subtests: pytest.Subtests
) -> None:
    """Expected starts and a replacement grant payment as they look after a mistake."""
    sign_in(page, live_server, grants["contract_manager"])
    with subtests.test(msg="expected starts with nothing filled in"):
        page.goto(f"{live_server}/contracts/{grants['nacro_contract'].reference}/volumes/starts")
        page.get_by_role("button", name="Save expected starts").click()
        expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the month as YYYY-MM")
        check_page(page, "expected starts (errors)")
    with subtests.test(msg="expected starts for a range of months, empty and then backwards"):
        page.goto(f"{live_server}/contracts/{grants['nacro_contract'].reference}/volumes/starts/months")
        expect(page.get_by_role("heading", level=1)).to_have_text("Set expected starts for a range of months")
        check_page(page, "expected starts for a range of months")
        shoot(page, "expected-starts-range-empty")
        # Both months inside the contract, whatever day the suite is pinned to, so the only
        # mistake is their order.
        contract = grants["nacro_contract"]
        page.get_by_label("First month").fill(contract.end_date.strftime("%Y-%m"))
        page.get_by_label("Last month").fill(contract.start_date.strftime("%Y-%m"))
        page.get_by_role("button", name="Save expected starts").click()
        summary = page.locator(".govuk-error-summary")
        expect(summary).to_contain_text("The last month must be the same as or after the first month")
        expect(summary).to_contain_text("Enter the starts expected in each month")
        expect(page).to_have_title(re.compile(r"^Error: Set expected starts for a range of months "))
        # The summary's links lead to the fields, whose own messages repeat them.
        expect(summary.get_by_role("link", name="The last month must be")).to_have_attribute("href", "#to_month")
        expect(page.locator("#to_month-error")).to_be_visible()
        check_page(page, "expected starts for a range of months (errors)")
        shoot(page, "expected-starts-range-errors")
    with subtests.test(msg="a replacement for nothing"):
        page.goto(f"{live_server}/grants/payments/{grants['rejected_payment'].id}/replace")
        page.get_by_label("Amount").fill("none")
        page.get_by_role("button", name="Put a replacement on the schedule").click()
        expect(page.locator(".govuk-error-summary")).to_contain_text("Enter the amount in pounds")
        check_page(page, "replace grant payment (errors)")


@pytest.mark.parametrize("width", [1280, 375])
def test_the_contract_forms_place_checkboxes_are_accessible_with_a_retired_place_ticked(
    page: Page, live_server: str, everyone: dict[str, Any], subtests: pytest.Subtests, width: int
) -> None:
    """The CRC's counties and prisons as checkboxes on a new contract and on one whose prison has
    since been retired: still ticked, labelled "(retired)", so the manager sees why it is there."""
    from portal.places import service as places
    from portal.places.models import Prison

    contract = everyone["nacro_contract"]
    woodhill = db.session.scalars(
        select(Prison).where(Prison.crc_id == contract.crc_id, Prison.name == "HMP Woodhill")
    ).one()
    places.update_place(everyone["admin"], woodhill, active=False, name=woodhill.name, county_id=None)
    page.set_viewport_size({"width": width, "height": 800})
    sign_in(page, live_server, everyone["contract_manager"])

    with subtests.test(msg=f"at {width}px: a new contract's places"):
        page.goto(f"{live_server}/contracts/new")
        counties = page.get_by_role("group", name="Counties served")
        expect(counties.get_by_role("checkbox", name="Bedfordshire")).not_to_be_checked()
        expect(
            page.get_by_role("group", name="Prisons served").get_by_role("checkbox", name="HMP Bedford")
        ).to_be_visible()
        check_page(page, f"new contract's places at {width}px")
        if width == 375:
            check_fits_a_phone(page, f"new contract's places at {width}px")

    with subtests.test(msg=f"at {width}px: a contract's places with one retired"):
        page.goto(f"{live_server}/contracts/{contract.reference}/edit")
        counties = page.get_by_role("group", name="Counties served")
        prisons = page.get_by_role("group", name="Prisons served")
        expect(counties.get_by_role("checkbox", name="Bedfordshire")).to_be_checked()
        expect(counties.get_by_role("checkbox", name="Northamptonshire")).to_be_checked()
        expect(prisons.get_by_role("checkbox", name="HMP Bedford", exact=True)).to_be_checked()
        expect(prisons.get_by_role("checkbox", name="HMP Woodhill (retired)", exact=True)).to_be_checked()
        check_page(page, f"contract's places with one retired at {width}px")
        if width == 375:
            check_fits_a_phone(page, f"contract's places with one retired at {width}px")
        shoot(page, f"contract-places-retired-{width}px")
