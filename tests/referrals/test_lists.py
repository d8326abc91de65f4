"""The partner's inbox and the CRC's lists: tabs, filters, search, sorting, overdue, 50 a page."""

from datetime import date

import pytest

from portal.referrals.models import LocationType, ReferralStatus
from tests.factories import PersonFactory, ReferralFactory
from tests.helpers import QueryCounter, days_from_today, pagination_link, text_of


@pytest.fixture
def caseload(ttg_service, referrer, nacro_caseworker, st_giles_contract):
    """A spread of Nacro referrals in every state, and one of St Giles' that Nacro must never see."""

    def make(reference, status, **fields):
        return ReferralFactory(
            reference=reference,
            contract=ttg_service,
            service_code="ACC-TTG",
            referrer=referrer,
            status=status,
            **fields,
        )

    return {
        "new": make(
            "NW1000AA",
            ReferralStatus.SENT,
            accept_due_on=days_from_today(2),
            person=PersonFactory(given_name="Nia", family_name="Newcombe", crn="N100001"),
        ),
        "overdue": make(
            "OV1000AA",
            ReferralStatus.SENT,
            accept_due_on=days_from_today(-3),
            location_type=LocationType.CUSTODY,
            prison="HMP Bedford",
            expected_release_date=days_from_today(12),
            person=PersonFactory(given_name="Owen", family_name="Overbury", crn="O100001"),
        ),
        "mine": make(
            "MY1000AA",
            ReferralStatus.ACCEPTED,
            caseworker=nacro_caseworker,
            first_contact_due_on=days_from_today(4),
        ),
        "unassigned": make("UN1000AA", ReferralStatus.IN_PROGRESS),
        "completed": make("CO1000AA", ReferralStatus.COMPLETED),
        "declined": make("DE1000AA", ReferralStatus.DECLINED),
        "withdrawn": make("WD1000AA", ReferralStatus.WITHDRAWN),
        "elsewhere": ReferralFactory(reference="SG1000AA", contract=st_giles_contract, service_code="ETE"),
    }


def references_on(page):
    return {word for word in text_of(page).split() if len(word) == 8 and word[2:6].isdigit()}


@pytest.mark.parametrize(
    ("tab", "expected"),
    [
        ("new", {"NW1000AA", "OV1000AA"}),
        ("mine", {"MY1000AA"}),
        ("open", {"MY1000AA", "UN1000AA"}),
        ("unassigned", {"UN1000AA"}),
        ("completed", {"CO1000AA"}),
        ("closed", {"DE1000AA", "WD1000AA"}),
    ],
)
def test_partner_inbox_tabs(portal, caseload, nacro_caseworker, tab, expected):
    portal.sign_in(nacro_caseworker)
    assert references_on(portal.get(f"/referrals/?tab={tab}")) == expected


def test_tabs_show_their_counts_and_never_another_partners_referrals(portal, caseload, nacro_manager):
    portal.sign_in(nacro_manager)
    page = text_of(portal.get("/referrals/"))
    assert "New (2)" in page and "All open (2)" in page and "Declined or withdrawn (2)" in page
    for tab in ("new", "open", "completed", "closed", "unassigned"):
        assert "SG1000AA" not in text_of(portal.get(f"/referrals/?tab={tab}"))


def test_overdue_referrals_are_flagged_and_can_be_filtered(portal, caseload, nacro_manager):
    portal.sign_in(nacro_manager)
    page = portal.get("/referrals/?tab=new")
    assert "Overdue" in text_of(page)
    assert references_on(portal.get("/referrals/?tab=new&overdue=yes")) == {"OV1000AA"}


def test_custody_cases_show_the_prison_and_days_to_release(portal, caseload, nacro_manager):
    portal.sign_in(nacro_manager)
    page = text_of(portal.get("/referrals/?tab=new&location=custody"))
    assert "HMP Bedford" in page and "Release in 12 days" in page
    assert references_on(portal.get("/referrals/?tab=new&location=custody")) == {"OV1000AA"}


@pytest.mark.parametrize("term", ["Overbury", "owen over", "O100001", "ov1000aa"])
def test_search_by_name_crn_or_reference(portal, caseload, nacro_manager, term):
    portal.sign_in(nacro_manager)
    assert references_on(portal.get(f"/referrals/?tab=new&q={term}")) == {"OV1000AA"}


def test_filter_by_caseworker(portal, caseload, nacro_manager, nacro_caseworker):
    portal.sign_in(nacro_manager)
    assert references_on(portal.get(f"/referrals/?tab=open&caseworker_id={nacro_caseworker.id}")) == {"MY1000AA"}


