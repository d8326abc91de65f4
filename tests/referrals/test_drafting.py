"""Making a referral through the pages: a saved draft, part by part, check your answers, send."""

import re

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.notifications.models import OutboundEmail
from portal.referrals.models import Referral, ReferralStatus
from tests.factories import PersonFactory, UserFactory
from tests.helpers import days_from_today, text_of


def date_parts(day):
    return [str(day.day), str(day.month), str(day.year)]


def start(portal):
    portal.get("/referrals/new")
    response = portal.post("/referrals/new")
    assert response.status_code == 302
    match = re.search(r"/referrals/drafts/(\d+)/service", response.headers["Location"])
    return int(match.group(1))


def post_step(portal, draft_id, step, data):
    url = f"/referrals/drafts/{draft_id}/{step}"
    page = portal.get(url)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page.get_data(as_text=True)).group(1)
    return portal.post(url, {"version": version, **data})


PERSON = {
    "crn": "x654321",
    "prison_number": "",
    "given_name": "Dana",
    "family_name": "Reid",
    "date_of_birth": ["14", "2", "1985"],
    "gender": "female",
    "ethnicity": "black_caribbean",
    "disability": "not_stated",
    "interpreter_language": "",
}


def location() -> dict:
    return {
        "location_type": "custody",
        "prison": "HMP Peterborough (female)",
        "expected_release_date": date_parts(days_from_today(40)),
        "community_office": "",
        "postcode": "",
        "contact_details": "Via the OMU",
    }


RISK = {
    "rosh_level": "medium",
    "risk_flags": ["domestic_abuse", "child_safeguarding"],
    "risk_summary": "Victim of domestic abuse; ex-partner is a risk to her children.",
}


def needs() -> dict:
    return {
        "complexity": "high",
        "desired_outcomes": "Safe accommodation\nReconnect with children",
        "reason": "Released homeless.",
        "rar_days": "",  # she is in custody: no RAR days
        "sentence_end_date": date_parts(days_from_today(500)),
        "colour_band": "yellow",
    }


def fill_in_everything(portal, ttg_service):
    draft_id = start(portal)
    assert post_step(portal, draft_id, "service", {"service": f"{ttg_service.id}|ACC-TTG"}).status_code == 302
    assert post_step(portal, draft_id, "person", PERSON).status_code == 302
    assert post_step(portal, draft_id, "location", location()).status_code == 302
    assert post_step(portal, draft_id, "risk", RISK).status_code == 302
    response = post_step(portal, draft_id, "needs", needs())
    assert response.headers["Location"] == f"/referrals/drafts/{draft_id}/check"
    return draft_id


def test_referrer_makes_a_custody_referral_and_sends_it(portal, ttg_service, referrer, nacro_manager):
    portal.sign_in(referrer)
    draft_id = fill_in_everything(portal, ttg_service)
    check = text_of(portal.get(f"/referrals/drafts/{draft_id}/check"))
    for answer in (
        "Dana Reid",
        "X654321",
        "HMP Peterborough (female)",
        "Domestic abuse",
        "Child safeguarding",
        "Safe accommodation",
        "Reconnect with children",
        "Yellow",
    ):
        assert answer in check
    page = portal.get(f"/referrals/drafts/{draft_id}/check")
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page.get_data(as_text=True)).group(1)
    response = portal.post(f"/referrals/drafts/{draft_id}/check", {"version": version})
    referral = db.session.get(Referral, draft_id)
    assert referral.status == ReferralStatus.SENT
    assert response.headers["Location"] == f"/referrals/{referral.reference}/sent"
    confirmation = text_of(portal.get(response.headers["Location"]))
    assert "Referral sent" in confirmation and referral.reference in confirmation
    assert db.session.scalars(select(OutboundEmail).where(OutboundEmail.recipient == nacro_manager.email)).one()


def test_each_part_names_what_is_wrong_and_saves_nothing(portal, ttg_service, referrer):
    portal.sign_in(referrer)
    draft_id = start(portal)
    response = post_step(portal, draft_id, "person", PERSON | {"crn": "12", "date_of_birth": ["31", "2", "1985"]})
    page = text_of(response)
    assert "Enter a CRN in the correct format, like X123456" in page
    assert "Date of birth must be a real date" in page
    assert 'href="#date_of_birth-day"' in response.get_data(as_text=True)
    assert db.session.get(Referral, draft_id).person_id is None


def test_custody_needs_a_future_release_date(portal, ttg_service, referrer):
    portal.sign_in(referrer)
    draft_id = start(portal)
    past = date_parts(days_from_today(-2))
    response = post_step(portal, draft_id, "location", location() | {"expected_release_date": past})
    assert "The expected release date must be today or in the future" in text_of(response)


def test_rar_days_must_be_from_0_to_60(portal, ttg_service, referrer):
    portal.sign_in(referrer)
    draft_id = start(portal)
    response = post_step(portal, draft_id, "needs", needs() | {"rar_days": "61"})
    assert "RAR days must be a whole number from 0 to 60" in text_of(response)


