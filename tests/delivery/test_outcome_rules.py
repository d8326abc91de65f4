"""Outcome types carry a rule: a claim outside its days is refused with the day it can be claimed
from, one too many or one without the evidence file it needs is refused, only outcomes the
referral's service prices (or the contract manager marks recorded but unpaid) can be claimed, and
verifying checks the rule again. A credited outcome is `credited`."""

from datetime import UTC, date, datetime, time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.contracts.models import OutcomeFrom, Unit
from portal.delivery import outcome_rules
from portal.delivery.models import Outcome, OutcomeStatus
from portal.delivery.outcomes import claim_outcome, claimable_outcome_types, verify_outcome
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.formatting import format_date
from portal.referrals.models import LocationType
from tests.factories import OutcomeTypeFactory, RateCardItemFactory, ReferralFactory
from tests.helpers import Portal, days_from_today

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


# --- the rule as plain functions ----------------------------------------------------------------------


def facts(**values):
    return outcome_rules.Facts(
        accepted_on=values.get("accepted_on", date(2026, 11, 2)),
        first_contact_on=values.get("first_contact_on"),
        custody=values.get("custody", False),
        release_on=values.get("release_on"),
    )


def test_a_claim_before_its_window_names_the_day_it_can_be_claimed_from():
    rule = outcome_rules.Rule(OutcomeFrom.START, 91)
    said = outcome_rules.refusal(rule, facts(first_contact_on=date(2026, 12, 2)), date(2027, 2, 1))
    assert said == "This outcome can be claimed from 3 March 2027 (91 days after first contact, 2 December 2026)"
    assert outcome_rules.refusal(rule, facts(first_contact_on=date(2026, 12, 2)), date(2027, 3, 3)) is None


@pytest.mark.parametrize(
    ("rule", "known", "window"),
    [
        (outcome_rules.Rule(), {}, (date(2026, 11, 2), None)),  # from acceptance
        (
            outcome_rules.Rule(OutcomeFrom.START, 0, 7),
            {"first_contact_on": date(2026, 11, 9)},
            (date(2026, 11, 9), date(2026, 11, 16)),
        ),
        (outcome_rules.Rule(OutcomeFrom.START), {}, None),  # no first contact yet
        (
            outcome_rules.Rule(OutcomeFrom.RELEASE),
            {"custody": True, "release_on": date(2027, 1, 4)},
            (date(2027, 1, 4), None),
        ),
        (outcome_rules.Rule(OutcomeFrom.RELEASE), {"custody": True}, None),  # no release date
        (
            outcome_rules.Rule(OutcomeFrom.RELEASE, 3),
            {"first_contact_on": date(2026, 11, 9)},
            (date(2026, 11, 12), None),
        ),  # in the community: first contact
    ],
)
def test_the_window_counts_from_the_event_the_rule_names(rule, known, window):
    assert outcome_rules.window(rule, facts(**known)) == window


def test_an_outcome_counted_from_release_without_a_release_date_says_so():
    said = outcome_rules.refusal(outcome_rules.Rule(OutcomeFrom.RELEASE), facts(custody=True), date(2027, 1, 4))
    assert "no release date" in said


def test_the_rule_reads_as_words():
    rule = outcome_rules.Rule(OutcomeFrom.START, 91, None, 1, True)
    assert outcome_rules.describe(rule) == (
        "Achieved at least 91 days after first contact; at most 1 per referral; an evidence file is required"
    )


# --- claims on the database --------------------------------------------------------------------------


@pytest.fixture
def referral(ttg_service, referrer, nacro_caseworker):
    """Accepted 20 days ago, first contact 14 days ago."""
    return ReferralFactory(
        contract=ttg_service,
        service_code="ACC-TTG",
        referrer=referrer,
        accepted=True,
        accepted_at=datetime.combine(days_from_today(-20), time(11), tzinfo=UTC),
        first_contact_at=datetime.combine(days_from_today(-14), time(11), tzinfo=UTC),
        caseworker=nacro_caseworker,
    )


def priced_type(contract, service_code="ACC-TTG", **rule):
    kind = OutcomeTypeFactory(contract=contract, **rule)
    RateCardItemFactory(contract=contract, service_code=service_code, unit=Unit.PER_OUTCOME, outcome_type=kind)
    db.session.commit()
    return kind


