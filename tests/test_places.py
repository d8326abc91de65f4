"""Counties, prisons and probation offices are reference data a CRC's administrators keep: pages to
add, change and retire them, and a CSV file imported all or nothing with row numbers."""

import io

from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.places import service
from portal.places.models import County, Prison, ProbationOffice, office_key
from tests.factories import CrcFactory, UserFactory
from tests.helpers import text_of


def count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def upload(portal, content):
    portal.get("/places/import")
    return portal.post(
        "/places/import", {"file": (io.BytesIO(content), "places.csv")}, content_type="multipart/form-data"
    )


def test_spellings_of_one_office_are_one_office():
    assert office_key("Bedford") == office_key("Bedford probation office") == office_key(" bedford Probation Office.")
    assert office_key("Luton") != office_key("Bedford")


def test_an_admin_adds_changes_and_retires_a_probation_office(portal, admin):
    portal.sign_in(admin)
    page = text_of(portal.get("/places/"))
    assert "Bedford probation office" in page and "HMP Littlehey" in page
    herts = db.session.scalars(
        select(County).where(County.crc_id == admin.organisation_id, County.name == "Hertfordshire")
    ).one()
    portal.get("/places/new?kind=probation-offices")
    response = portal.post(
        "/places/new?kind=probation-offices",
        {"name": "St Albans probation office", "county_id": str(herts.id), "active": "y"},
    )
    assert response.status_code == 302
    office = db.session.scalars(
        select(ProbationOffice).where(ProbationOffice.name == "St Albans probation office")
    ).one()
    assert office.county_id == herts.id
    url = f"/places/probation-offices/{office.id}/edit"
    portal.get(url)
    response = portal.post(url, {"name": "St Albans probation office", "county_id": str(herts.id), "version": "1"})
    assert response.status_code == 302
    db.session.expire_all()
    assert office.active is False  # retired: the box was not ticked
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.record_type == "probation_office")).all()
    assert actions == ["probation_office.created", "probation_office.updated"]


def test_an_office_needs_a_county_and_a_name_of_its_own(portal, admin):
    portal.sign_in(admin)
    portal.get("/places/new?kind=probation-offices")
    page = text_of(
        portal.post("/places/new?kind=probation-offices", {"name": "Bedford probation office", "county_id": ""})
    )
    assert "There is already a probation office called Bedford probation office" in page
    assert "Select the county the office is in" in page


def test_the_csv_import_is_all_or_nothing_naming_each_row(portal, admin):
    portal.sign_in(admin)
    before = count(ProbationOffice)
    bad = (
        b"kind,name,county,active\n"
        b"probation_office,Letchworth probation office,Hertfordshire,\n"
        b"probation_office,Ely probation office,Atlantis,\n"
        b"castle,Windsor,,\n"
        b"county,Essex,,maybe\n"
    )
    page = text_of(upload(portal, bad))
    assert "Row 3, column county: No county called Atlantis" in page
    assert "Row 4, column kind: Enter county, prison or probation_office" in page
    assert "Row 5, column active: Enter yes or no (empty means yes)" in page
    assert count(ProbationOffice) == before  # nothing saved
    good = (
        b"kind,name,county,active\n"
        b"probation_office,Harlow probation office,Essex,\n"
        b"county,Essex,,\n"
        b"prison,HMP Littlehey,Cambridgeshire,no\n"
    )
    assert upload(portal, good).status_code == 302
    harlow = db.session.scalars(select(ProbationOffice).where(ProbationOffice.name == "Harlow probation office")).one()
    assert harlow.county.name == "Essex"
    assert (
        db.session.scalars(
            select(Prison.active).where(Prison.name == "HMP Littlehey", Prison.crc_id == admin.organisation_id)
        ).one()
        is False
    )


def test_only_administrators_keep_places_and_only_their_own_crcs(portal, referrer, admin):
    portal.sign_in(referrer)
    assert portal.get("/places/").status_code == 403
    portal.sign_out()
    other = CrcFactory(name="Other CRC")
    theirs = db.session.scalars(select(Prison.id).where(Prison.crc_id == other.id)).first()
    db.session.rollback()  # let the pages write (SQLite)
    portal.sign_in(admin)
    assert portal.get(f"/places/prisons/{theirs}/edit").status_code == 404


def test_a_retired_prison_is_not_offered_or_accepted(admin, referrer):
    littlehey = db.session.scalars(
        select(Prison).where(Prison.name == "HMP Littlehey", Prison.crc_id == admin.organisation_id)
    ).one()
    service.update_place(admin, littlehey, active=False, county_id=littlehey.county_id, name=littlehey.name)
    assert service.find_prison(admin.organisation_id, "HMP Littlehey") is None
    assert service.find_prison(admin.organisation_id, "hmp bedford").name == "HMP Bedford"


def test_a_second_crc_has_places_of_its_own(admin):
    other = CrcFactory(name="Northern CRC", places=False)
    other_admin = UserFactory(organisation=other, role="admin", email="admin@northern.example")
    service.add_place(other_admin, County, name="Cumbria")
    assert count(County, County.crc_id == other.id) == 1
    assert service.find_office(admin.organisation_id, "Cumbria") is None