def test_someone_in_custody_has_no_rar_days(portal, ttg_service, referrer):
    portal.sign_in(referrer)
    draft_id = start(portal)
    assert post_step(portal, draft_id, "location", location()).status_code == 302
    response = post_step(portal, draft_id, "needs", needs() | {"rar_days": "12"})
    assert response.status_code == 200
    assert text_of(response).count("RAR days are for community orders") == 2  # the summary and the field


def test_a_known_crn_fills_in_the_persons_details(portal, ttg_service, referrer):
    PersonFactory(crn="K765432", given_name="Kieran", family_name="Lowe")
    portal.sign_in(referrer)
    draft_id = start(portal)
    page = portal.get(f"/referrals/drafts/{draft_id}/person?crn=k765432")
    assert "We found Kieran Lowe (K765432)" in text_of(page)
    assert 'value="Kieran"' in page.get_data(as_text=True)


def test_only_active_contracts_and_services_are_offered(portal, ttg_service, referrer):
    portal.sign_in(referrer)
    draft_id = start(portal)
    page = text_of(portal.get(f"/referrals/drafts/{draft_id}/service"))
    assert "Through the Gate accommodation – Nacro" in page  # by its name, with its partner
    assert "Retired" not in page and "Core grant" not in page


def test_sending_an_incomplete_draft_says_what_is_missing(portal, ttg_service, referrer):
    portal.sign_in(referrer)
    draft_id = start(portal)
    page = text_of(portal.get(f"/referrals/drafts/{draft_id}/check"))
    assert "Complete the person part before sending" in page


def test_a_draft_is_its_authors_alone(portal, ttg_service, referrer, crc, nacro_manager):
    portal.sign_in(referrer)
    draft_id = start(portal)
    portal.sign_out()
    colleague = UserFactory(organisation=crc, role=referrer.role, email="colleague@crc.example")
    portal.sign_in(colleague)
    assert portal.get(f"/referrals/drafts/{draft_id}/check").status_code == 404
    portal.sign_out()
    portal.sign_in(nacro_manager)
    assert portal.get(f"/referrals/drafts/{draft_id}/service").status_code == 403


def test_a_draft_can_be_deleted(portal, ttg_service, referrer):
    portal.sign_in(referrer)
    draft_id = start(portal)
    portal.get(f"/referrals/drafts/{draft_id}/check")
    assert portal.post(f"/referrals/drafts/{draft_id}/discard").status_code == 302
    assert db.session.get(Referral, draft_id) is None


@pytest.mark.parametrize("role_fixture", ["nacro_manager", "contract_manager", "admin"])
def test_only_referrers_make_referrals(portal, request, role_fixture):
    portal.sign_in(request.getfixturevalue(role_fixture))
    assert portal.get("/referrals/new").status_code == 403


def test_save_and_come_back_later_keeps_what_was_typed_on_the_step(portal, ttg_service, referrer):
    portal.sign_in(referrer)
    draft_id = start(portal)
    post_step(portal, draft_id, "service", {"service": f"{ttg_service.id}|ACC-TTG"})
    response = post_step(portal, draft_id, "person", PERSON | {"later": "yes"})
    assert response.headers["Location"] == "/referrals/?tab=drafts"
    assert "Your draft referral has been saved" in text_of(portal.get(response.headers["Location"]))
    assert db.session.get(Referral, draft_id).person_id is not None
    # A step with mistakes is shown again with them, nothing typed lost.
    wrong = post_step(portal, draft_id, "risk", RISK | {"rosh_level": "", "later": "yes"})
    assert wrong.status_code == 200
    assert "Nothing you typed has been lost" in text_of(wrong) and RISK["risk_summary"] in text_of(wrong)


def test_a_second_open_referral_of_the_same_person_to_the_same_service_is_warned_about_before_sending(
    portal, ttg_service, referrer
):
    portal.sign_in(referrer)
    first = fill_in_everything(portal, ttg_service)
    page = portal.get(f"/referrals/drafts/{first}/check")
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page.get_data(as_text=True)).group(1)
    portal.post(f"/referrals/drafts/{first}/check", {"version": version})
    sent = db.session.get(Referral, first)

    second = fill_in_everything(portal, ttg_service)
    page = portal.get(f"/referrals/drafts/{second}/check")
    assert "already has 1 open referral to this service" in text_of(page) and sent.reference in text_of(page)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page.get_data(as_text=True)).group(1)
    refused = portal.post(f"/referrals/drafts/{second}/check", {"version": version})
    assert "confirm this is not a duplicate" in text_of(refused)
    assert 'href="#not_a_duplicate"' in refused.get_data(as_text=True)
    assert db.session.get(Referral, second).status == ReferralStatus.DRAFT
    portal.post(f"/referrals/drafts/{second}/check", {"version": version, "not_a_duplicate": "y"})
    assert db.session.get(Referral, second).status == ReferralStatus.SENT
