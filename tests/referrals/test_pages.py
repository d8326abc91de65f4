"""The referral page and its actions, as each side uses them."""

import re
from html import unescape

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.referrals.models import CaseNote, ReferralStatus
from tests.helpers import QueryCounter, text_of


@pytest.mark.parametrize("section", ["", "/sessions", "/outcomes", "/notes", "/history"])
def test_every_side_sees_the_person_and_their_risk_first_in_every_section_of_the_case_file(
    portal, nacro_referral, nacro_caseworker, referrer, section
):
    from portal.people.models import Person

    person = db.session.get(Person, nacro_referral.person_id)
    for user in (nacro_caseworker, referrer):
        portal.sign_in(user)
        page = portal.get(f"/referrals/{nacro_referral.reference}{section}")
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        heading = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S).group(1).strip()
        assert unescape(heading) == person.full_name
        banner = html.index("portal-risk-banner")
        # Name, then risk, before anything to do or read further.
        assert html.index("<h1") < banner < html.index("moj-sub-navigation__list")
        assert "Medium risk of serious harm" in text_of(page)
        assert "Domestic abuse" in text_of(page)
        portal.sign_out()


def test_partner_manager_cannot_accept_without_confirming_the_risk_information(
    portal, nacro_referral, nacro_manager, nacro_caseworker
):
    portal.sign_in(nacro_manager)
    page = portal.get(f"/referrals/{nacro_referral.reference}/accept")
    assert "I have read the risk information" in text_of(page)
    refused = portal.post(
        f"/referrals/{nacro_referral.reference}/accept",
        {"version": nacro_referral.version, "caseworker": str(nacro_caseworker.id)},
    )
    assert refused.status_code == 200
    assert "Confirm you have read the risk information before accepting" in text_of(refused)
    assert 'href="#risk_information_read"' in refused.get_data(as_text=True)
    db.session.refresh(nacro_referral)
    assert nacro_referral.status == ReferralStatus.SENT

    accepted = portal.post(
        f"/referrals/{nacro_referral.reference}/accept",
        {"version": nacro_referral.version, "risk_information_read": "y", "caseworker": str(nacro_caseworker.id)},
    )
    assert accepted.headers["Location"] == f"/referrals/{nacro_referral.reference}"
    db.session.refresh(nacro_referral)
    assert nacro_referral.status == ReferralStatus.ACCEPTED
    assert nacro_referral.caseworker_id == nacro_caseworker.id
    page = text_of(portal.get(f"/referrals/{nacro_referral.reference}"))
    assert "You accepted referral NC2345AB" in page
    history = text_of(portal.get(f"/referrals/{nacro_referral.reference}/history"))
    assert "Accepted by Mo Manager, who confirmed reading the risk information" in history


def test_two_managers_answering_the_same_referral_one_is_told_it_changed(
    portal, other_portal, nacro_referral, nacro_manager, nacro
):
    from tests.factories import UserFactory

    other = UserFactory(organisation=nacro, role=nacro_manager.role, email="deputy@nacro.example")
    portal.sign_in(nacro_manager)
    other_portal.sign_in(other)
    portal.get(f"/referrals/{nacro_referral.reference}/accept")
    other_portal.get(f"/referrals/{nacro_referral.reference}/decline")
    version = nacro_referral.version
    assert (
        portal.post(
            f"/referrals/{nacro_referral.reference}/accept", {"version": version, "risk_information_read": "y"}
        ).status_code
        == 302
    )
    late = other_portal.post(
        f"/referrals/{nacro_referral.reference}/decline",
        {"version": version, "reason_code": "no_capacity", "detail": "Full"},
    )
    assert late.status_code == 200
    assert "This referral was changed by someone else" in text_of(late)
    db.session.refresh(nacro_referral)
    assert nacro_referral.status == ReferralStatus.ACCEPTED


