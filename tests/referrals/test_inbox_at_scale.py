"""The inbox at national scale (issue 20): search, tab counts and filters that read only what they
show, with the same answers as before, never another partner's referrals, and a query count that
does not grow with the referrals."""

import pytest

from portal import keyset
from portal.referrals.models import ReferralStatus
from tests.factories import PersonFactory, ReferralFactory
from tests.helpers import QueryCounter, days_from_today, text_of


def references_on(page):
    return {word for word in text_of(page).split() if len(word) == 8 and word[2:6].isdigit()}


@pytest.fixture
def people(ttg_service, st_giles_contract, referrer):
    """Nacro's referrals of three people, and St Giles' of a namesake Nacro must never find."""

    def refer(reference, person, contract=ttg_service, **fields):
        return ReferralFactory(
            reference=reference, contract=contract, service_code="ACC-TTG", referrer=referrer, person=person, **fields
        )

    return {
        "smith": refer("SM1000AA", PersonFactory(given_name="Jo", family_name="Smith", crn="S100001")),
        "smithson": refer("SM2000AA", PersonFactory(given_name="Al", family_name="Smithson", crn="S100002")),
        "percent": refer("PC1000AA", PersonFactory(given_name="Per", family_name="Cent_100%", crn="P100001")),
        "namesake": refer(
            "SG2000AA",
            PersonFactory(given_name="Jo", family_name="Smith", crn="S100009"),
            contract=st_giles_contract,
        ),
    }


@pytest.mark.parametrize(
    ("term", "found"),
    [
        ("smith", {"SM1000AA", "SM2000AA"}),  # part of a family name, any case
        ("SMITHSON", {"SM2000AA"}),
        ("jo smith", {"SM1000AA"}),  # given and family name
        ("s100002", {"SM2000AA"}),  # a CRN, in lower case
        ("S 100002", {"SM2000AA"}),  # a CRN with a space typed in it
        ("sm1000aa", {"SM1000AA"}),  # a reference, in lower case
        ("100%", {"PC1000AA"}),  # % and _ are the characters typed, not wildcards
        ("t_1", {"PC1000AA"}),
        ("%", {"PC1000AA"}),
        ("nobody", set()),
    ],
)
def test_a_partner_finds_a_referral_by_name_crn_or_reference_and_never_another_partners(
    portal, people, nacro_manager, term, found
):
    portal.sign_in(nacro_manager)
    assert references_on(portal.get("/referrals/", query_string={"tab": "all", "q": term})) == found


def test_the_crc_finds_every_partners_referrals_of_a_name(portal, people, referrer):
    portal.sign_in(referrer)
    assert references_on(portal.get("/referrals/?tab=all&q=jo+smith")) == {"SM1000AA", "SG2000AA"}
    assert references_on(portal.get("/referrals/?tab=all&q=SG2000AA")) == {"SG2000AA"}


def test_another_partners_reference_or_crn_finds_nothing(portal, people, nacro_manager):
    portal.sign_in(nacro_manager)
    assert references_on(portal.get("/referrals/?tab=all&q=SG2000AA")) == set()
    assert references_on(portal.get("/referrals/?tab=all&q=S100009")) == set()


def test_the_tabs_count_a_search_as_the_list_shows_it(portal, people, nacro_manager):
    portal.sign_in(nacro_manager)
    page = text_of(portal.get("/referrals/?tab=all&q=smith"))
    assert "New (2)" in page and "All (2)" in page and "Completed (0)" in page
    assert "Showing 1 to 2 of 2 referrals" in page


def refer_many(contract, referrer, prefix, count, status):
    for number in range(count):
        ReferralFactory(
            reference=f"{prefix}{number:04d}AA",
            contract=contract,
            service_code="ACC-TTG",
            referrer=referrer,
            status=status,
        )


def test_finished_tabs_are_counted_up_to_the_lists_limit_and_live_ones_exactly(
    portal, ttg_service, referrer, nacro_manager, monkeypatch
):
    monkeypatch.setattr(keyset, "COUNT_LIMIT", 3)
    refer_many(ttg_service, referrer, "NW", 5, ReferralStatus.SENT)
    refer_many(ttg_service, referrer, "CO", 4, ReferralStatus.COMPLETED)
    refer_many(ttg_service, referrer, "DE", 2, ReferralStatus.DECLINED)
    portal.sign_in(nacro_manager)
    page = text_of(portal.get("/referrals/?tab=new"))
    # Work waiting to be done is counted exactly, however many; history only up to the limit.
    assert "New (5)" in page
    assert "Completed (more than 3)" in page
    assert "Declined or withdrawn (2)" in page
    assert "All (more than 3)" in page


def test_the_service_filter_lists_the_services_the_readers_referrals_went_to(portal, people, nacro_manager, referrer):
    portal.sign_in(nacro_manager)
    page = portal.get("/referrals/").get_data(as_text=True)
    assert '<option value="ACC-TTG"' in page
    assert '<option value="ETE"' not in page  # St Giles' contract's service, not Nacro's
    portal.sign_in(referrer)
    assert '<option value="ACC-TTG"' in portal.get("/referrals/").get_data(as_text=True)


def test_overdue_filter_finds_only_overdue_answers_and_first_contacts(
    portal, ttg_service, referrer, nacro_manager, nacro_caseworker
):
    refer = dict(contract=ttg_service, service_code="ACC-TTG", referrer=referrer)
    ReferralFactory(reference="OV1000AA", status=ReferralStatus.SENT, accept_due_on=days_from_today(-2), **refer)
    ReferralFactory(reference="OK1000AA", status=ReferralStatus.SENT, accept_due_on=days_from_today(2), **refer)
    ReferralFactory(
        reference="FC1000AA",
        status=ReferralStatus.ACCEPTED,
        caseworker=nacro_caseworker,
        first_contact_due_on=days_from_today(-1),
        **refer,
    )
    portal.sign_in(nacro_manager)
    assert references_on(portal.get("/referrals/?tab=all&overdue=yes")) == {"OV1000AA", "FC1000AA"}


@pytest.mark.parametrize("search", ["", "q=smith", "q=S100001", "q=SM1000AA", "overdue=yes", "service_code=ACC-TTG"])
def test_a_searched_or_filtered_inbox_costs_the_same_queries_however_many_referrals(
    portal, app, people, ttg_service, referrer, nacro_manager, search
):
    portal.sign_in(nacro_manager)
    with QueryCounter(app) as few:
        portal.get(f"/referrals/?tab=all&{search}")
    for number in range(25):
        ReferralFactory(
            reference=f"QC{number:04d}AA",
            contract=ttg_service,
            service_code="ACC-TTG",
            referrer=referrer,
            person=PersonFactory(family_name=f"Smith{number}"),
            status=[ReferralStatus.SENT, ReferralStatus.COMPLETED][number % 2],
        )
    with QueryCounter(app) as many:
        portal.get(f"/referrals/?tab=all&{search}")
    assert many.count == few.count
