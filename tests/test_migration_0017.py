"""Migration 0017 turns what was there into records: a service for each rate-card service code,
BeNCH's places for each CRC, and one probation office however its name was typed."""

from flask_migrate import downgrade, upgrade
from sqlalchemy import select

from portal.contracts.models import Service, Unit
from portal.extensions import db
from portal.places.models import County, Prison, ProbationOffice
from portal.referrals.models import LocationType, Referral
from tests.factories import ContractFactory, CrcFactory, RateCardItemFactory, ReferralFactory
from tests.helpers import days_from_today


def test_upgrading_makes_services_places_and_one_office_of_its_spellings(app):
    crc = CrcFactory(name="BeNCH CRC", places=False)
    contract = ContractFactory(crc=crc, title="Through the Gate", prisons=["HMP Bedford"], counties=["Bedfordshire"])
    RateCardItemFactory(contract=contract, code="A-SESSION", service_code="A", unit=Unit.PER_SESSION, name="Session")
    RateCardItemFactory(contract=contract, code="A-REF", service_code="A", unit=Unit.PER_REFERRAL, name="Housing")
    RateCardItemFactory(contract=contract, code="G", service_code="G", unit=Unit.MONTHLY_FIXED, name="Core grant")
    references = {}
    for typed in ("Bedford", "Bedford probation office", "Room 4, Somewhere"):
        referral = ReferralFactory(contract=contract, service_code="A", community_office=typed)
        references[typed] = referral.id
    custody = ReferralFactory(
        contract=contract,
        service_code="A",
        location_type=LocationType.CUSTODY,
        prison="HMP Bedford",
        community_office=None,
        expected_release_date=days_from_today(20),
    )
    custody_id, crc_id, contract_id = custody.id, crc.id, contract.id
    db.session.commit()
    db.session.remove()

    downgrade(revision="0016_billing_rules")
    upgrade()

    services = {s.code: s for s in db.session.scalars(select(Service).where(Service.contract_id == contract_id))}
    assert services["A"].name == "Housing" and services["A"].open_to_referrals
    assert services["G"].name == "Core grant" and not services["G"].open_to_referrals
    bedford = db.session.scalars(select(Prison).where(Prison.crc_id == crc_id, Prison.name == "HMP Bedford")).one()
    assert services["A"].prison_ids == [bedford.id]  # within the contract's area
    assert bedford.county.name == "Bedfordshire"
    assert db.session.scalars(select(County.name).where(County.crc_id == crc_id).order_by(County.name)).all() == [
        "Bedfordshire",
        "Cambridgeshire",
        "Hertfordshire",
        "Northamptonshire",
    ]
    offices = db.session.scalars(select(ProbationOffice).where(ProbationOffice.crc_id == crc_id)).all()
    assert sorted(o.name for o in offices) == ["Bedford probation office", "Room 4, Somewhere"]
    by_name = {o.name: o for o in offices}
    assert by_name["Bedford probation office"].county.name == "Bedfordshire"
    assert by_name["Room 4, Somewhere"].county is None  # for an administrator to say
    referrals = {r.id: r for r in db.session.scalars(select(Referral))}
    for typed in ("Bedford", "Bedford probation office"):
        merged = referrals[references[typed]]
        assert (merged.community_office, merged.probation_office_id) == (
            "Bedford probation office",
            by_name["Bedford probation office"].id,
        )
    assert referrals[custody_id].prison_id == bedford.id