def test_decline_form_names_each_missing_answer(portal, nacro_referral, nacro_manager):
    portal.sign_in(nacro_manager)
    portal.get(f"/referrals/{nacro_referral.reference}/decline")
    response = portal.post(f"/referrals/{nacro_referral.reference}/decline", {"version": nacro_referral.version})
    page = text_of(response)
    assert "Select why you are declining the referral" in page
    assert "Explain why you are declining" in page


def test_referrer_withdraws_with_a_grouped_reason(portal, nacro_referral, referrer):
    portal.sign_in(referrer)
    page = text_of(portal.get(f"/referrals/{nacro_referral.reference}/withdraw"))
    assert "The sentence changed" in page and "Recalled to prison" in page
    response = portal.post(
        f"/referrals/{nacro_referral.reference}/withdraw",
        {"version": nacro_referral.version, "reason_code": "recalled", "detail": "Recalled."},
    )
    assert response.status_code == 302
    db.session.refresh(nacro_referral)
    assert nacro_referral.status == ReferralStatus.WITHDRAWN


def test_referrer_amends_the_risk_and_the_change_is_shown_with_its_reason(
    portal, nacro_referral, referrer, nacro_caseworker
):
    portal.sign_in(referrer)
    portal.get(f"/referrals/{nacro_referral.reference}/amend")
    response = portal.post(
        f"/referrals/{nacro_referral.reference}/amend",
        {
            "version": nacro_referral.version,
            "rosh_level": "medium",
            "risk_flags": ["domestic_abuse", "violence"],
            "risk_summary": nacro_referral.risk_summary,
            "desired_outcomes": "Find settled accommodation",
            "rar_days": "10",
            "contact_details": "",
            "reason": "New police information",
        },
    )
    assert response.status_code == 302, text_of(response)
    portal.sign_out()
    portal.sign_in(nacro_caseworker)
    page = text_of(portal.get(f"/referrals/{nacro_referral.reference}"))
    assert "Changes since sending" in page
    assert "New police information" in page
    assert "Violence" in page


def test_amending_without_a_reason_is_refused(portal, nacro_referral, referrer):
    portal.sign_in(referrer)
    portal.get(f"/referrals/{nacro_referral.reference}/amend")
    response = portal.post(
        f"/referrals/{nacro_referral.reference}/amend",
        {
            "version": nacro_referral.version,
            "rosh_level": "low",
            "risk_summary": "x",
            "desired_outcomes": "y",
            "reason": "",
        },
    )
    assert "Explain why you are amending the referral" in text_of(response)


def test_both_sides_add_case_notes_that_both_read(portal, nacro_referral, referrer, nacro_caseworker):
    portal.sign_in(nacro_caseworker)
    portal.get(f"/referrals/{nacro_referral.reference}")
    portal.post(f"/referrals/{nacro_referral.reference}/notes", {"body": "Met at the gate; going to hostel."})
    portal.sign_out()
    portal.sign_in(referrer)
    page = text_of(portal.get(f"/referrals/{nacro_referral.reference}/notes"))
    assert "Met at the gate; going to hostel." in page
    assert len(db.session.scalars(select(CaseNote)).all()) == 1


@pytest.mark.parametrize("action", ["accept", "decline", "assign"])
def test_caseworkers_and_the_crc_cannot_answer(portal, nacro_referral, nacro_caseworker, referrer, action):
    for user in (nacro_caseworker, referrer):
        portal.sign_in(user)
        assert portal.get(f"/referrals/{nacro_referral.reference}/{action}").status_code == 403
        portal.sign_out()


@pytest.mark.parametrize("action", ["withdraw", "amend"])
def test_partners_cannot_withdraw_or_amend(portal, nacro_referral, nacro_manager, action):
    portal.sign_in(nacro_manager)
    assert portal.get(f"/referrals/{nacro_referral.reference}/{action}").status_code == 403


@pytest.mark.parametrize("path", ["", "/accept", "/decline", "/assign", "/withdraw", "/amend"])
def test_another_partner_gets_404_for_the_referral_by_any_url(portal, nacro_referral, st_giles_manager, path):
    portal.sign_in(st_giles_manager)
    assert portal.get(f"/referrals/{nacro_referral.reference}{path}").status_code == 404
    assert portal.post(f"/referrals/{nacro_referral.reference}/notes", {"body": "x"}).status_code == 404


