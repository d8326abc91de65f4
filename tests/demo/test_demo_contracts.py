"""The demo supply chain's contracts: every Annex 3 partner has a live, realistic rate card.

These tests only read the demo data, so they share one load of it (see the fixtures below).
"""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.contracts.models import Contract, ContractStatus, OutcomeType, RateCardItem, Unit
from portal.contracts.pricing import find_overlaps, price_on
from portal.dates import financial_year_start, london_today
from portal.demo.loader import load_demo_data
from portal.demo.supply_chain import PARTNERS
from portal.extensions import db
from portal.organisations.models import Organisation
from portal.places.bench import COUNTIES, PRISONS
from tests.conftest import _clean_tables


@pytest.fixture(scope="module")
def demo_data(observer_app):  # type: ignore[no-untyped-def]
    with observer_app.app_context():
        load_demo_data(history=False)
    yield
    with observer_app.app_context():
        _clean_tables(observer_app)


@pytest.fixture(autouse=True)
def _database(observer_app, demo_data):  # type: ignore[no-untyped-def]
    """Replaces the suite's per-test emptying: here every test reads the same demo data."""
    with observer_app.app_context():
        yield
        db.session.rollback()


DAY = timedelta(days=1)


def contracts(*statuses):
    statement = select(Contract).order_by(Contract.reference)
    if statuses:
        statement = statement.where(Contract.status.in_(statuses))
    return db.session.scalars(statement).all()


def items_of(contract_list):
    return db.session.scalars(
        select(RateCardItem).where(RateCardItem.contract_id.in_([c.id for c in contract_list]))
    ).all()


def test_every_annex_3_partner_has_an_active_contract():
    partners_with_active = {contract.partner.name for contract in contracts(ContractStatus.ACTIVE)}
    assert partners_with_active == {demo.name for demo in PARTNERS}


def test_a_partner_can_hold_several_contracts():
    by_partner = {}
    for contract in contracts(ContractStatus.ACTIVE):
        by_partner.setdefault(contract.partner.name, []).append(contract.reference)
    assert by_partner["Nacro"] == ["BENCH-ACC-01", "BENCH-ACC-02"]
    assert by_partner["St Giles Trust"] == ["BENCH-ETE-01", "BENCH-ETE-02"]


def test_there_is_a_draft_contract_still_to_start_and_one_that_ended_before_the_others_began():
    today = london_today()
    (draft,) = contracts(ContractStatus.DRAFT)
    assert draft.reference == "BENCH-VET-01" and draft.start_date > today
    (ended,) = contracts(ContractStatus.ENDED)
    assert ended.reference == "BENCH-ACC-P1" and ended.end_date < today
    assert ended.end_date == financial_year_start(today).replace(year=financial_year_start(today).year - 1) - DAY


def test_references_follow_the_crc_pattern_and_active_contracts_run_three_financial_years_around_today():
    for contract in contracts():
        assert re.fullmatch(r"BENCH-[A-Z]{2,3}-[A-Z0-9]{2}", contract.reference)
    this_year = financial_year_start(london_today())
    for contract in contracts(ContractStatus.ACTIVE):
        # Loaded on any day: at least a year of the contract behind it, and a year ahead of it.
        assert contract.start_date == this_year.replace(year=this_year.year - 1)
        assert contract.end_date == this_year.replace(year=this_year.year + 2) - DAY


def test_every_unit_appears_on_a_live_rate_card():
    units = {item.unit for item in items_of(contracts(ContractStatus.ACTIVE))}
    assert units == set(Unit)


def test_rate_cards_mix_units_as_the_services_are_paid():
    def units(reference):
        (contract,) = [c for c in contracts() if c.reference == reference]
        return {item.unit for item in items_of([contract])}

    # Through the Gate accommodation: a referral fee and payments for outcomes.
    assert {Unit.PER_REFERRAL, Unit.PER_OUTCOME} <= units("BENCH-ACC-01")
    assert {Unit.PER_REFERRAL, Unit.PER_OUTCOME} <= units("BENCH-ACC-03")
    assert units("BENCH-MEN-01") >= {Unit.PER_HOUR}  # peer mentoring by the hour
    assert units("BENCH-DV-01") >= {Unit.PER_SESSION, Unit.PER_RAR_DAY}  # DV programme
    assert units("BENCH-FAM-01") == {Unit.PER_SESSION, Unit.PER_OUTCOME}  # family support
    assert units("BENCH-MEN-01") >= {Unit.MONTHLY_FIXED}  # the service user council, a fixed monthly amount


