"""GET /contracts/{reference}/services, and POST /referrals naming a service by name and refused
(422, naming the field and the rule) when the person is not eligible."""

from portal.contracts.models import ServiceSex
from portal.places.models import Prison
from tests.contracts.test_services import limit, place, the_service
from tests.helpers import days_from_today


def test_the_api_refuses_an_ineligible_referral_naming_the_field_and_the_rule(api_as, referrer, ttg_service):
    limit(the_service(ttg_service), sex=ServiceSex.FEMALE)
    body = {
        "contract": "BENCH-ACC-01",
        "service": "Through the Gate accommodation",
        "person": {
            "crn": "X123456",
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
            "expected_release_date": days_from_today(30).isoformat(),
        },
        "rosh_level": "low",
        "risk_summary": "None known.",
        "complexity": "low",
        "desired_outcomes": ["A home"],
        "reason": "Homeless on release.",
        "sentence_end_date": days_from_today(300).isoformat(),
    }
    api = api_as(referrer)
    response = api.post("/referrals", body)
    assert response.status_code == 422, response.json
    assert response.json["errors"] == {"person.gender": ["This service is for women: the person is recorded as male"]}
    body["person"]["gender"] = "female"
    response = api.post("/referrals", body)
    assert response.status_code == 201, response.json
    assert response.json["service_code"] == "ACC-TTG"  # chosen by its name


def test_the_api_lists_a_contracts_services_with_who_is_eligible(
    api_as, referrer, nacro_manager, st_giles_manager, ttg_service
):
    limit(the_service(ttg_service), prison_ids=[place(Prison, "HMP Bedford").id], sex=ServiceSex.MALE)
    answer = api_as(nacro_manager).get("/contracts/BENCH-ACC-01/services")
    assert answer.status_code == 200
    ttg = next(item for item in answer.json["items"] if item["code"] == "ACC-TTG")
    assert ttg["name"] == "Through the Gate accommodation"
    assert ttg["eligibility"]["prisons"] == ["HMP Bedford"] and ttg["eligibility"]["sex"] == "male"
    assert api_as(st_giles_manager).get("/contracts/BENCH-ACC-01/services").status_code == 404


def test_the_api_takes_c2c_suggests_the_band_from_it_and_reads_it_back(api_as, referrer, ttg_service):
    body = {
        "contract": "BENCH-ACC-01",
        "service": "Through the Gate accommodation",
        "person": {
            "crn": "X123457",
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
            "expected_release_date": days_from_today(30).isoformat(),
        },
        "rosh_level": "medium",
        "reoffending": "high",
        "c2c": "high",
        "risk_summary": "None known.",
        "complexity": "low",
        "desired_outcomes": ["A home"],
        "reason": "Homeless on release.",
        "sentence_end_date": days_from_today(300).isoformat(),
    }
    api = api_as(referrer)
    assert api.post("/referrals", body | {"c2c": "middling"}).status_code == 422
    created = api.post("/referrals", body)
    assert created.status_code == 201, created.json
    assert (created.json["c2c"], created.json["colour_band"]) == ("high", "red")
    assert api.get(f"/referrals/{created.json['reference']}").json["c2c"] == "high"
