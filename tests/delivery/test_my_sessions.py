"""My sessions at national scale (issue 20): a caseworker's lists paged 50 at a time, each on its
own, in a fixed number of queries however many cases and sessions they have."""

from datetime import UTC, datetime, timedelta

import pytest

from portal.dates import london_day, london_today
from portal.delivery.sessions import reschedule_session
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.formatting import format_date
from portal.integrity import no_session_after_its_referral_ended
from portal.referrals.models import ReferralStatus
from tests.factories import ReferralFactory, SessionFactory
from tests.helpers import QueryCounter, pagination_link, text_of


@pytest.fixture
def new_case(ttg_service, referrer, nacro_caseworker):
    """Makes an accepted case of the Nacro caseworker's, accepted `days_ago` days ago."""

    def make(reference: str, days_ago: int = 30):
        return ReferralFactory(
            reference=reference,
            contract=ttg_service,
            service_code="ACC-TTG",
            referrer=referrer,
            accepted=True,
            accepted_at=datetime.now(UTC) - timedelta(days=days_ago),
            caseworker=nacro_caseworker,
        )

    return make


@pytest.fixture
def case(new_case):
    return new_case("MS1000AA", days_ago=90)


def unrecorded(referral, count, first_day):
    """`count` sessions with no attendance recorded, a day apart from `first_day` onwards."""
    return [
        SessionFactory(referral=referral, date=first_day + timedelta(days=number), attendance=None, feedback_at=None)
        for number in range(count)
    ]


def awaiting_rows(response):
    return response.get_data(as_text=True).count(">Record attendance<")


def test_sessions_awaiting_feedback_come_fifty_at_a_time_oldest_first(portal, app, case, nacro_caseworker):
    unrecorded(case, 55, london_today() - timedelta(days=60))
    unrecorded(case, 2, london_today() + timedelta(days=3))  # booked ahead: coming up, not awaiting
    portal.sign_in(nacro_caseworker)
    with QueryCounter(app) as first_queries:
        first = portal.get("/my-sessions")
    assert "Awaiting feedback (55)" in text_of(first)
    assert awaiting_rows(first) == 50
    assert "Showing 1 to 50 of 55 sessions" in text_of(first)
    later = pagination_link(first, "next")
    assert "awaiting_after=" in later and later.endswith("#awaiting")
    with QueryCounter(app) as second_queries:
        second = portal.get(later)
    assert awaiting_rows(second) == 5
    assert "Showing 51 to 55 of 55 sessions" in text_of(second)
    assert second_queries.count == first_queries.count
    # The other lists stay on their first page.
    coming_up = text_of(second).split("Today and coming up", 1)[1].split("The last two weeks", 1)[0]
    assert coming_up.count("MS1000AA") == 2
    assert awaiting_rows(portal.get(pagination_link(second, "prev"))) == 50


def test_my_sessions_costs_the_same_queries_however_many_cases_and_sessions(
    portal, app, new_case, case, nacro_caseworker
):
    unrecorded(case, 1, london_today() - timedelta(days=2))
    portal.sign_in(nacro_caseworker)
    with QueryCounter(app) as few:
        portal.get("/my-sessions")
    for number in range(8):
        referral = new_case(f"MT{number:04d}AA")
        unrecorded(referral, 3, london_today() - timedelta(days=5))
        unrecorded(referral, 2, london_today() + timedelta(days=1))
    with QueryCounter(app) as many:
        page = portal.get("/my-sessions")
    assert "Awaiting feedback (25)" in text_of(page)
    assert many.count == few.count


def test_a_caseworker_never_sees_another_caseworkers_or_partners_sessions(
    portal, case, st_giles_contract, referrer, nacro_caseworker, st_giles_caseworker
):
    unrecorded(case, 1, london_today() - timedelta(days=1))
    theirs = ReferralFactory(
        reference="SG3000AA",
        contract=st_giles_contract,
        service_code="ETE",
        referrer=referrer,
        accepted=True,
        caseworker=st_giles_caseworker,
    )
    unrecorded(theirs, 1, london_today() - timedelta(days=1))
    portal.sign_in(nacro_caseworker)
    page = text_of(portal.get("/my-sessions"))
    assert "MS1000AA" in page and "SG3000AA" not in page
    portal.sign_out()
    portal.sign_in(st_giles_caseworker)
    page = text_of(portal.get("/my-sessions"))
    assert "SG3000AA" in page and "MS1000AA" not in page


def ended(referral, days_ago):
    """Completed `days_ago` days ago, as the end-of-service report would leave it."""
    referral.status = ReferralStatus.COMPLETED
    referral.completed_at = datetime.now(UTC) - timedelta(days=days_ago)
    db.session.commit()
    return referral


def test_a_case_ended_in_the_last_fortnight_keeps_its_sessions_in_the_lists(portal, new_case, case, nacro_caseworker):
    SessionFactory(referral=case, date=london_today() - timedelta(days=6))
    ended(case, days_ago=5)
    long_ago = new_case("MS2000AA", days_ago=200)
    unrecorded(long_ago, 1, london_today() - timedelta(days=40))  # its feedback is still owed
    ended(long_ago, days_ago=30)
    portal.sign_in(nacro_caseworker)
    page = text_of(portal.get("/my-sessions"))
    awaiting, rest = page.split("Today and coming up", 1)
    recent = rest.split("The last two weeks", 1)[1]
    assert "Awaiting feedback (1)" in awaiting and "MS2000AA" in awaiting
    assert "MS1000AA" in recent and "MS2000AA" not in recent


def test_a_session_of_an_ended_case_cannot_be_moved_past_its_end(case, nacro_caseworker):
    session = SessionFactory(referral=case, date=london_today() - timedelta(days=3), attendance=None, feedback_at=None)
    ended(case, days_ago=1)
    end = london_day(case.completed_at)
    with pytest.raises(ValidationFailed) as refused:
        reschedule_session(
            nacro_caseworker, session, new_date=end + timedelta(days=1), new_time="10:00", reason="They asked"
        )
    assert refused.value.errors["date"] == [
        f"The session cannot be after the referral was completed ({format_date(end)})"
    ]
    reschedule_session(nacro_caseworker, session, new_date=end, new_time="10:00", reason="They asked")
    assert session.date == end


def test_the_integrity_check_finds_a_session_dated_after_its_referral_ended(case):
    """What check_session refuses, written round it (an import, a hand-typed UPDATE), is found."""
    SessionFactory(referral=case, date=london_today() - timedelta(days=3))
    ended(case, days_ago=2)
    assert no_session_after_its_referral_ended() == []
    late = london_today() - timedelta(days=1)
    SessionFactory(referral=case, date=late)
    ended_day = london_day(case.completed_at)
    assert no_session_after_its_referral_ended() == [
        f"referral {case.id}: a session on {late} after it ended on {ended_day}"
    ]