def test_no_grant_has_unit_prices_and_each_is_paid_by_a_schedule_of_instalments():
    """Issue 18: the women's centres' grants (Tier III) are paid by schedules of instalments, not
    by a rate card; those that take referrals have services open to them from the start."""
    from portal.contracts.models import ContractTier, Service
    from portal.grants import service as grants

    grants_held = [c for c in contracts(ContractStatus.ACTIVE) if c.tier == ContractTier.GRANT]
    assert [c.reference for c in grants_held] == ["BENCH-WOM-01", "BENCH-WOM-02", "BENCH-WOM-03", "BENCH-WOM-04"]
    assert items_of(grants_held) == []
    for grant in grants_held:
        schedule = grants.schedule_of(grant)
        assert schedule and sum(i.amount_pence for i in schedule) <= grant.value_cap_pence, grant.reference
        assert schedule[0].period_start == grant.start_date and schedule[-1].period_end == grant.end_date
    timings = {
        grant.reference: {(i.timing.value, i.needs_accepted_return) for i in grants.schedule_of(grant)}
        for grant in grants_held
    }
    # The schedules differ: in arrears on accepted returns, in advance, monthly and quarterly.
    assert ("arrears", True) in timings["BENCH-WOM-01"]
    assert timings["BENCH-WOM-02"] == timings["BENCH-WOM-03"] == {("advance", False)}
    periods = {grant.reference: len(grants.schedule_of(grant)) for grant in grants_held}
    assert periods["BENCH-WOM-01"] == periods["BENCH-WOM-03"] == 3 * periods["BENCH-WOM-02"]
    services = db.session.scalars(
        select(Service).where(Service.contract_id.in_([grant.id for grant in grants_held])).order_by(Service.code)
    ).all()
    assert [(s.code, s.open_to_referrals) for s in services] == [
        ("WOM-BED", True),
        ("WOM-CAM", True),
        ("WOM-LUT", True),
    ]


def test_price_periods_of_an_item_never_overlap_and_fall_within_the_contract():
    for contract in contracts():
        for item in items_of([contract]):
            assert item.prices, item.code
            assert find_overlaps(item.prices) == [], item.code
            for period in item.prices:
                assert contract.start_date <= period.effective_from <= contract.end_date
                assert period.effective_to is None or period.effective_to <= contract.end_date


def test_every_live_item_has_a_price_on_every_day_of_its_contract():
    for contract in contracts(ContractStatus.ACTIVE):
        for item in items_of([contract]):
            for day in (contract.start_date, price_change() - DAY, price_change(), contract.end_date):
                assert price_on(item, day) is not None, (item.code, day)


def price_change():
    """The first day of this financial year, when some prices change."""
    return financial_year_start(london_today())


def test_some_prices_change_on_1_april_this_financial_year():
    changed = [
        item.code
        for item in items_of(contracts(ContractStatus.ACTIVE))
        if price_on(item, price_change() - DAY).unit_price_pence != price_on(item, price_change()).unit_price_pence
    ]
    assert len(changed) >= 2
    assert {"ACC-TTG-NIGHT", "MEN-PEER-HOUR"} <= set(changed)
    night = db.session.scalars(select(RateCardItem).where(RateCardItem.code == "ACC-TTG-NIGHT")).one()
    assert [(p.unit_price_pence, p.effective_from, p.effective_to) for p in night.prices] == [
        (40000, price_change().replace(year=price_change().year - 1), price_change() - DAY),
        (42500, price_change(), None),
    ]


def test_prices_and_caps_are_plausible():
    for item in items_of(contracts()):
        for period in item.prices:
            assert 20_00 <= period.unit_price_pence <= 5_000_00, item.code
    referral_fees = {item.prices[0].unit_price_pence for item in items_of(contracts()) if item.unit == "per_referral"}
    assert 150_00 in referral_fees
    for contract in contracts(ContractStatus.ACTIVE, ContractStatus.DRAFT):
        assert 100_000_00 <= contract.value_cap_pence <= 600_000_00, contract.reference


