"""The API carries each outcome type's rule, and refuses a claim outside it with a 422 naming the field."""

from datetime import UTC, datetime, time

from portal.contracts.models import OutcomeFrom, Unit
from portal.extensions import db
from portal.formatting import format_date
from tests.factories import OutcomeTypeFactory, RateCardItemFactory, ReferralFactory
from tests.helpers import days_from_today


def test_the_contract_gives_each_outcome_types_rule(api_as, nacro_manager, nacro_contract):
    OutcomeTypeFactory(
        contract=nacro_contract,
        code="accommodation_sustained_13_weeks",
        name="Accommodation sustained for 13 weeks",
        outcome_from=OutcomeFrom.START,
        outcome_earliest_days=91,
        max_per_referral=1,
    )
    body = api_as(nacro_manager).get("/contracts/BENCH-ACC-01").get_json()
    assert body["outcome_types"] == [
        {
            "code": "accommodation_sustained_13_weeks",
            "name": "Accommodation sustained for 13 weeks",
            "pathway": "accommodation",
            "active": True,
            "outcome_from": "start",
            "outcome_earliest_days": 91,
            "outcome_latest_days": None,
            "max_per_referral": 1,
            "evidence_required": False,
            "recorded_unpaid": False,
            "version": 1,
        }
    ]


def test_a_claim_outside_the_rule_is_a_422_naming_the_field(api_as, nacro_caseworker, ttg_service, referrer):
    kind = OutcomeTypeFactory(
        contract=ttg_service, code="sustained", outcome_from=OutcomeFrom.START, outcome_earliest_days=10
    )
    RateCardItemFactory(contract=ttg_service, service_code="ACC-TTG", unit=Unit.PER_OUTCOME, outcome_type=kind)
    certificate = OutcomeTypeFactory(contract=ttg_service, code="certificate", evidence_required=True)
    RateCardItemFactory(contract=ttg_service, service_code="ACC-TTG", unit=Unit.PER_OUTCOME, outcome_type=certificate)
    unpriced = OutcomeTypeFactory(contract=ttg_service, code="benefit_claim_made")
    referral = ReferralFactory(
        contract=ttg_service,
        service_code="ACC-TTG",
        referrer=referrer,
        accepted=True,
        accepted_at=datetime.combine(days_from_today(-20), time(11), tzinfo=UTC),
        first_contact_at=datetime.combine(days_from_today(-14), time(11), tzinfo=UTC),
        caseworker=nacro_caseworker,
    )
    db.session.commit()
    api = api_as(nacro_caseworker)

    def claim(code, days_ago=1):
        body = {"outcome_type": code, "achieved_on": days_from_today(-days_ago).isoformat(), "evidence": "Seen."}
        return api.post(f"/referrals/{referral.reference}/outcomes", body)

    early = claim("sustained", days_ago=5)
    assert early.status_code == 422 and early.mimetype == "application/problem+json"
    assert early.get_json()["errors"]["achieved_on"][0].startswith(
        f"This outcome can be claimed from {format_date(days_from_today(-4))}"
    )
    assert "evidence_files" in claim("certificate").get_json()["errors"]
    assert "does not pay for" in claim("benefit_claim_made").get_json()["errors"]["outcome_type"][0]
    made = claim("sustained", days_ago=4)
    assert made.status_code == 201 and made.get_json()["status"] == "claimed"
    assert unpriced.id


def test_a_contract_manager_changes_a_rule_and_only_the_fields_sent_change(api_as, contract_manager, nacro_contract):
    OutcomeTypeFactory(contract=nacro_contract, code="employment_sustained", max_per_referral=1)
    api = api_as(contract_manager)
    path = "/contracts/BENCH-ACC-01/outcome-types/employment_sustained"
    changed = api.post(path, {"outcome_from": "start", "outcome_earliest_days": 91, "version": 1})
    assert changed.status_code == 200, changed.get_json()
    body = changed.get_json()
    assert (body["outcome_from"], body["outcome_earliest_days"], body["max_per_referral"]) == ("start", 91, 1)
    assert body["version"] == 2
    stale = api.post(path, {"outcome_earliest_days": 28, "version": 1})  # read before the change above
    assert stale.status_code == 409
    too_short = api.post(path, {"outcome_latest_days": 30})
    assert too_short.status_code == 422
    assert "outcome_latest_days" in too_short.get_json()["errors"]
    assert api.post("/contracts/BENCH-ACC-01/outcome-types/no_such_type", {}).status_code == 404
