"""People are held by the CRC that referred them: a second CRC sending the same CRN gets a record of
its own, and can neither read nor overwrite the first CRC's (the probe did both)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from portal.accounts import tokens
from portal.accounts.models import Role
from portal.extensions import db
from portal.people.models import Person
from tests.api.conftest import ApiClient, World, _priced_service
from tests.api.test_roles import new_referral
from tests.factories import ContractFactory, CrcFactory, UserFactory
from tests.helpers import Portal


def second_crc(app, world: World):
    """Another CRC, its own contract with Nacro, and its referrer's API client."""
    other = CrcFactory(name="Other CRC")
    contract = ContractFactory(
        reference="OTHER-ACC-01", crc=other, partner=world.contract.partner, start_date=world.contract.start_date,
        end_date=world.contract.end_date, counties=world.contract.county_names,
    )  # fmt: skip
    _priced_service(contract, "ACC-TTG", "ACC-TTG", "accommodation_secured_first_night")
    referrer = UserFactory(email="referrer@other-crc.example", role=Role.CRC_REFERRER, organisation=other)
    client = ApiClient(app.test_client(), tokens.create_token(None, referrer, name="Other CRC system").secret)
    return contract, referrer, client


def test_a_second_crc_sending_the_same_crn_gets_its_own_person_and_changes_nothing(app, world: World):
    body = new_referral(world, "referrer")
    assert world["referrer"].post("/referrals", body).status_code == 201
    ours = db.session.scalars(select(Person).where(Person.crn == body["person"]["crn"])).one()

    contract, _referrer, theirs = second_crc(app, world)
    body["contract"] = contract.reference
    body["person"] |= {"given_name": "Somebody", "family_name": "Else", "date_of_birth": "1970-01-01"}
    answer = theirs.post("/referrals", body)
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["person"]["family_name"] == "Else"

    db.session.expire_all()
    people = db.session.scalars(select(Person).where(Person.crn == body["person"]["crn"]).order_by(Person.id)).all()
    assert [(p.crc_id, p.family_name, p.date_of_birth) for p in people] == [
        (ours.crc_id, "Smith", date(1990, 4, 1)),
        (contract.crc_id, "Else", date(1970, 1, 1)),
    ]


def test_a_second_crc_cannot_find_another_crcs_person_by_crn(app, world: World, referrer):
    body = new_referral(world, "referrer")
    assert world["referrer"].post("/referrals", body).status_code == 201
    _contract, their_referrer, _client = second_crc(app, world)
    portal = Portal(app.test_client())
    portal.sign_in(their_referrer)
    portal.get("/referrals/new")
    draft = portal.post("/referrals/new").headers["Location"]  # /referrals/drafts/<id>/service
    found = portal.get(draft.replace("/service", "/person"), query_string={"crn": body["person"]["crn"]})
    assert found.status_code == 200
    html = found.get_data(as_text=True)
    assert 'value="Smith"' not in html and 'value="1990"' not in html  # nothing of theirs filled in
