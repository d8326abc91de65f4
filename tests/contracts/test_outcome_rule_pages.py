"""Contract managers set each outcome type's rule on its page: audited, versioned, refused field by
field; partners read it and cannot change it."""

from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.contracts.models import OutcomeFrom, OutcomeType
from portal.extensions import db
from tests.factories import OutcomeTypeFactory
from tests.helpers import text_of


def edit(portal, outcome_type, **fields):
    data = {
        "name": outcome_type.name,
        "pathway": outcome_type.pathway.value,
        "active": "y",
        "outcome_from": "",
        "outcome_earliest_days": "0",
        "outcome_latest_days": "",
        "max_per_referral": "",
    } | fields
    return portal.post(f"/contracts/{outcome_type.contract.reference}/outcome-types/{outcome_type.id}/edit", data)


def test_contract_manager_sets_a_rule_and_it_is_audited(portal, contract_manager, nacro_contract):
    sustained = OutcomeTypeFactory(contract=nacro_contract, name="Accommodation sustained for 13 weeks")
    portal.sign_in(contract_manager)
    form = text_of(portal.get(f"/contracts/BENCH-ACC-01/outcome-types/{sustained.id}/edit"))
    assert "Days are counted from" in form
    response = edit(
        portal,
        sustained,
        version=str(sustained.version),
        outcome_from="start",
        outcome_earliest_days="91",
        max_per_referral="1",
        evidence_required="y",
    )
    assert response.status_code == 302
    db.session.refresh(sustained)
    assert (sustained.outcome_from, sustained.outcome_earliest_days, sustained.outcome_latest_days) == (
        OutcomeFrom.START,
        91,
        None,
    )
    assert sustained.max_per_referral == 1 and sustained.evidence_required and not sustained.recorded_unpaid
    assert sustained.version == 2
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "outcome_type.updated")).one()
    assert event.details["changes"]["outcome_earliest_days"] == {"before": 0, "after": 91}
    page = text_of(portal.get("/contracts/BENCH-ACC-01/outcome-types"))
    assert "Achieved at least 91 days after first contact; at most 1 per referral; an evidence file is required" in page


def test_a_rule_is_refused_field_by_field(portal, contract_manager, nacro_contract):
    kind = OutcomeTypeFactory(contract=nacro_contract)
    portal.sign_in(contract_manager)
    page = text_of(
        edit(
            portal,
            kind,
            outcome_from="sentencing",
            outcome_earliest_days="ten",
            max_per_referral="0",
        )
    )
    assert "There is a problem" in page
    assert "Select the event the days are counted from" in page
    assert "Enter the earliest day as a whole number from 0 to 3660" in page
    assert "Enter the most per referral as a whole number from 1 to 1000" in page
    page = text_of(edit(portal, kind, outcome_earliest_days="30", outcome_latest_days="7"))
    assert "The latest day must be the same as the earliest day or after it" in page
    db.session.refresh(kind)
    assert kind.outcome_earliest_days == 0 and kind.version == 1


def test_a_rule_changed_meanwhile_is_not_overwritten(portal, contract_manager, nacro_contract):
    kind = OutcomeTypeFactory(contract=nacro_contract)
    read = kind.version
    kind.outcome_earliest_days = 14
    db.session.commit()
    portal.sign_in(contract_manager)
    page = text_of(edit(portal, kind, version=str(read), outcome_earliest_days="91"))
    assert "changed by someone else" in page
    db.session.refresh(kind)
    assert kind.outcome_earliest_days == 14


def test_a_new_outcome_type_is_added_with_its_rule(portal, contract_manager, nacro_contract):
    portal.sign_in(contract_manager)
    response = portal.post(
        "/contracts/BENCH-ACC-01/outcome-types",
        {
            "code": "entered_employment",
            "name": "Entered employment on release",
            "pathway": "ete",
            "outcome_from": "release",
            "outcome_earliest_days": "0",
            "outcome_latest_days": "",
            "max_per_referral": "",
            "recorded_unpaid": "y",
        },
    )
    assert response.status_code == 302
    kind = db.session.scalars(select(OutcomeType)).one()
    assert kind.outcome_from == OutcomeFrom.RELEASE and kind.recorded_unpaid


def test_a_partner_reads_the_rules_but_cannot_change_them(portal, nacro_manager, nacro_contract, st_giles_contract):
    kind = OutcomeTypeFactory(contract=nacro_contract, outcome_from=OutcomeFrom.START, outcome_earliest_days=91)
    theirs = OutcomeTypeFactory(contract=st_giles_contract)
    portal.sign_in(nacro_manager)
    assert "Achieved at least 91 days after first contact" in text_of(
        portal.get("/contracts/BENCH-ACC-01/outcome-types")
    )
    assert edit(portal, kind, outcome_earliest_days="0").status_code == 403
    assert portal.get(f"/contracts/BENCH-ETE-02/outcome-types/{theirs.id}/edit").status_code == 404
    db.session.refresh(kind)
    assert kind.outcome_earliest_days == 91