def test_some_items_limit_the_units_per_referral():
    limited = [item for item in items_of(contracts()) if item.max_units_per_referral]
    assert len(limited) >= 10
    assert all(item.unit != Unit.MONTHLY_FIXED for item in limited)


def test_each_per_outcome_item_pays_for_an_outcome_of_its_own_pathway():
    for item in items_of(contracts()):
        if item.unit == Unit.PER_OUTCOME:
            assert item.outcome_type is not None, item.code
            assert item.outcome_type.contract_id == item.contract_id
            assert item.outcome_type.pathway == item.pathway, item.code
        else:
            assert item.outcome_type is None


def test_contracts_recognise_a_realistic_set_of_outcomes():
    codes = set(db.session.scalars(select(OutcomeType.code)).all())
    assert {
        "accommodation_secured_first_night",
        "accommodation_sustained_13_weeks",
        "entered_employment",
        "entered_education_or_training",
        "benefit_claim_made",
        "bank_account_opened",
        "debt_plan_agreed",
        "programme_completed",
    } <= codes
    for contract in contracts():
        assert db.session.scalars(select(OutcomeType).where(OutcomeType.contract_id == contract.id)).first()


def test_only_nacro_charges_vat_and_it_has_a_vat_number():
    for contract in contracts():
        expected = 2000 if contract.partner.name == "Nacro" else 0
        assert contract.vat_rate_bp == expected, contract.reference
    nacro = db.session.scalars(select(Organisation).where(Organisation.name == "Nacro")).one()
    assert nacro.vat_number


def test_grants_go_to_tier_iii_partners_and_subcontracts_to_tier_ii():
    for contract in contracts():
        assert contract.tier.value == {"II": "subcontract", "III": "grant"}[contract.partner.tier.value]


def test_service_areas_are_the_cpas_counties_and_prisons_as_in_annex_3():
    for contract in contracts():
        assert set(contract.county_names) <= set(COUNTIES) and set(contract.prison_names) <= set(PRISONS)
        assert contract.counties or contract.prisons
        # The CRC's own records, in use: the administrators' list, not names typed into the contract.
        assert all(place.crc_id == contract.crc_id and place.active for place in contract.counties + contract.prisons)
    by_reference = {contract.reference: contract for contract in contracts()}
    assert by_reference["BENCH-ACC-01"].prison_names == ["HMP Bedford", "HMP Woodhill"]
    assert by_reference["BENCH-ACC-02"].county_names == ["Bedfordshire", "Northamptonshire"]
    assert by_reference["BENCH-ACC-03"].prison_names == ["HMP The Mount"]
    assert by_reference["BENCH-ACC-03"].county_names == ["Hertfordshire"]
    assert by_reference["BENCH-DV-01"].county_names == list(COUNTIES)
    assert "HMP Peterborough (male)" in by_reference["BENCH-DV-01"].prison_names
    assert by_reference["BENCH-WOM-04"].county_names == ["Northamptonshire"]


def test_the_demo_contract_manager_did_the_work_and_the_audit_log_shows_it():
    manager = db.session.scalars(select(User).where(User.email == "contracts@bench-crc.example")).one()
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.record_type != "user")).all()
    contract_events = [
        event
        for event in events
        if event.action.split(".")[0] != "organisation"
        # The portal itself opens a service when its first item to refer to is imported (issue 15).
        and not (event.action == "service.opened" and event.actor_id is None)
    ]
    assert {event.actor_id for event in contract_events} == {manager.id}
    counts = {}
    for event in contract_events:
        counts[event.action] = counts.get(event.action, 0) + 1
    assert counts["contract.created"] == len(contracts())
    assert counts["contract.activated"] == len(contracts(ContractStatus.ACTIVE, ContractStatus.ENDED))
    assert counts["contract.ended"] == 1
    assert counts["outcome_type.created"] == db.session.query(OutcomeType).count()
    assert counts["rate_card_item.created"] == db.session.query(RateCardItem).count()
    assert counts["rate_card.imported"] >= 1  # most rate cards came from a spreadsheet
    created = next(event for event in contract_events if event.action == "contract.created")
    assert created.details["reference"].startswith("BENCH-") and created.details["value_cap_pence"] > 0
