"""Organisation pages: the CRC's staff see the supply chain; partners see only themselves."""

import pytest

from tests.helpers import text_of


def test_contract_manager_sees_every_organisation_with_its_active_users(
    portal, contract_manager, nacro_manager, nacro_caseworker, st_giles
):
    portal.sign_in(contract_manager)
    page = text_of(portal.get("/organisations/"))
    assert "Nacro" in page and "St Giles Trust" in page and "BeNCH CRC" in page
    nacro_page = text_of(portal.get(f"/organisations/{nacro_manager.organisation_id}"))
    assert nacro_manager.email in nacro_page and nacro_caseworker.email in nacro_page


@pytest.mark.parametrize("role_fixture", ["nacro_manager", "nacro_caseworker"])
def test_partner_users_cannot_browse_organisations(portal, request, role_fixture, st_giles):
    portal.sign_in(request.getfixturevalue(role_fixture))
    assert portal.get("/organisations/").status_code == 403
    assert portal.get(f"/organisations/{st_giles.id}").status_code in (403, 404)


def test_unknown_organisation_is_404(portal, admin):
    portal.sign_in(admin)
    assert portal.get("/organisations/99999").status_code == 404
