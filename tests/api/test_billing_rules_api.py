"""The API keeps issue 15's rules: rate-card items show their session kinds, a custody referral with
RAR days is a 422 naming rar_days, and an overlapping session is a 409 naming the other session."""

from datetime import UTC, datetime, timedelta

from portal.contracts.models import Unit
from portal.dates import london_today
from portal.delivery.sessions import record_session
from tests.factories import RateCardItemFactory, ReferralFactory
from tests.helpers import days_from_today


def test_rate_card_items_say_which_sessions_they_price(api_as, nacro_manager, nacro_contract):
    RateCardItemFactory(contract=nacro_contract, code="TTG-121", unit=Unit.PER_SESSION, session_kinds=["one_to_one"])
    RateCardItemFactory(contract=nacro_contract, code="TTG-REF", unit=Unit.PER_REFERRAL)
    body = api_as(nacro_manager).get("/contracts/BENCH-ACC-01").get_json()
    assert {item["code"]: item["session_kinds"] for item in body["rate_card"]} == {
        "TTG-121": ["one_to_one"],
        "TTG-REF": [],
    }


def test_rar_days_on_a_custody_referral_are_a_422_naming_the_field(api_as, referrer, ttg_service):
    today = london_today()
    response = api_as(referrer).post(
        "/referrals",
        {
            "contract": "BENCH-ACC-01",
            "service_code": "ACC-TTG",
            "person": {
                "crn": "X200001",
                "given_name": "Sam",
                "family_name": "Smith",
                "date_of_birth": "1990-04-01",
                "gender": "male",
                "ethnicity": "white_british",
                "disability": "no",
            },
            "location": {
                "type": "custody",
                "prison": "HMP Bedford",
                "expected_release_date": (today + timedelta(days=30)).isoformat(),
            },
            "rosh_level": "medium",
            "risk_flags": [],
            "risk_summary": "None known.",
            "complexity": "medium",
            "desired_outcomes": ["Find settled accommodation"],
            "reason": "Homeless on release.",
            "rar_days": 5,
            "sentence_end_date": (today + timedelta(days=365)).isoformat(),
        },
    )
    assert response.status_code == 422, response.get_json()
    assert list(response.get_json()["errors"]) == ["rar_days"]
    assert "RAR days are for community orders" in response.get_json()["errors"]["rar_days"][0]


def test_an_overlapping_session_is_a_409_naming_the_field_and_the_other_session(
    api_as, ttg_service, referrer, nacro_caseworker
):
    referral = ReferralFactory(
        contract=ttg_service,
        service_code="ACC-TTG",
        referrer=referrer,
        accepted=True,
        accepted_at=datetime.now(UTC) - timedelta(days=7),
        caseworker=nacro_caseworker,
    )
    day = days_from_today(-1)
    record_session(
        nacro_caseworker,
        referral,
        {"date": day, "start_time": "10:00", "duration_minutes": 60, "kind": "one_to_one", "attendance": "attended"},
    )
    response = api_as(nacro_caseworker).post(
        f"/referrals/{referral.reference}/sessions",
        {"date": day.isoformat(), "start_time": "10:30", "duration_minutes": 30, "kind": "video"},
    )
    assert response.status_code == 409
    problem = response.get_json()
    assert problem["type"].endswith("#problem-conflict")
    assert "This overlaps the one-to-one session" in problem["errors"]["start_time"][0]
    assert problem["detail"] == problem["errors"]["start_time"][0]
