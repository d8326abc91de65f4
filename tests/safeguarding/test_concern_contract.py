"""A safeguarding concern carries its referral's contract (migration 0038), and who sees it is decided
by that copy: the lists of concerns are narrowed from the concern's own rows, in a fixed number of
queries however many concerns there are (issue 20)."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from portal import access
from portal.errors import NotFound
from portal.extensions import db
from portal.integrity import rows_carry_their_referrals_contract
from portal.safeguarding.models import ConcernCategory, ConcernStatus, SafeguardingConcern, Urgency
from portal.safeguarding.service import raise_concern
from tests.factories import ReferralFactory
from tests.helpers import QueryCounter, text_of

CONCERN = {"category": "other", "what_happened": "Said something worrying.", "urgency": "standard"}


@pytest.fixture
def open_referral(ttg_service, referrer):
    return ReferralFactory(
        reference="SG2468EF", contract=ttg_service, service_code="ACC-TTG", referrer=referrer, in_progress=True
    )


def another_referral(ttg_service, referrer):
    return ReferralFactory(contract=ttg_service, service_code="ACC-TTG", referrer=referrer, in_progress=True)


def test_a_raised_concern_carries_its_referrals_contract(open_referral, nacro_caseworker):
    concern = raise_concern(nacro_caseworker, open_referral, CONCERN)
    assert concern.contract_id == open_referral.contract_id
    assert rows_carry_their_referrals_contract() == []


def test_a_concern_made_without_naming_its_contract_takes_its_referrals(open_referral, nacro_caseworker):
    now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    concern = SafeguardingConcern(
        referral_id=open_referral.id,
        category=ConcernCategory.OTHER,
        urgency=Urgency.STANDARD,
        what_happened="Recorded by an import.",
        raised_at=now,
        raised_by_id=nacro_caseworker.id,
        acknowledge_due_at=now,
    )
    db.session.add(concern)
    db.session.commit()
    assert concern.contract_id == open_referral.contract_id


def test_the_integrity_check_finds_a_concern_that_names_another_contract(
    open_referral, nacro_caseworker, st_giles_contract
):
    concern = raise_concern(nacro_caseworker, open_referral, CONCERN)
    db.session.execute(
        update(SafeguardingConcern).where(SafeguardingConcern.id == concern.id).values(contract_id=st_giles_contract.id)
    )
    assert rows_carry_their_referrals_contract() == [
        f"safeguarding_concern {concern.id}: its contract is not its referral's"
    ]


def test_the_partner_sees_its_concern_and_another_partner_is_told_it_is_not_there(
    open_referral, nacro_caseworker, nacro_manager, st_giles_manager, referrer
):
    concern = raise_concern(nacro_caseworker, open_referral, CONCERN)
    for user in (nacro_caseworker, nacro_manager, referrer):
        assert access.get_visible_or_404(SafeguardingConcern, concern.id, user).id == concern.id
        assert access.sees(user, concern)
    with pytest.raises(NotFound):
        access.get_visible_or_404(SafeguardingConcern, concern.id, st_giles_manager)
    assert not access.sees(st_giles_manager, concern)
    assert db.session.scalars(access.visible(SafeguardingConcern, st_giles_manager)).all() == []


@pytest.mark.parametrize("status", ["all", "not_closed", "open", "closed"])
def test_a_partners_list_of_concerns_takes_the_same_queries_however_many_there_are(
    app, portal, ttg_service, referrer, nacro_caseworker, nacro_manager, status
):
    portal.sign_in(nacro_manager)
    raise_concern(nacro_caseworker, another_referral(ttg_service, referrer), CONCERN)
    with QueryCounter(app) as few:
        portal.get(f"/safeguarding/?status={status}")
    for _ in range(5):
        raise_concern(nacro_caseworker, another_referral(ttg_service, referrer), CONCERN)
    with QueryCounter(app) as many:
        page = portal.get(f"/safeguarding/?status={status}")
    assert page.status_code == 200
    if status in ("all", "not_closed", "open"):
        assert "6 concerns" in text_of(page)
    assert many.count == few.count


def test_a_referrals_concerns_take_the_same_queries_however_many_there_are(
    app, portal, api_as, open_referral, nacro_caseworker, nacro_manager
):
    portal.sign_in(nacro_manager)
    api = api_as(nacro_manager)
    raise_concern(nacro_caseworker, open_referral, CONCERN)
    api.get("/referrals/SG2468EF/concerns")  # a token's first call also notes it was used
    with QueryCounter(app) as few_page:
        portal.get("/referrals/SG2468EF/safeguarding")
    with QueryCounter(app) as few_api:
        api.get("/referrals/SG2468EF/concerns")
    for _ in range(3):
        raise_concern(nacro_caseworker, open_referral, CONCERN)
    with QueryCounter(app) as many_page:
        page = portal.get("/referrals/SG2468EF/safeguarding")
    with QueryCounter(app) as many_api:
        listed = api.get("/referrals/SG2468EF/concerns")
    assert text_of(page).count(ConcernStatus.OPEN.label) >= 4
    assert listed.json["total"] == 4
    assert (many_page.count, many_api.count) == (few_page.count, few_api.count)
