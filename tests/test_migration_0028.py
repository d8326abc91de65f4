"""Migration 0028 turns the names a contract listed into its CRC's place records: matched by name in
any case, a name the CRC's list lacks kept as a retired place of that CRC; downgrading writes the
names back."""

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from sqlalchemy import select

from portal.contracts.models import Contract
from portal.extensions import db
from portal.places.models import County, Prison
from tests.factories import ContractFactory, CrcFactory

OLD_CONTRACT = sa.table("contract", sa.column("id"), sa.column("counties", sa.JSON()), sa.column("prisons", sa.JSON()))


def names_listed(contract_id):
    row = db.session.execute(select(OLD_CONTRACT).where(OLD_CONTRACT.c.id == contract_id)).one()
    return row.counties, row.prisons


def test_downgrading_lists_the_names_and_upgrading_links_each_crcs_own_places(app):
    bench = CrcFactory(name="BeNCH CRC")
    other = CrcFactory(name="Northern CRC")
    ours = ContractFactory(crc=bench, counties=["Northamptonshire", "Bedfordshire"], prisons=["HMP Bedford"])
    theirs = ContractFactory(crc=other, counties=["Bedfordshire"], prisons=[])
    ours_id, theirs_id, bench_id, other_id = ours.id, theirs.id, bench.id, other.id
    db.session.commit()
    db.session.remove()

    downgrade(revision="0027_peppol_participant_id")
    assert names_listed(ours_id) == (["Bedfordshire", "Northamptonshire"], ["HMP Bedford"])
    assert names_listed(theirs_id) == (["Bedfordshire"], [])
    # Names as people typed them before there were records: any case, stray spaces, twice, or a
    # prison the CRC's list does not have.
    db.session.execute(
        OLD_CONTRACT.update()
        .where(OLD_CONTRACT.c.id == ours_id)
        .values(counties=["bedfordshire", " Hertfordshire ", "Bedfordshire"], prisons=["HMP Nowhere", "hmp nowhere"])
    )
    db.session.commit()
    db.session.remove()

    upgrade()

    ours, theirs = db.session.get(Contract, ours_id), db.session.get(Contract, theirs_id)
    assert ours.county_names == ["Bedfordshire", "Hertfordshire"]
    assert {county.crc_id for county in ours.counties} == {bench_id}
    assert theirs.county_names == ["Bedfordshire"] and theirs.counties[0].crc_id == other_id
    # Kept, not lost: a place of that CRC, retired so nothing new is offered it.
    (nowhere,) = ours.prisons
    assert (nowhere.name, nowhere.crc_id, nowhere.active) == ("HMP Nowhere", bench_id, False)
    assert db.session.scalars(select(Prison.crc_id).where(Prison.name == "HMP Nowhere")).all() == [bench_id]
    assert db.session.scalar(select(sa.func.count()).select_from(County).where(County.crc_id == bench_id)) == 4
