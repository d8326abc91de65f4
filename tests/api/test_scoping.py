"""A partner never reaches another partner's records through the API: no list, search or body
reference lets one through. (Every path that names a record, for every role, is walked by
tests/test_access.py, from the OpenAPI document.)"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.accounts import tokens
from portal.accounts.models import Role
from portal.extensions import db
from portal.invoicing.models import Invoice
from portal.returns.models import ServiceReturn
from tests.api.conftest import ApiClient, World
from tests.factories import CrcFactory, UserFactory


@pytest.mark.parametrize("who", ["st_giles_manager", "st_giles_caseworker"])
def test_lists_hold_only_the_callers_own_records(world: World, who: str):
    client = world[who]
    for path in ("/contracts", "/referrals", "/outcomes", "/invoices"):
        body = client.get(path, per_page=200).get_json()
        text = str(body)
        assert body["total"] >= 1, path
        assert "AC1000AA" not in text and "BENCH-ACC-01" not in text and "Nacro" not in text, f"{path} leaked"
    # Filtering by another partner's contract or referral finds nothing, rather than an error that says it exists.
    assert client.get("/referrals", contract="BENCH-ACC-01").get_json()["total"] == 0
    assert client.get("/outcomes", referral="AC1000AA").get_json()["total"] == 0
    assert client.get("/invoices", contract="BENCH-ACC-01").get_json()["total"] == 0


def test_a_partner_lists_only_its_own_service_returns(world: World):
    client = world["st_giles_manager"]
    body = client.get("/service-returns", per_page=200).get_json()
    assert [item["id"] for item in body["items"]] == [world.st_giles["return"].id]
    assert "BENCH-ACC-01" not in str(body) and "Nacro" not in str(body)
    assert client.get("/service-returns", contract="BENCH-ACC-01").get_json()["total"] == 0
    # A caseworker works with no returns at all, their own partner's or another's.
    assert world["st_giles_caseworker"].get("/service-returns").status_code == 403


def test_a_partner_cannot_start_a_return_on_another_partners_contract(world: World):
    before = db.session.scalar(select(func.count()).select_from(ServiceReturn))
    response = world["st_giles_manager"].post("/service-returns", {"contract": "BENCH-ACC-01", "period": "2026-01"})
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["contract"]
    assert db.session.scalar(select(func.count()).select_from(ServiceReturn)) == before


def test_a_partner_cannot_invoice_another_partners_contract(world: World):
    before = db.session.scalar(select(func.count()).select_from(Invoice))
    response = world["st_giles_manager"].post("/invoices", {"contract": "BENCH-ACC-01", "period": "2026-01"})
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["contract"]
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == before


def test_another_crcs_referrer_sees_none_of_this_crcs_work(app, world: World):
    other_crc = CrcFactory(name="Other CRC")
    stranger = UserFactory(email="referrer@other.example", role=Role.CRC_REFERRER, organisation=other_crc)
    client = ApiClient(app.test_client(), tokens.create_token(None, stranger, name="Theirs").secret)
    assert client.get(f"/referrals/{world.open.reference}").status_code == 404
    assert client.get(f"/contracts/{world.contract.reference}").status_code == 404
    assert client.get(f"/outcomes/{world.outcome.id}").status_code == 404
    assert client.post(f"/outcomes/{world.outcome.id}/verify").status_code == 404
    assert client.get(f"/invoices/{world.submitted.id}").status_code == 404
    assert client.get(f"/invoices/{world.submitted.id}.pdf").status_code == 404
    assert client.get("/referrals").get_json()["total"] == 0


def test_another_crcs_contract_manager_reaches_none_of_this_crcs_returns(app, world: World):
    other_crc = CrcFactory(name="Other CRC")
    stranger = UserFactory(email="contracts@other.example", role=Role.CONTRACT_MANAGER, organisation=other_crc)
    client = ApiClient(app.test_client(), tokens.create_token(None, stranger, name="Theirs").secret)
    for path in (f"/service-returns/{world.submitted_return.id}", f"/service-returns/{world.submitted_return.id}.pdf"):
        assert client.get(path).status_code == 404, path
    assert client.post(f"/service-returns/{world.submitted_return.id}/accept").status_code == 404
    assert client.get("/service-returns").get_json()["total"] == 0
