"""The name the inbox searches is kept on the referral (referral.person_name, migration 0034's
triggers): it must always be its person's "given family", lower-cased, whatever writes the
referrals and people, and a search must find what it found when it read the people."""

import random

import pytest
from sqlalchemy import func, insert, select, update

from portal.extensions import db
from portal.people.models import Person
from portal.people.retention import anonymise
from portal.referrals import inbox
from portal.referrals.models import Referral, ReferralStatus
from tests.factories import PersonFactory, ReferralFactory
from tests.helpers import text_of


def out_of_step() -> list[tuple[int, str | None, str | None]]:
    """Referrals whose kept name is not their person's name now (NULL for a referral with no person)."""
    db.session.expire_all()
    name = func.lower(Person.given_name + " " + Person.family_name)
    rows = db.session.execute(
        select(Referral.id, Referral.person_name, name).outerjoin(Person, Person.id == Referral.person_id)
    ).all()
    return [row for row in rows if row[1] != row[2]]


NAMES = ["Jo", "SMITH", "Smithson", "Ann-Marie", "O'Neil", "Cent_100%", "Zoë", "al", "Per Son"]


@pytest.mark.parametrize("seed", range(6))
def test_the_kept_name_is_the_persons_name_after_any_history(ttg_service, referrer, seed):
    """Random histories of everything that writes a name or a referral's person: people created and
    renamed (one name or both, or to the same name), referrals made with a person, without one (a
    draft), moved to another person or to none, rows inserted in bulk as the seed and the import do,
    a person anonymised, and someone writing the kept name itself."""
    rng = random.Random(seed)
    people = [PersonFactory(given_name=rng.choice(NAMES), family_name=rng.choice(NAMES)) for _ in range(4)]
    referrals = [
        ReferralFactory(contract=ttg_service, service_code="ACC-TTG", referrer=referrer, person=person)
        for person in people
    ]
    db.session.commit()
    for _step in range(25):
        action = rng.randrange(8)
        if action == 0:
            people.append(PersonFactory(given_name=rng.choice(NAMES), family_name=rng.choice(NAMES)))
        elif action == 1:
            person = rng.choice(people)
            person.given_name = rng.choice(NAMES)
        elif action == 2:
            person = rng.choice(people)
            person.given_name, person.family_name = rng.choice(NAMES), rng.choice(NAMES)
        elif action == 3:
            referrals.append(
                ReferralFactory(
                    contract=ttg_service, service_code="ACC-TTG", referrer=referrer, person=rng.choice(people)
                )
            )
        elif action == 4:
            referral = rng.choice(referrals)
            referral.person_id = rng.choice([None, *(person.id for person in people)])
        elif action == 5:
            db.session.execute(
                insert(Referral).values(
                    status=ReferralStatus.DRAFT,
                    crc_id=referrer.organisation_id,
                    referrer_id=referrer.id,
                    contract_id=ttg_service.id,
                    person_id=rng.choice([None, people[0].id]),
                    risk_flags=[],
                    desired_outcomes=[],
                    urgent=False,
                    version=1,
                    created_at=func.now(),
                    updated_at=func.now(),
                )
            )
        elif action == 6:
            db.session.execute(update(Referral).values(person_name="someone else"))
        else:
            anonymise(rng.choice(people).id)
        db.session.commit()
        assert out_of_step() == []


def test_a_rollback_takes_the_kept_name_back_with_the_person(nacro_referral):
    person = db.session.get(Person, nacro_referral.person_id)
    before = out_of_step()
    person.family_name = "Renamed"
    db.session.flush()
    db.session.rollback()
    assert out_of_step() == before == []


@pytest.fixture(params=["narrow", "broad"])
def either_way(request, monkeypatch):
    """Search as a narrow name is searched (the trigram index's expression) and as a broad one (the
    bare column, read from the lists' indexes): both must find the same referrals."""
    monkeypatch.setattr(inbox, "_broad", lambda pattern: request.param == "broad")
    return request.param


@pytest.mark.parametrize(
    ("term", "found"),
    [
        ("smith", {"SM1000AA", "SM2000AA"}),
        ("JO SMITH", {"SM1000AA"}),
        ("renamed", {"SM3000AA"}),  # the person's new name, not the one the referral was made with
        ("ann", set()),
        ("%", {"PC1000AA"}),
        ("t_1", {"PC1000AA"}),
    ],
)
def test_a_name_is_found_by_either_kind_of_search(
    portal, either_way, ttg_service, st_giles_contract, referrer, nacro_manager, term, found
):
    def refer(reference, person, contract=ttg_service):
        return ReferralFactory(
            reference=reference, contract=contract, service_code="ACC-TTG", referrer=referrer, person=person
        )

    refer("SM1000AA", PersonFactory(given_name="Jo", family_name="Smith", crn="S100001"))
    refer("SM2000AA", PersonFactory(given_name="Al", family_name="Smithson", crn="S100002"))
    renamed = PersonFactory(given_name="Ann", family_name="Before", crn="S100003")
    refer("SM3000AA", renamed)
    refer("PC1000AA", PersonFactory(given_name="Per", family_name="Cent_100%", crn="P100001"))
    refer("SG2000AA", PersonFactory(given_name="Jo", family_name="Smith", crn="S100009"), contract=st_giles_contract)
    ReferralFactory(contract=ttg_service, service_code="ACC-TTG", referrer=referrer, person=None, reference="NP1000AA")
    db.session.commit()
    renamed.given_name, renamed.family_name = "Bo", "Renamed"
    db.session.commit()

    portal.sign_in(nacro_manager)
    page = text_of(portal.get("/referrals/", query_string={"tab": "all", "q": term}))
    shown = {word for word in page.split() if len(word) == 8 and word[2:6].isdigit()}
    assert shown == found
