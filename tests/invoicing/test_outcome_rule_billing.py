"""Billing never pays an outcome outside its type's rule: outside its days (from acceptance, first
contact or release), beyond its most per referral, or without the evidence file it needs; a
credited outcome is never billed again. The SQL and the row-by-row oracle agree, on worked examples
and on random histories."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from portal.contracts.models import OutcomeFrom, Unit
from portal.delivery import outcome_rules
from portal.delivery.models import EvidenceFile, Outcome, OutcomeStatus
from portal.extensions import db
from portal.invoicing import billing
from portal.referrals.models import LocationType, Referral
from tests.factories import OutcomeTypeFactory
from tests.invoicing.test_billing_rules import Scenario


@pytest.fixture
def scenario(nacro_contract, referrer, nacro_caseworker):
    nacro_contract.start_date = date(2025, 4, 1)
    db.session.commit()
    return Scenario(nacro_contract, referrer, nacro_caseworker)


def outcome_type(scenario, **rule):
    kind = OutcomeTypeFactory(contract=scenario.contract, **rule)
    scenario.item(Unit.PER_OUTCOME, 40000, outcome_type=kind)
    return kind


def contacted(referral, day):
    referral.first_contact_at = datetime.combine(day, time(11), tzinfo=UTC)
    db.session.commit()
    return referral


def test_an_outcome_before_its_earliest_day_after_first_contact_is_not_billed(scenario):
    sustained = outcome_type(scenario, outcome_from=OutcomeFrom.START, outcome_earliest_days=91)
    referral = contacted(scenario.referral(date(2025, 11, 20)), date(2025, 12, 1))
    assert referral.first_contact_on == date(2025, 12, 1)
    scenario.outcome(referral, sustained, date(2026, 3, 1))  # 90 days after first contact
    scenario.outcome(referral, sustained, date(2026, 3, 2))  # 91: the first day allowed
    assert scenario.check() == [("ITEM-1", "1.00", 40000, 40000)]


def test_a_latest_day_closes_the_window(scenario):
    housed = outcome_type(scenario, outcome_earliest_days=0, outcome_latest_days=10)  # from acceptance
    referral = scenario.referral(date(2026, 3, 1))
    scenario.outcome(referral, housed, date(2026, 3, 11))  # day 10
    scenario.outcome(referral, housed, date(2026, 3, 12))  # day 11: too late
    assert scenario.check() == [("ITEM-1", "1.00", 40000, 40000)]


def test_release_counts_from_the_release_date_in_custody_and_first_contact_in_the_community(scenario):
    employed = outcome_type(scenario, outcome_from=OutcomeFrom.RELEASE)
    inside = scenario.referral(date(2026, 1, 5))
    inside.location_type, inside.expected_release_date = LocationType.CUSTODY, date(2026, 3, 20)
    db.session.commit()
    scenario.outcome(inside, employed, date(2026, 3, 10))  # before release: never paid
    scenario.outcome(inside, employed, date(2026, 3, 25))
    unknown = scenario.referral(date(2026, 1, 5))
    unknown.location_type = LocationType.CUSTODY  # no release date recorded: nothing to count from
    db.session.commit()
    scenario.outcome(unknown, employed, date(2026, 3, 25))
    outside = contacted(scenario.referral(date(2026, 2, 1)), date(2026, 2, 10))
    outside.location_type = LocationType.COMMUNITY
    db.session.commit()
    scenario.outcome(outside, employed, date(2026, 2, 9))  # before first contact
    scenario.outcome(outside, employed, date(2026, 3, 9))
    assert scenario.check() == [("ITEM-1", "2.00", 40000, 80000)]


def test_once_a_release_is_recorded_release_counts_from_the_day_it_happened(scenario, nacro_caseworker):
    """Through the Gate records the release and moves the person to the community on the same case:
    "from release" then counts from the real release, not the expected date nor first contact."""
    from portal.referrals.models import ReleaseType
    from portal.ttg.models import FirstNight, ReleaseRecord

    employed = outcome_type(scenario, outcome_from=OutcomeFrom.RELEASE)
    released = contacted(scenario.referral(date(2026, 1, 5)), date(2026, 1, 12))
    released.expected_release_date = date(2026, 3, 20)  # expected; out early, on 2 March
    db.session.add(
        ReleaseRecord(
            referral_id=released.id,
            released_on=date(2026, 3, 2),
            release_type=ReleaseType.CONDITIONAL_RELEASE,
            prison="HMP Bedford",
            community_office="Bedford probation office",
            first_night=FirstNight.OWN_TENANCY,
            recorded_at=datetime(2026, 3, 2, 15, tzinfo=UTC),
            recorded_by_id=nacro_caseworker.id,
        )
    )
    released.location_type = LocationType.COMMUNITY
    db.session.commit()
    scenario.outcome(released, employed, date(2026, 3, 1))  # the day before release: never paid
    scenario.outcome(released, employed, date(2026, 3, 5))  # after the release, before the expected date
    assert scenario.check() == [("ITEM-1", "1.00", 40000, 40000)]
    rule, facts = outcome_rules.Rule.of(employed), outcome_rules.Facts.of(released)
    assert outcome_rules.anchor(rule, facts) == (date(2026, 3, 2), "release")


def test_only_the_first_outcomes_up_to_the_most_per_referral_are_billed(scenario):
    opened = outcome_type(scenario, max_per_referral=1)
    referral = scenario.referral(date(2026, 2, 1))
    first = scenario.outcome(referral, opened, date(2026, 3, 3))
    scenario.outcome(referral, opened, date(2026, 3, 10))
    assert scenario.check() == [("ITEM-1", "1.00", 40000, 40000)]
    events = db.session.execute(billing.billable_events(scenario.contract, date(2026, 3, 31))).all()
    assert [event.outcome_id for event in events] == [first.id]


def test_an_outcome_needing_evidence_is_billed_only_with_a_file(scenario, nacro_caseworker):
    completed = outcome_type(scenario, evidence_required=True)
    referral = scenario.referral(date(2026, 2, 1))
    scenario.outcome(referral, completed, date(2026, 3, 3))
    with_file = scenario.outcome(referral, completed, date(2026, 3, 4))
    db.session.add(
        EvidenceFile(
            outcome_id=with_file.id,
            original_name="certificate.pdf",
            stored_name="certificate-stored.pdf",
            content_type="application/pdf",
            size_bytes=10,
            sha256="0" * 64,
            uploaded_by_id=nacro_caseworker.id,
        )
    )
    db.session.commit()
    assert scenario.check() == [("ITEM-1", "1.00", 40000, 40000)]


def test_a_credited_outcome_is_never_billed(scenario):
    housed = outcome_type(scenario)
    referral = scenario.referral(date(2026, 2, 1))
    scenario.outcome(referral, housed, date(2026, 3, 3), status=OutcomeStatus.CREDITED)
    assert scenario.check() == []


# --- random histories -----------------------------------------------------------------------------------

rules = st.fixed_dictionaries(
    {
        "outcome_from": st.sampled_from([None, OutcomeFrom.START, OutcomeFrom.RELEASE]),
        "outcome_earliest_days": st.integers(0, 60),
        "outcome_latest_days": st.one_of(st.none(), st.integers(0, 90)),
        "max_per_referral": st.one_of(st.none(), st.integers(1, 3)),
    }
)
histories = st.lists(
    st.tuples(
        st.integers(0, 2),  # which referral
        st.integers(0, 120),  # achieved, days after 1 December 2025
        st.sampled_from([OutcomeStatus.VERIFIED, OutcomeStatus.VERIFIED, OutcomeStatus.CREDITED]),
    ),
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rule=rules, history=histories)
def test_random_claims_never_bill_an_outcome_outside_its_rule(scenario, rule, history):
    if rule["outcome_latest_days"] is not None and rule["outcome_latest_days"] < rule["outcome_earliest_days"]:
        rule["outcome_latest_days"] = rule["outcome_earliest_days"]
    kind = outcome_type(scenario, **rule)
    referrals = [
        contacted(scenario.referral(date(2025, 12, 1)), date(2025, 12, 8)),
        scenario.referral(date(2025, 12, 15)),  # no first contact yet
        scenario.referral(date(2025, 11, 1)),
    ]
    referrals[2].location_type, referrals[2].expected_release_date = LocationType.CUSTODY, date(2026, 1, 10)
    db.session.commit()
    for which, days, status in history:
        scenario.outcome(referrals[which], kind, date(2025, 12, 1) + timedelta(days=days), status=status)
    try:
        scenario.check()  # the SQL and the oracle agree
        events = db.session.execute(billing.billable_events(scenario.contract, date(2026, 3, 31))).all()
        billed = [db.session.get(Outcome, event.outcome_id) for event in events]
        counted: dict[int, int] = {}
        for outcome in sorted(billed, key=lambda o: (o.achieved_on, o.id)):
            referral = db.session.get(Referral, outcome.referral_id)
            assert outcome.status == OutcomeStatus.VERIFIED
            assert outcome_rules.allows(
                outcome_rules.Rule.of(kind), outcome_rules.Facts.of(referral), outcome.achieved_on
            )
            counted[referral.id] = counted.get(referral.id, 0) + 1
            assert rule["max_per_referral"] is None or counted[referral.id] <= rule["max_per_referral"]
    finally:
        # Hypothesis runs every example on the one database: the next starts with no outcome.
        db.session.rollback()
        db.session.execute(delete(Outcome))
        db.session.commit()
