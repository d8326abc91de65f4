"""The pages for services: a contract manager names a service and says whom it takes; referrers find
open services in the directory by a word, a pathway or where they work."""

import re

from sqlalchemy import select

from portal.contracts.models import Service
from portal.extensions import db
from portal.places.models import ProbationOffice
from tests.helpers import text_of


def version_of(page):
    return re.search(r'name="version" type="hidden" value="(\d+)"', page.get_data(as_text=True)).group(1)


def test_contract_manager_says_whom_a_service_takes(portal, contract_manager, ttg_service):
    portal.sign_in(contract_manager)
    url = "/contracts/BENCH-ACC-01/services/ACC-TTG/edit"
    bedford = db.session.scalars(
        select(ProbationOffice.id).where(ProbationOffice.name == "Bedford probation office")
    ).first()
    db.session.rollback()
    response = portal.post(
        url,
        {
            "version": version_of(portal.get(url)),
            "name": "Nacro Through the Gate accommodation",
            "description": "Somewhere to live on release.",
            "pathway": "accommodation",
            "setting": "both",
            "sex": "female",
            "min_age": "21",
            "max_age": "",
            "probation_office_ids": [str(bedford)],
            "open_to_referrals": "y",
        },
    )
    assert response.status_code == 302
    page = text_of(portal.get("/contracts/BENCH-ACC-01/services"))
    assert "Nacro Through the Gate accommodation" in page
    assert "Women only" in page and "Aged 21 or over" in page and "Probation offices: Bedford probation office" in page


def test_a_service_form_names_the_field_in_error(portal, contract_manager, ttg_service):
    portal.sign_in(contract_manager)
    url = "/contracts/BENCH-ACC-01/services/new"
    page = text_of(portal.post(url, {"version": "", "code": "acc ttg", "name": "", "setting": "both"}))
    assert "Enter a service code of capital letters, numbers and hyphens, like ACC-TTG" in page
    assert "Enter the service's name, as referrers will see it" in page
    assert "Select the service's pathway" in page


def test_contract_manager_adds_a_service_that_referrers_then_find(
    portal, other_portal, contract_manager, referrer, ttg_service
):
    portal.sign_in(contract_manager)
    url = "/contracts/BENCH-ACC-01/services/new"
    portal.get(url)
    response = portal.post(
        url,
        {
            "version": "",
            "code": "ID-DOCS",
            "name": "Nacro ID documents before release",
            "pathway": "finance_benefit_debt",
            "setting": "custody",
            "sex": "",
            "open_to_referrals": "y",
        },
    )
    assert response.status_code == 302
    assert (
        db.session.scalars(select(Service.name).where(Service.code == "ID-DOCS")).one()
        == "Nacro ID documents before release"
    )
    other_portal.sign_in(referrer)
    directory = text_of(other_portal.get("/services/"))
    assert "Nacro ID documents before release" in directory and "Through the Gate accommodation" in directory
    assert "Core grant" not in directory  # closed to referrals
    found = text_of(other_portal.get("/services/", query_string={"q": "documents"}))
    assert "Nacro ID documents before release" in found and "Through the Gate accommodation" not in found
    found = text_of(other_portal.get("/services/", query_string={"setting": "community"}))
    assert "Nacro ID documents before release" not in found


def test_only_contract_managers_change_services_and_partners_do_not_browse(
    portal, nacro_manager, referrer, ttg_service
):
    portal.sign_in(nacro_manager)
    assert portal.get("/contracts/BENCH-ACC-01/services").status_code == 200
    assert portal.get("/contracts/BENCH-ACC-01/services/ACC-TTG/edit").status_code == 403
    assert portal.get("/services/").status_code == 403
    portal.sign_out()
    portal.sign_in(referrer)
    assert portal.get("/contracts/BENCH-ACC-01/services/ACC-TTG/edit").status_code == 403