def claim(actor, referral, kind, days_ago=1, files=(), **fields):
    return claim_outcome(
        actor,
        referral,
        {"outcome_type_id": kind.id, "achieved_on": days_from_today(-days_ago), "evidence": "Seen."} | fields,
        list(files),
    )


def test_a_claim_too_early_is_refused_with_the_first_day_it_can_be_claimed(referral, nacro_caseworker, ttg_service):
    kind = priced_type(ttg_service, outcome_from=OutcomeFrom.START, outcome_earliest_days=10)
    with pytest.raises(ValidationFailed) as failure:
        claim(nacro_caseworker, referral, kind, days_ago=5)  # 9 days after first contact
    first = days_from_today(-4)
    assert failure.value.errors["achieved_on"] == [
        f"This outcome can be claimed from {format_date(first)} "
        f"(10 days after first contact, {format_date(days_from_today(-14))})"
    ]
    assert claim(nacro_caseworker, referral, kind, days_ago=4).status == OutcomeStatus.CLAIMED


def test_a_claim_too_late_is_refused_with_the_last_day(referral, nacro_caseworker, ttg_service):
    kind = priced_type(ttg_service, outcome_latest_days=3)  # from acceptance
    with pytest.raises(ValidationFailed) as failure:
        claim(nacro_caseworker, referral, kind, days_ago=16)
    assert f"only up to {format_date(days_from_today(-17))}" in failure.value.errors["achieved_on"][0]


def test_release_counts_from_the_release_date_and_a_custody_referral_without_one_is_refused(
    referral, nacro_caseworker, ttg_service
):
    kind = priced_type(ttg_service, outcome_from=OutcomeFrom.RELEASE)
    referral.location_type, referral.expected_release_date = LocationType.CUSTODY, None
    db.session.commit()
    with pytest.raises(ValidationFailed) as failure:
        claim(nacro_caseworker, referral, kind)
    assert "no release date" in failure.value.errors["achieved_on"][0]
    referral.expected_release_date = days_from_today(-3)
    db.session.commit()
    with pytest.raises(ValidationFailed):
        claim(nacro_caseworker, referral, kind, days_ago=5)  # "paid for a date before release"
    assert claim(nacro_caseworker, referral, kind, days_ago=2).status == OutcomeStatus.CLAIMED


def test_no_more_than_the_most_per_referral(referral, nacro_caseworker, ttg_service):
    kind = priced_type(ttg_service, max_per_referral=1, name="Bank account opened")
    claim(nacro_caseworker, referral, kind, days_ago=3)
    with pytest.raises(ValidationFailed) as failure:
        claim(nacro_caseworker, referral, kind, days_ago=2)
    assert failure.value.errors["outcome_type_id"] == ["Bank account opened can be claimed at most once for a referral"]


def test_an_outcome_needing_evidence_is_refused_without_a_file(referral, nacro_caseworker, ttg_service, app, tmp_path):
    app.config["STORAGE_DIR"] = tmp_path
    kind = priced_type(ttg_service, evidence_required=True, name="Programme completed")
    with pytest.raises(ValidationFailed) as failure:
        claim(nacro_caseworker, referral, kind)
    assert failure.value.errors["evidence_files"] == ["Attach an evidence file: Programme completed needs one"]
    assert claim(nacro_caseworker, referral, kind, files=[("certificate.pdf", PDF)]).status == OutcomeStatus.CLAIMED


def test_only_outcomes_the_service_prices_or_recorded_unpaid_ones_can_be_claimed(
    referral, nacro_caseworker, ttg_service
):
    housed = priced_type(ttg_service, name="Accommodation sustained")
    benefit = priced_type(ttg_service, service_code="FIN", name="Benefit claim made")  # another service's
    contact = OutcomeTypeFactory(contract=ttg_service, name="Family contact restored", recorded_unpaid=True)
    OutcomeTypeFactory(contract=ttg_service, name="Not recognised here")
    assert [(kind.name, paid) for kind, paid in claimable_outcome_types(referral)] == [
        ("Accommodation sustained", True),
        ("Family contact restored", False),
    ]
    with pytest.raises(ValidationFailed) as failure:
        claim(nacro_caseworker, referral, benefit)
    assert "does not pay for Benefit claim made" in failure.value.errors["outcome_type_id"][0]
    assert claim(nacro_caseworker, referral, contact).status == OutcomeStatus.CLAIMED
    assert claim(nacro_caseworker, referral, housed).status == OutcomeStatus.CLAIMED


