"""Progress reviews: asked of the caseworker 12 weeks after acceptance (then 12 weeks after each
review) and near the end; attendance counted from the sessions; the referrer reads them."""

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from sqlalchemy import select

from portal.dates import london_today
from portal.db import utcnow
from portal.errors import InvalidTransition, NotAllowed, NotFound, ValidationFailed
from portal.extensions import db
from portal.formatting import LONDON
from portal.notifications.models import OutboundEmail
from portal.plans.models import ReviewKind, ReviewStatus
from portal.plans.service import (
    approve_plan,
    mark_review_read,
    review_due,
    review_due_sql,
    save_plan,
    submit_review,
)
from portal.referrals.models import Referral, ReferralStatus
from tests.factories import ReferralFactory, SessionFactory, UserFactory
from tests.helpers import QueryCounter, text_of

HOUSING, WORK = "Find settled accommodation", "Into work or training"
REVIEW = {
    "outcomes": [
        {"desired_outcome": HOUSING, "progress": "good_progress", "comment": "Bidding on the housing register."},
        {"desired_outcome": WORK, "progress": "some_progress", "comment": "CV written."},
    ],
    "risk_observations": "No concerns; still no contact with his ex-partner.",
}


def moment(day, hour=10):
    return datetime.combine(day, time(hour), tzinfo=LONDON)


def case(ttg_service, referrer, caseworker, **changes):
    values = {
        "contract": ttg_service,
        "service_code": "ACC-TTG",
        "referrer": referrer,
        "in_progress": True,
        "caseworker": caseworker,
        "desired_outcomes": [HOUSING, WORK],
        "accepted_at": utcnow(),
        "sentence_end_date": london_today() + timedelta(days=365),
    }
    return ReferralFactory(**(values | changes))


def test_twelve_weeks_after_acceptance_the_caseworker_is_asked_for_a_review_which_the_referrer_reads(
    ttg_service, referrer, nacro_caseworker, portal
):
    referral = case(ttg_service, referrer, nacro_caseworker, reference="RV1234AB")
    accepted_on = london_today()
    due = review_due(referral)
    assert (due.kind, due.due_on) == (ReviewKind.TWELVE_WEEK, accepted_on + timedelta(weeks=12))
    with pytest.raises(InvalidTransition, match="No progress review is due yet"):
        submit_review(nacro_caseworker, referral, REVIEW)

    SessionFactory(referral=referral, recorded_by=nacro_caseworker, date=accepted_on + timedelta(days=7))
    SessionFactory(referral=referral, recorded_by=nacro_caseworker, date=accepted_on + timedelta(days=14), missed=True)
    with time_machine.travel(moment(accepted_on + timedelta(weeks=12, days=3)), tick=True):
        portal.sign_in(nacro_caseworker)
        assert "1 progress review overdue" in text_of(portal.get("/"))
        page = text_of(portal.get("/referrals/RV1234AB/plan"))
        assert "The 12-week review was due on" in page and "is overdue" in page
        form = text_of(portal.get("/plans/referrals/RV1234AB/review"))
        assert "Attended 1" in form and "Did not attend 1" in form  # counted, never typed
        refused = portal.post("/plans/referrals/RV1234AB/review", {"risk_observations": ""})
        assert "Select the progress towards 'Find settled accommodation'" in text_of(refused)
        assert 'href="#outcomes-0-progress"' in refused.get_data(as_text=True)

        review = submit_review(nacro_caseworker, db.session.get(Referral, referral.id), REVIEW)
        assert review.attendance == {"attended": 1, "late": 0, "did_not_attend": 1, "not_held": 0, "planned": None}
        assert review.late and review.status == ReviewStatus.SUBMITTED
        assert review.next_due_on == london_today() + timedelta(weeks=12)
        [email] = db.session.scalars(select(OutboundEmail).where(OutboundEmail.recipient == referrer.email)).all()
        assert email.subject == "12-week review to read on referral RV1234AB"

        portal.sign_out()
        portal.sign_in(referrer)
        assert "1 progress review to read" in text_of(portal.get("/"))
        assert "Read the progress review the partner submitted." in text_of(portal.get("/referrals/RV1234AB/plan"))
        page = text_of(portal.get(f"/plans/reviews/{review.id}"))
        assert "Bidding on the housing register." in page and "Good progress" in page
        response = portal.post(
            f"/plans/reviews/{review.id}", {"version": str(review.version), "response": "Thank you: keep going."}
        )
        assert response.headers["Location"] == "/referrals/RV1234AB/plan"
        db.session.expire_all()
        assert review.status == ReviewStatus.READ and review.read_by_id == referrer.id
        [answer] = db.session.scalars(
            select(OutboundEmail).where(OutboundEmail.recipient == nacro_caseworker.email)
        ).all()
        assert "Thank you: keep going." in answer.body_text
        assert "1 progress review to read" not in text_of(portal.get("/"))


