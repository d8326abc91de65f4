"""Through the Gate: a release moves the person to the community on the same case, and its release-day
checklist feeds the service return's resettlement figures."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.errors import InvalidTransition, NotAllowed, NotFound, ValidationFailed
from portal.extensions import db
from portal.referrals.models import LocationType, ReferralStatus, ReleaseType
from portal.ttg.models import FirstNight, ReleaseRecord
from portal.ttg.service import record_release
from tests.factories import ReferralFactory
from tests.helpers import text_of


@pytest.fixture
def in_custody(ttg_service, referrer, nacro_caseworker, today):
    return ReferralFactory(
        reference="TG1234AB",
        contract=ttg_service,
        service_code="ACC-TTG",
        referrer=referrer,
        in_progress=True,
        caseworker=nacro_caseworker,
        location_type=LocationType.CUSTODY,
        prison="HMP Bedford",
        expected_release_date=today,
        reception_date=today - timedelta(days=200),
        release_type=ReleaseType.CONDITIONAL_RELEASE,
        community_office=None,
        postcode=None,
        rar_days=None,
    )


def release_fields(today, **changes):
    return {
        "released_on": today - timedelta(days=1),
        "release_type": "conditional_release",
        "community_office": "Bedford probation office",
        "address_area": "mk40",
        "first_night": "no_fixed_abode",
        "id_held": True,
        "met_at_gate": True,
    } | changes


def test_a_release_moves_the_person_to_the_community_and_keeps_one_case(in_custody, nacro_caseworker, today):
    record = record_release(nacro_caseworker, in_custody, release_fields(today))
    assert in_custody.location_type == LocationType.COMMUNITY and in_custody.status == ReferralStatus.IN_PROGRESS
    assert in_custody.community_office == "Bedford probation office" and in_custody.postcode == "MK40"
    assert in_custody.prison == "HMP Bedford"  # where they came from is kept
    assert record.first_night == FirstNight.NO_FIXED_ABODE and record.prison == "HMP Bedford"
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "referral.released"))
    with pytest.raises(InvalidTransition):
        record_release(nacro_caseworker, in_custody, release_fields(today))


def test_each_rule_names_its_field(in_custody, nacro_caseworker, today):
    with pytest.raises(ValidationFailed) as failure:
        record_release(
            nacro_caseworker,
            in_custody,
            {"released_on": today + timedelta(days=1), "address_area": "nowhere", "first_night": "castle"},
        )
    assert set(failure.value.errors) == {
        "released_on",
        "release_type",
        "community_office",
        "address_area",
        "first_night",
    }


def test_only_a_custody_referral_has_a_release_and_another_partner_sees_none(
    nacro_referral, in_custody, nacro_caseworker, contract_manager, st_giles_manager, today
):
    with pytest.raises(InvalidTransition):
        record_release(nacro_caseworker, nacro_referral, release_fields(today))  # in the community
    with pytest.raises(NotAllowed):
        record_release(contract_manager, in_custody, release_fields(today))
    with pytest.raises(NotFound):
        record_release(st_giles_manager, in_custody, release_fields(today))


def test_the_release_page_records_it_and_the_case_file_shows_it(
    portal, other_portal, in_custody, nacro_caseworker, st_giles_manager, today
):
    portal.sign_in(nacro_caseworker)
    assert "Record the release" in text_of(portal.get("/referrals/TG1234AB/release"))
    portal.get("/through-the-gate/referrals/TG1234AB/release")
    response = portal.post("/through-the-gate/referrals/TG1234AB/release", {"community_office": ""})
    assert response.status_code == 200
    assert "Enter the release date as a real date" in text_of(response)
    day = today - timedelta(days=1)
    response = portal.post(
        "/through-the-gate/referrals/TG1234AB/release",
        {
            "version": str(in_custody.version),
            "released_on": [str(day.day), str(day.month), str(day.year)],
            "release_type": "home_detention_curfew",
            "community_office": "Luton probation office",
            "first_night": "supported_housing",
            "bank_account": "y",
        },
    )
    assert response.status_code == 302, text_of(response)[:600]
    page = text_of(portal.get("/referrals/TG1234AB/release"))
    assert "Home detention curfew (tagged)" in page and "Supported housing" in page
    other_portal.sign_in(st_giles_manager)
    assert other_portal.get("/through-the-gate/referrals/TG1234AB/release").status_code == 404
    assert other_portal.get("/referrals/TG1234AB/release").status_code == 404


def test_the_api_records_and_reads_a_release(api_as, in_custody, nacro_manager, referrer, today):
    partner = api_as(nacro_manager)
    assert partner.get("/referrals/TG1234AB/release").status_code == 404
    bad = partner.post("/referrals/TG1234AB/release", {"released_on": "2026-01-01"})
    assert bad.status_code == 422 and "release_type" in bad.json["errors"]
    body = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in release_fields(today).items()}
    made = partner.post("/referrals/TG1234AB/release", body)
    assert made.status_code == 201, made.json
    assert made.json["first_night_settled"] is False and made.json["prison"] == "HMP Bedford"
    assert partner.post("/referrals/TG1234AB/release", body).status_code == 409
    referral = api_as(referrer).get("/referrals/TG1234AB").json
    assert referral["location"]["type"] == "community"


def test_the_return_counts_resettlement_from_the_checklists(in_custody, nacro_caseworker, ttg_service, referrer, today):
    from portal.dates import Period, PeriodKind
    from portal.returns.kpis import compute_figures, figure
    from portal.returns.records import load_records

    second = ReferralFactory(
        contract=ttg_service,
        service_code="ACC-TTG",
        referrer=referrer,
        in_progress=True,
        location_type=LocationType.CUSTODY,
        prison="HMP Woodhill",
        expected_release_date=today,
        community_office=None,
        rar_days=None,
    )
    day = today - timedelta(days=1)
    record_release(nacro_caseworker, in_custody, release_fields(today, released_on=day))
    record_release(nacro_caseworker, second, release_fields(today, released_on=day, first_night="own_tenancy"))
    assert db.session.scalar(select(db.func.count()).select_from(ReleaseRecord)) == 2
    period = Period(PeriodKind.MONTH, day.replace(day=1))
    records = load_records([ttg_service.id], period.start, period.end)
    figures = compute_figures(records, period, today=today, contract_start=period.start)
    assert figure(figures, "released") == 2
    assert figure(figures, "released_nfa") == 1
    assert figure(figures, "released_settled") == {"n": 1, "d": 2}
    assert figure(figures, "released_met_at_gate") == {"n": 2, "d": 2}
