"""A contract covers the CRC's own counties and prisons, the records its administrators keep: renaming
a place renames it on the contract, retiring one keeps it there but offers it for nothing new, and a
name that is not one of the CRC's places in use is refused naming it."""

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.audit.models import AuditEvent
from portal.contracts import service
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.places import service as places
from portal.places.models import County, Prison
from tests.contracts.test_service import contract_fields
from tests.factories import CrcFactory
from tests.helpers import STORY_DAY, text_of

pytestmark = pytest.mark.on_day(STORY_DAY)


def fields(partner, **overrides):
    """A new contract's fields (those of the service tests), covering one county and one prison."""
    return contract_fields(partner, **({"reference": "BENCH-MEN-03", "prisons": ["HMP The Mount"]} | overrides))


def place(model, crc, name):
    return db.session.scalars(select(model).where(model.crc_id == crc.id, model.name == name)).one()


def contract_fields_of(contract, **overrides):
    return {name: getattr(contract, name) for name in service.CONTRACT_FIELDS} | overrides


def test_a_contract_covers_the_crcs_own_place_records_named_in_any_case(contract_manager, crc, nacro):
    contract = service.create_contract(
        contract_manager, **fields(nacro, counties=["hertfordshire ", "Bedfordshire"], prisons=["hmp the mount"])
    )
    assert contract.counties == [place(County, crc, "Bedfordshire"), place(County, crc, "Hertfordshire")]
    assert contract.prisons == [place(Prison, crc, "HMP The Mount")]
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "contract.created")).one()
    assert (event.details["counties"], event.details["prisons"]) == (
        ["Bedfordshire", "Hertfordshire"],
        ["HMP The Mount"],
    )


def test_a_place_the_crc_does_not_have_is_refused_naming_it(contract_manager, nacro):
    with pytest.raises(ValidationFailed) as failure:
        service.create_contract(contract_manager, **fields(nacro, counties=["Kent", "Bedfordshire", "Surrey"]))
    assert failure.value.errors == {
        "counties": [
            "There is no county called Kent in use: select one from the list",
            "There is no county called Surrey in use: select one from the list",
        ]
    }


def test_another_crcs_county_cannot_be_chosen_even_by_its_id(contract_manager, nacro):
    theirs = place(County, CrcFactory(name="Northern CRC"), "Bedfordshire")
    with pytest.raises(ValidationFailed) as failure:
        service.create_contract(contract_manager, **fields(nacro, counties=[theirs.id]))
    assert failure.value.errors == {"counties": ["Select a county from the list"]}


def test_renaming_a_place_renames_it_on_the_contracts_that_cover_it(portal, admin, contract_manager, nacro_contract):
    bedford = place(Prison, nacro_contract.crc, "HMP Bedford")
    places.update_place(admin, bedford, name="HMP & YOI Bedford", county_id=bedford.county_id)
    db.session.expire_all()
    assert nacro_contract.prison_names == ["HMP & YOI Bedford", "HMP Woodhill"]
    portal.sign_in(contract_manager)
    assert "Prisons: HMP & YOI Bedford, HMP Woodhill" in text_of(portal.get("/contracts/BENCH-ACC-01"))


def test_a_retired_place_stays_on_its_contracts_but_no_new_contract_may_name_it(
    portal, admin, contract_manager, nacro, nacro_contract
):
    woodhill = place(Prison, nacro_contract.crc, "HMP Woodhill")
    places.update_place(admin, woodhill, active=False, name=woodhill.name, county_id=None)
    db.session.expire_all()

    assert nacro_contract.prison_names == ["HMP Bedford", "HMP Woodhill"]
    # The contract can still be changed with it...
    service.update_contract(contract_manager, nacro_contract, **contract_fields_of(nacro_contract, title="Renamed"))
    assert nacro_contract.prison_names == ["HMP Bedford", "HMP Woodhill"]
    # ...but no other contract can take it on.
    with pytest.raises(ValidationFailed) as failure:
        service.create_contract(contract_manager, **fields(nacro, prisons=["HMP Woodhill"]))
    assert failure.value.errors == {
        "prisons": ["There is no prison called HMP Woodhill in use: select one from the list"]
    }

    portal.sign_in(contract_manager)
    assert "Prisons: HMP Bedford, HMP Woodhill (retired)" in text_of(portal.get("/contracts/BENCH-ACC-01"))
    assert "HMP Woodhill (retired)" in text_of(portal.get("/contracts/BENCH-ACC-01/edit"))
    assert "HMP Woodhill" not in text_of(portal.get("/contracts/new"))


def test_changing_only_the_places_raises_the_version_and_is_audited(contract_manager, nacro_contract):
    read = nacro_contract.version
    service.update_contract(
        contract_manager, nacro_contract, version=read, **contract_fields_of(nacro_contract, prisons=["HMP Bedford"])
    )
    assert nacro_contract.version == read + 1
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "contract.updated")).one()
    assert event.details["changes"] == {
        "prisons": {"before": ["HMP Bedford", "HMP Woodhill"], "after": ["HMP Bedford"]}
    }


def test_a_place_a_contract_covers_cannot_be_deleted_from_under_it(nacro_contract):
    db.session.delete(place(Prison, nacro_contract.crc, "HMP Woodhill"))  # no office or referral names it
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_the_contract_page_reads_its_places_in_the_same_queries_however_many_it_covers(
    app, portal, contract_manager, crc, nacro
):
    from tests.factories import ContractFactory
    from tests.helpers import QueryCounter

    ContractFactory(reference="BENCH-ONE-01", crc=crc, partner=nacro, counties=["Bedfordshire"])
    ContractFactory(
        reference="BENCH-ALL-01",
        crc=crc,
        partner=nacro,
        counties=["Bedfordshire", "Cambridgeshire", "Hertfordshire", "Northamptonshire"],
        prisons=["HMP Bedford", "HMP Littlehey", "HMP The Mount", "HMP Woodhill"],
    )
    portal.sign_in(contract_manager)
    portal.get("/contracts/BENCH-ONE-01")
    with QueryCounter(app) as one:
        assert portal.get("/contracts/BENCH-ONE-01").status_code == 200
    with QueryCounter(app) as eight:
        page = text_of(portal.get("/contracts/BENCH-ALL-01"))
    assert "Prisons: HMP Bedford, HMP Littlehey, HMP The Mount, HMP Woodhill" in page
    assert eight.count == one.count