def test_near_the_end_of_the_order_the_end_of_plan_review_replaces_the_twelve_week_one(
    ttg_service, referrer, nacro_caseworker
):
    ends = london_today() + timedelta(weeks=10)
    referral = case(ttg_service, referrer, nacro_caseworker, sentence_end_date=ends)
    due = review_due(referral)
    assert (due.kind, due.due_on) == (ReviewKind.ENDING, ends - timedelta(weeks=4))
    with time_machine.travel(moment(due.due_on), tick=True):
        review = submit_review(nacro_caseworker, db.session.get(Referral, referral.id), REVIEW)
    assert review.kind == ReviewKind.ENDING and not review.late
    # Asked once: the next is 12 weeks on, as long as the referral stays open.
    assert review_due(referral) == type(due)(ReviewKind.TWELVE_WEEK, review.next_due_on)


def test_when_the_approved_plans_sessions_are_nearly_used_the_end_of_plan_review_is_due(
    ttg_service, referrer, nacro_caseworker
):
    referral = case(ttg_service, referrer, nacro_caseworker, rar_days=None)
    activities = [{"desired_outcome": HOUSING, "description": "Advice", "sessions": 4, "frequency": "weekly"}]
    plan = save_plan(nacro_caseworker, referral, activities=activities, submit=True)
    approve_plan(referrer, plan)
    first = london_today() + timedelta(days=1)
    SessionFactory(referral=referral, recorded_by=nacro_caseworker, date=first)
    assert review_due(referral).kind == ReviewKind.TWELVE_WEEK
    SessionFactory(referral=referral, recorded_by=nacro_caseworker, date=first + timedelta(days=7), missed=True)
    SessionFactory(referral=referral, recorded_by=nacro_caseworker, date=first + timedelta(days=14))
    # The second attended of four leaves two to go: the end-of-plan review is due two weeks after.
    assert review_due(referral).kind == ReviewKind.ENDING
    assert review_due(referral).due_on == first + timedelta(days=14 + 14)


@pytest.mark.parametrize(
    "state",
    ["new", "twelve_weeks", "after_a_review", "order_ending", "sessions_nearly_used", "draft_plan", "ending_done"],
)
def test_the_due_date_is_the_same_in_python_and_in_sql(state, ttg_service, referrer, nacro_caseworker):
    today = london_today()
    changes = {"order_ending": {"sentence_end_date": today + timedelta(weeks=5)}}.get(state, {})
    if state in ("twelve_weeks", "after_a_review", "ending_done"):
        changes["accepted_at"] = utcnow() - timedelta(weeks=13)
    referral = case(ttg_service, referrer, nacro_caseworker, rar_days=None, **changes)
    if state == "sessions_nearly_used":
        activities = [{"desired_outcome": HOUSING, "description": "Advice", "sessions": 3, "frequency": "weekly"}]
        approve_plan(referrer, save_plan(nacro_caseworker, referral, activities=activities, submit=True))
        SessionFactory(referral=referral, recorded_by=nacro_caseworker, date=today - timedelta(days=2))
    if state == "draft_plan":  # only an approved plan's sessions count
        activities = [{"desired_outcome": HOUSING, "description": "Advice", "sessions": 3, "frequency": "weekly"}]
        save_plan(nacro_caseworker, referral, activities=activities)
        SessionFactory(referral=referral, recorded_by=nacro_caseworker, date=today - timedelta(days=2))
    if state == "after_a_review":
        submit_review(nacro_caseworker, referral, REVIEW)
    if state == "ending_done":
        referral.sentence_end_date = today + timedelta(weeks=2)
        db.session.commit()
        assert submit_review(nacro_caseworker, referral, REVIEW).kind == ReviewKind.ENDING
    due = review_due(referral)
    due_on, ending = review_due_sql(Referral)
    row = db.session.execute(select(due_on, ending).where(Referral.id == referral.id)).one()
    assert (row[0], bool(row[1])) == (due.due_on, due.kind == ReviewKind.ENDING)