def test_verifying_checks_the_rule_again(referral, nacro_caseworker, referrer, ttg_service):
    kind = priced_type(ttg_service)
    outcome = claim(nacro_caseworker, referral, kind, days_ago=10)
    kind.outcome_from, kind.outcome_earliest_days = OutcomeFrom.START, 28  # tightened after the claim
    db.session.commit()
    with pytest.raises(ValidationFailed) as failure:
        verify_outcome(referrer, outcome)
    assert "this claim cannot be verified" in failure.value.errors["achieved_on"][0]
    assert db.session.get(Outcome, outcome.id).status == OutcomeStatus.CLAIMED


# --- the claim form ------------------------------------------------------------------------------------


def test_the_claim_form_offers_priced_outcomes_and_labels_unpaid_ones(client, referral, nacro_caseworker, ttg_service):
    priced_type(ttg_service, name="Accommodation sustained", outcome_from=OutcomeFrom.START, outcome_earliest_days=91)
    OutcomeTypeFactory(contract=ttg_service, name="Family contact restored", recorded_unpaid=True)
    priced_type(ttg_service, service_code="FIN", name="Benefit claim made")
    portal = Portal(client)
    portal.sign_in(nacro_caseworker)
    page = portal.get(f"/referrals/{referral.reference}/outcomes/new").get_data(as_text=True)
    assert "Accommodation sustained (Accommodation)<" in page
    assert "Family contact restored (Accommodation): recorded, not paid" in page
    assert "Benefit claim made" not in page
    assert "achieved at least 91 days after first contact" in page


def test_a_claim_on_the_page_outside_the_rule_shows_the_error_by_its_field(
    client, referral, nacro_caseworker, ttg_service
):
    kind = priced_type(ttg_service, outcome_from=OutcomeFrom.START, outcome_earliest_days=10)
    portal = Portal(client)
    portal.sign_in(nacro_caseworker)
    day = days_from_today(-5)
    response = portal.post(
        f"/referrals/{referral.reference}/outcomes/new",
        {
            "outcome_type_id": str(kind.id),
            "achieved_on": [str(day.day), str(day.month), str(day.year)],
            "evidence": "Seen.",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "There is a problem" in page
    assert f"This outcome can be claimed from {format_date(days_from_today(-4))}" in page
    assert db.session.scalar(select(Outcome.id)) is None
    assert not db.session.scalars(select(AuditEvent).where(AuditEvent.action == "outcome.claimed")).all()


def test_the_window_moves_with_first_contact(referral):
    """first_contact_on is the London day of first contact, kept in step as accepted_on is."""
    referral.first_contact_at = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)  # 00:30 on 1 July in London
    db.session.commit()
    assert referral.first_contact_on == date(2026, 7, 1)
    referral.first_contact_at = None
    db.session.commit()
    assert referral.first_contact_on is None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    outcome_from=st.sampled_from([None, OutcomeFrom.START, OutcomeFrom.RELEASE]),
    earliest=st.integers(0, 25),
    latest=st.one_of(st.none(), st.integers(0, 25)),
    days_ago=st.integers(0, 22),
)
def test_a_claim_is_made_exactly_when_its_rule_allows_it(
    referral, nacro_caseworker, ttg_service, outcome_from, earliest, latest, days_ago
):
    if latest is not None and latest < earliest:
        earliest, latest = latest, earliest
    kind = priced_type(
        ttg_service, outcome_from=outcome_from, outcome_earliest_days=earliest, outcome_latest_days=latest
    )
    rule = outcome_rules.Rule.of(kind)
    allowed = outcome_rules.allows(rule, outcome_rules.Facts.of(referral), days_from_today(-days_ago))
    try:
        claim(nacro_caseworker, referral, kind, days_ago=days_ago)
    except ValidationFailed as failure:
        assert not allowed and set(failure.errors) == {"achieved_on"}
    else:
        assert allowed