def test_sorting_by_name_both_ways(portal, caseload, nacro_manager):
    portal.sign_in(nacro_manager)
    ascending = text_of(portal.get("/referrals/?tab=new&sort=name&dir=asc"))
    assert ascending.index("Newcombe") < ascending.index("Overbury")
    descending = text_of(portal.get("/referrals/?tab=new&sort=name&dir=desc"))
    assert descending.index("Overbury") < descending.index("Newcombe")
    assert 'aria-sort="descending"' in portal.get("/referrals/?tab=new&sort=name&dir=desc").get_data(as_text=True)


def test_fifty_a_page(portal, ttg_service, referrer, nacro_manager):
    for number in range(55):
        ReferralFactory(reference=f"PG{number:04d}AA", contract=ttg_service, service_code="ACC-TTG", referrer=referrer)
    portal.sign_in(nacro_manager)
    first = portal.get("/referrals/?tab=new")
    assert "Showing 1 to 50 of 55 referrals" in text_of(first)
    second = portal.get(pagination_link(first, "next"))
    assert "Showing 51 to 55 of 55 referrals" in text_of(second)
    assert pagination_link(second, "next") is None
    assert "Showing 1 to 50 of 55 referrals" in text_of(portal.get(pagination_link(second, "prev")))


def test_paging_through_a_search_sorted_by_name_shows_each_match_once_and_keeps_the_search(
    portal, app, ttg_service, referrer, nacro_manager
):
    from portal.referrals import lists

    for number in range(12):  # three people share each family name: the sort has ties
        person = PersonFactory(given_name="Sam", family_name=["Jones", "Khan", "Lee", "Moss"][number % 4])
        ReferralFactory(
            reference=f"SR{number:04d}AA",
            contract=ttg_service,
            service_code="ACC-TTG",
            referrer=referrer,
            person=person,
        )
    ReferralFactory(reference="ZZ0001AA", contract=ttg_service, service_code="ACC-TTG", referrer=referrer)
    lists.PAGE_SIZE, previous = 5, lists.PAGE_SIZE
    portal.sign_in(nacro_manager)
    try:
        seen, href, counts = [], "/referrals/?tab=new&q=sam&sort=name&dir=asc", []
        while href:
            assert "q=sam" in href and "sort=name" in href
            with QueryCounter(app) as queries:
                response = portal.get(href)
            counts.append(queries.count)
            seen.extend(sorted(references_on(response), key=text_of(response).index))
            href = pagination_link(response, "next")
    finally:
        lists.PAGE_SIZE = previous
    assert len(seen) == len(set(seen)) == 12
    assert "ZZ0001AA" not in seen
    surnames = [int(reference[2:6]) % 4 for reference in seen]  # Jones, Khan, Lee, Moss
    assert surnames == sorted(surnames)
    assert len(set(counts)) == 1  # page 3 costs what page 1 does


def test_the_crc_sees_its_referrals_by_state_and_partner(portal, caseload, referrer, st_giles):
    portal.sign_in(referrer)
    assert references_on(portal.get("/referrals/?tab=sent")) == {"NW1000AA", "OV1000AA", "SG1000AA"}
    assert references_on(portal.get(f"/referrals/?tab=sent&partner_id={st_giles.id}")) == {"SG1000AA"}


def test_inbox_queries_do_not_grow_with_the_rows_shown(portal, app, ttg_service, referrer, nacro_manager):
    for number in range(3):
        ReferralFactory(reference=f"QA{number:04d}AA", contract=ttg_service, service_code="ACC-TTG", referrer=referrer)
    portal.sign_in(nacro_manager)
    with QueryCounter(app) as few:
        portal.get("/referrals/?tab=new")
    for number in range(30):
        ReferralFactory(reference=f"QB{number:04d}AA", contract=ttg_service, service_code="ACC-TTG", referrer=referrer)
    with QueryCounter(app) as many:
        portal.get("/referrals/?tab=new")
    assert many.count == few.count


def test_dashboard_counts_overdue_referrals(caseload, nacro_manager, contract_manager):
    from portal.referrals.inbox import overdue_counts

    counts = overdue_counts(nacro_manager)
    assert (counts.waiting, counts.answer_overdue) == (2, 1)
    assert overdue_counts(contract_manager).waiting == 3


def test_release_dates_in_the_past_read_as_released(caseload):
    referral = caseload["overdue"]
    assert referral.days_to_release(date(2099, 1, 1)) < 0


def test_the_inbox_shows_each_referrals_risk_level_and_flags(portal, ttg_service, nacro_manager):
    from tests.factories import ReferralFactory
    from tests.helpers import text_of

    ReferralFactory(contract=ttg_service, service_code="ACC-TTG", risk_flags=["domestic_abuse", "arson"])
    portal.sign_in(nacro_manager)
    page = text_of(portal.get("/referrals/?tab=new"))
    assert "Medium RoSH Domestic abuse Arson" in page
    assert "Showing 1 to 1 of 1 referral" in page and "1 referrals" not in page