def test_a_review_is_asked_only_of_an_open_referral_by_the_partner_and_read_by_the_referrer(
    ttg_service, referrer, nacro_caseworker, st_giles_caseworker, contract_manager
):
    referral = case(ttg_service, referrer, nacro_caseworker, accepted_at=utcnow() - timedelta(weeks=12))
    with pytest.raises(NotFound):
        submit_review(st_giles_caseworker, referral, REVIEW)
    with pytest.raises(NotAllowed):
        submit_review(referrer, referral, REVIEW)
    with pytest.raises(ValidationFailed) as refused:
        submit_review(nacro_caseworker, referral, {"outcomes": [], "risk_observations": ""})
    assert set(refused.value.errors) == {
        "outcomes-0-progress",
        "outcomes-0-comment",
        "outcomes-1-progress",
        "outcomes-1-comment",
        "risk_observations",
    }
    review = submit_review(nacro_caseworker, referral, REVIEW)
    with pytest.raises(NotAllowed):
        mark_review_read(nacro_caseworker, review)
    with pytest.raises(NotAllowed):
        mark_review_read(contract_manager, review)
    mark_review_read(referrer, review)
    with pytest.raises(InvalidTransition):
        mark_review_read(referrer, review)
    referral.status = ReferralStatus.WITHDRAWN
    db.session.commit()
    assert review_due(referral) is None


def test_another_partner_and_another_crc_find_no_review(
    ttg_service, referrer, nacro_caseworker, st_giles_caseworker, portal
):
    from tests.factories import CrcFactory

    referral = case(
        ttg_service, referrer, nacro_caseworker, reference="RV2345AB", accepted_at=utcnow() - timedelta(weeks=12)
    )
    review = submit_review(nacro_caseworker, referral, REVIEW)
    portal.sign_in(st_giles_caseworker)
    assert portal.get(f"/plans/reviews/{review.id}").status_code == 404
    assert portal.get("/plans/referrals/RV2345AB/review").status_code == 404
    portal.sign_out()
    portal.sign_in(UserFactory(role="crc_referrer", organisation=CrcFactory(name="Another CRC")))
    assert portal.post(f"/plans/reviews/{review.id}", {"response": ""}).status_code == 404


def test_the_lists_of_plans_and_reviews_cost_the_same_queries_however_many_rows(
    app, ttg_service, referrer, nacro_caseworker, portal, other_portal
):
    def add_some(count):
        for _ in range(count):
            referral = case(ttg_service, referrer, nacro_caseworker, accepted_at=utcnow() - timedelta(weeks=13))
            SessionFactory(referral=referral, recorded_by=nacro_caseworker)
            activities = [{"desired_outcome": HOUSING, "description": "Advice", "sessions": 3, "frequency": "weekly"}]
            save_plan(nacro_caseworker, referral, activities=activities, rar_days_planned=1, submit=True)

    def queries(browser, page):
        with QueryCounter(app) as counted:
            browser.get(page)
        return counted.count

    portal.sign_in(nacro_caseworker)
    other_portal.sign_in(referrer)
    pages = [(portal, "/plans/"), (portal, "/plans/?mine=yes"), (portal, "/"), (other_portal, "/plans/")]
    add_some(1)
    few = [queries(browser, page) for browser, page in pages]
    add_some(5)
    assert [queries(browser, page) for browser, page in pages] == few
    assert "6 progress reviews overdue" in text_of(portal.get("/"))
    assert text_of(portal.get("/plans/")).count("Overdue") == 6
    assert "6 action plans to approve" in text_of(other_portal.get("/"))


def test_a_clock_at_any_time_of_day_finds_the_same_due_date(ttg_service, referrer, nacro_caseworker):
    referral = case(ttg_service, referrer, nacro_caseworker, accepted_at=datetime(2026, 3, 28, 23, 30, tzinfo=UTC))
    # 23:30 UTC on 28 March is 23:30 in London (before the clocks go forward): accepted that day.
    assert review_due(referral).due_on == datetime(2026, 6, 20).date()