def test_referral_page_queries_do_not_grow_with_the_timeline(portal, nacro_referral, nacro_manager, app):
    from portal.referrals import service

    portal.sign_in(nacro_manager)
    sections = ("", "/notes", "/history")
    few = {}
    for section in sections:
        with QueryCounter(app) as counted:
            portal.get(f"/referrals/{nacro_referral.reference}{section}")
        few[section] = counted.count
    for number in range(15):
        service.add_case_note(nacro_manager, nacro_referral, f"Note {number}")
    for section in sections:
        with QueryCounter(app) as many:
            portal.get(f"/referrals/{nacro_referral.reference}{section}")
        assert few[section] > 3
        assert many.count == few[section], section


def test_referral_page_queries_do_not_grow_with_its_sessions(portal, nacro_referral, nacro_manager, app):
    from datetime import date

    from tests.factories import SessionFactory

    def add_sessions(count: int, start: int) -> None:
        for day in range(start, start + count):
            SessionFactory(referral=nacro_referral, date=date(2026, 10, 1 + day), recorded_by=nacro_manager)

    portal.sign_in(nacro_manager)
    add_sessions(1, 0)
    with QueryCounter(app) as few:
        portal.get(f"/referrals/{nacro_referral.reference}/sessions")
    add_sessions(12, 1)
    with QueryCounter(app) as many:
        assert portal.get(f"/referrals/{nacro_referral.reference}/sessions").status_code == 200
    assert many.count == few.count


def test_a_partner_managers_home_counts_what_is_waiting_and_what_is_overdue(portal, ttg_service, nacro_manager):
    from datetime import timedelta

    from portal.dates import london_today
    from portal.referrals.models import ReferralStatus
    from tests.factories import ReferralFactory

    today = london_today()
    ReferralFactory(contract=ttg_service, service_code="ACC-TTG", accept_due_on=today + timedelta(days=1))
    ReferralFactory(contract=ttg_service, service_code="ACC-TTG", accept_due_on=today - timedelta(days=1))
    ReferralFactory(
        contract=ttg_service,
        service_code="ACC-TTG",
        status=ReferralStatus.ACCEPTED,
        first_contact_due_on=today - timedelta(days=2),
    )
    portal.sign_in(nacro_manager)
    home = portal.get("/").get_data(as_text=True)
    item = re.compile(
        r'data-item="([a-z_]+)">\s*<a class="govuk-link portal-work-item__link" href="([^"]+)">'
        r'<span class="portal-work-item__count">(\d+)</span> <span class="portal-work-item__words">([^<]+)'
    )
    items = {key: (count, words, link) for key, link, count, words in item.findall(home)}
    assert items["referrals_new"] == (
        "2",
        "new referrals waiting for your answer",
        "/referrals/?tab=new&amp;sort=due&amp;dir=asc",
    )
    assert items["referrals_overdue"] == (
        "2",
        "referrals overdue for an answer or first contact",
        "/referrals/?tab=all&amp;overdue=yes",
    )
    # The overdue come first: they need attention soonest.
    assert home.index('data-item="referrals_overdue"') < home.index('data-item="referrals_new"')


def test_the_inbox_filters_by_service(portal, ttg_service, nacro_manager):
    from tests.factories import RateCardItemFactory, ReferralFactory

    RateCardItemFactory(contract=ttg_service, code="ETE-MEN", service_code="ETE-MEN")
    housing = ReferralFactory(contract=ttg_service, service_code="ACC-TTG")
    mentoring = ReferralFactory(contract=ttg_service, service_code="ETE-MEN")
    portal.sign_in(nacro_manager)
    page = portal.get("/referrals/?tab=new&service_code=ETE-MEN").get_data(as_text=True)
    assert mentoring.reference in page and housing.reference not in page
