"""Action plans: the partner writes one after accepting, the referrer asks for changes or approves it,
each submission kept as a numbered version; the end-of-service report closes it."""

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.delivery.end_of_service import complete_referral
from portal.errors import InvalidTransition, NotAllowed, NotFound, StaleRecord, ValidationFailed
from portal.extensions import db
from portal.notifications.models import OutboundEmail
from portal.plans.models import ActionPlanVersion, Decision, PlanStatus, PlanVersionsAreFinal
from portal.plans.service import approve_plan, request_changes, save_plan, submit_plan
from portal.referrals.models import LocationType, ReferralEvent
from tests.factories import ReferralFactory, UserFactory
from tests.helpers import text_of

HOUSING, WORK = "Find settled accommodation", "Into work or training"


def activity(outcome=HOUSING, description="Weekly housing advice and applications", sessions=6, frequency="weekly"):
    return {"desired_outcome": outcome, "description": description, "sessions": sessions, "frequency": frequency}


@pytest.fixture
def accepted(ttg_service, referrer, nacro_caseworker):
    return ReferralFactory(
        reference="PL1234AB",
        contract=ttg_service,
        service_code="ACC-TTG",
        referrer=referrer,
        in_progress=True,
        caseworker=nacro_caseworker,
        desired_outcomes=[HOUSING, WORK],
        rar_days=10,
    )


def emails_to(address):
    return db.session.scalars(select(OutboundEmail).where(OutboundEmail.recipient == address)).all()


def actions():
    return [event.action for event in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_partner_writes_a_plan_referrer_asks_for_changes_partner_revises_and_referrer_approves(
    accepted, nacro_caseworker, nacro_manager, referrer
):
    plan = save_plan(nacro_caseworker, accepted, activities=[activity()], rar_days_planned=4)
    assert plan.status == PlanStatus.DRAFT and plan.planned_sessions == 6
    assert emails_to(referrer.email) == []  # a draft is the partner's own business

    submit_plan(nacro_caseworker, accepted, version=plan.version)
    assert plan.status == PlanStatus.SUBMITTED
    [email] = emails_to(referrer.email)
    assert email.subject == "Action plan to approve on referral PL1234AB"
    assert "/referrals/PL1234AB/plan" in email.body_text

    with pytest.raises(InvalidTransition, match="waiting for the referrer"):
        save_plan(nacro_caseworker, accepted, activities=[activity(sessions=8)], rar_days_planned=4)
    with pytest.raises(ValidationFailed) as refused:
        request_changes(referrer, plan, reason="  ")
    assert "reason" in refused.value.errors

    request_changes(referrer, plan, reason="Add the work towards employment too.", version=plan.version)
    assert plan.status == PlanStatus.CHANGES_REQUESTED
    [asked] = [e for e in emails_to(nacro_caseworker.email) if "Changes asked" in e.subject]
    assert "Add the work towards employment too." in asked.body_text
    assert any("Changes asked" in e.subject for e in emails_to(nacro_manager.email))

    save_plan(
        nacro_caseworker,
        accepted,
        activities=[activity(), activity(WORK, "CV and job search with the ETE adviser", 4, "fortnightly")],
        rar_days_planned=6,
        submit=True,
    )
    approve_plan(referrer, plan, version=plan.version)
    assert plan.status == PlanStatus.APPROVED
    assert (plan.approved_number, plan.approved_sessions) == (2, 10)

    first, second = db.session.scalars(select(ActionPlanVersion).order_by(ActionPlanVersion.number)).all()
    assert (first.decision, first.decision_reason) == (
        Decision.CHANGES_REQUESTED,
        "Add the work towards employment too.",
    )
    assert first.planned_sessions == 6 and first.submitted_by_id == nacro_caseworker.id
    assert (second.decision, second.decided_by_id) == (Decision.APPROVED, referrer.id)
    assert [action for action in actions() if action.startswith("action_plan.")] == [
        "action_plan.created",
        "action_plan.submitted",
        "action_plan.changes_requested",
        "action_plan.edited",
        "action_plan.submitted",
        "action_plan.approved",
    ]
    timeline = [e.summary for e in db.session.scalars(select(ReferralEvent).order_by(ReferralEvent.id))]
    assert timeline == [
        "Action plan started",
        "Action plan version 1 submitted for approval",
        "Changes asked to action plan version 1",
        "Action plan version 2 submitted for approval",
        "Action plan version 2 approved",
    ]


def test_a_submitted_version_is_never_changed(accepted, nacro_caseworker, referrer):
    plan = save_plan(nacro_caseworker, accepted, activities=[activity()], rar_days_planned=2, submit=True)
    version = db.session.scalars(select(ActionPlanVersion)).one()
    version.activities = [activity(sessions=99)]
    with pytest.raises(PlanVersionsAreFinal):
        db.session.flush()
    db.session.rollback()
    assert plan.id


def test_revising_an_approved_plan_keeps_the_approved_version_in_force_until_the_next_is_approved(
    accepted, nacro_caseworker, referrer, portal
):
    plan = save_plan(nacro_caseworker, accepted, activities=[activity()], rar_days_planned=2, submit=True)
    approve_plan(referrer, plan)
    save_plan(nacro_caseworker, accepted, activities=[activity(sessions=9)], rar_days_planned=2)
    assert plan.status == PlanStatus.DRAFT and plan.approved_number == 1 and plan.approved_sessions == 6

    portal.sign_in(referrer)
    page = text_of(portal.get("/referrals/PL1234AB/plan"))
    assert "The approved plan (version 1)" in page
    assert "A newer draft" in page and "(not yet submitted)" in page


def test_the_plan_needs_an_activity_towards_a_desired_outcome_and_its_sessions(accepted, nacro_caseworker):
    with pytest.raises(ValidationFailed) as refused:
        save_plan(nacro_caseworker, accepted, activities=[], rar_days_planned=0)
    assert refused.value.errors["activities"] == [
        "Add at least one activity, linked to one of the referral's desired outcomes"
    ]
    with pytest.raises(ValidationFailed) as refused:
        save_plan(
            nacro_caseworker,
            accepted,
            activities=[activity(outcome="Something else", sessions=0, frequency="daily", description="")],
            rar_days_planned=0,
        )
    assert set(refused.value.errors) == {
        "activities-0-desired_outcome",
        "activities-0-description",
        "activities-0-sessions",
        "activities-0-frequency",
    }


def test_rar_days_planned_never_exceed_what_the_order_allows(accepted, nacro_caseworker, ttg_service, referrer):
    with pytest.raises(ValidationFailed) as refused:
        save_plan(nacro_caseworker, accepted, activities=[activity(sessions=20)], rar_days_planned=11)
    assert refused.value.errors["rar_days_planned"] == ["RAR days planned must be 10 or fewer: the order allows 10"]
    with pytest.raises(ValidationFailed) as refused:
        save_plan(nacro_caseworker, accepted, activities=[activity(sessions=3)], rar_days_planned=5)
    assert "a RAR day needs a session" in refused.value.errors["rar_days_planned"][0]

    custody = ReferralFactory(
        contract=ttg_service,
        service_code="ACC-TTG",
        referrer=referrer,
        in_progress=True,
        location_type=LocationType.CUSTODY,
        prison="HMP Bedford",
        rar_days=None,
    )
    with pytest.raises(ValidationFailed) as refused:
        save_plan(nacro_caseworker, custody, activities=[activity()], rar_days_planned=3)
    assert refused.value.errors["rar_days_planned"] == ["This referral has no RAR days: leave RAR days planned empty"]
    assert save_plan(nacro_caseworker, custody, activities=[activity()]).rar_days_planned is None


def test_two_people_editing_the_plan_at_once_the_second_is_told(accepted, nacro_caseworker, nacro_manager):
    plan = save_plan(nacro_caseworker, accepted, activities=[activity()], rar_days_planned=1)
    read_at = plan.version
    save_plan(nacro_manager, accepted, activities=[activity(sessions=7)], rar_days_planned=1, version=read_at)
    with pytest.raises(StaleRecord):
        save_plan(nacro_caseworker, accepted, activities=[activity(sessions=8)], rar_days_planned=1, version=read_at)


def test_only_the_partner_writes_and_only_the_referrer_decides(
    accepted, nacro_caseworker, referrer, contract_manager, st_giles_caseworker, crc
):
    with pytest.raises(NotAllowed):
        save_plan(referrer, accepted, activities=[activity()], rar_days_planned=1)
    with pytest.raises(NotFound):
        save_plan(st_giles_caseworker, accepted, activities=[activity()], rar_days_planned=1)
    plan = save_plan(nacro_caseworker, accepted, activities=[activity()], rar_days_planned=1, submit=True)
    with pytest.raises(NotAllowed):
        approve_plan(nacro_caseworker, plan)
    with pytest.raises(NotAllowed):
        approve_plan(contract_manager, plan)
    colleague = UserFactory(role=referrer.role, organisation=crc)
    approve_plan(colleague, plan)  # a referrer's colleague may approve (they see the referral)
    assert plan.status == PlanStatus.APPROVED


def test_the_end_of_service_report_closes_the_plan(accepted, nacro_caseworker, referrer):
    plan = save_plan(nacro_caseworker, accepted, activities=[activity()], rar_days_planned=1, submit=True)
    approve_plan(referrer, plan)
    complete_referral(
        nacro_caseworker,
        accepted,
        summary="Housed.",
        outcomes=[
            {"desired_outcome": HOUSING, "achievement": "achieved"},
            {"desired_outcome": WORK, "achievement": "not_achieved"},
        ],
    )
    assert plan.status == PlanStatus.CLOSED and plan.closed_at is not None
    assert "action_plan.closed" in actions()
    with pytest.raises(InvalidTransition):
        save_plan(nacro_caseworker, accepted, activities=[activity()], rar_days_planned=1)


def test_withdrawing_the_referral_closes_its_plan_so_no_review_is_asked_for(accepted, nacro_caseworker, referrer):
    from portal.plans.service import review_due
    from portal.referrals.service import withdraw_referral

    plan = save_plan(nacro_caseworker, accepted, activities=[activity()], rar_days_planned=1, submit=True)
    approve_plan(referrer, plan)
    withdraw_referral(referrer, accepted, reason_code="moved_out_of_area", detail="Moved to Leeds.")
    assert plan.status == PlanStatus.CLOSED
    (closed,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "action_plan.closed"))
    assert closed.details["because"] == "the referral was withdrawn"
    assert review_due(accepted) is None


def test_the_plan_pages_from_writing_to_approval(accepted, nacro_caseworker, referrer, portal):
    portal.sign_in(nacro_caseworker)
    page = text_of(portal.get("/referrals/PL1234AB/plan"))
    assert "No action plan has been written yet" in page and "Write the action plan" in page
    form = {
        "activities-0-desired_outcome": HOUSING,
        "activities-0-description": "Housing applications",
        "activities-0-sessions": "5",
        "activities-0-frequency": "weekly",
        "activities-1-desired_outcome": WORK,
        "activities-1-description": "",
        "activities-1-sessions": "abc",
        "activities-1-frequency": "",
        "rar_days_planned": "3",
        "submit_plan": "Submit for approval",
    }
    response = portal.post("/plans/referrals/PL1234AB", form)
    assert response.status_code == 200
    page = text_of(response)
    assert "There is a problem" in page
    assert 'href="#activities-1-description"' in response.get_data(as_text=True)
    assert "Enter the number of sessions planned for activity 2, from 1 to 500" in page

    form.update(
        {"activities-1-description": "Job search", "activities-1-sessions": "4", "activities-1-frequency": "monthly"}
    )
    response = portal.post("/plans/referrals/PL1234AB", form)
    assert response.headers["Location"] == "/referrals/PL1234AB/plan"
    assert "You submitted the action plan" in text_of(portal.get("/referrals/PL1234AB/plan"))

    portal.sign_out()
    portal.sign_in(referrer)
    page = text_of(portal.get("/referrals/PL1234AB/plan"))
    assert "Version 1, waiting for approval" in page and "Approve the action plan" in page
    assert "Approve the action plan, or ask for changes." in page  # the next thing to do
    assert "1 action plan to approve" in text_of(portal.get("/"))
    assert "Action plans to approve" in text_of(portal.get("/plans/"))
    plan_id = db.session.scalars(select(ActionPlanVersion.plan_id)).one()
    response = portal.post(f"/plans/{plan_id}/request-changes", {"reason": ""})
    assert "Say what should change in the action plan, and why" in text_of(response)
    stale = portal.post(f"/plans/{plan_id}/approve", {"version": "1"})
    assert "changed by someone else" in text_of(portal.get(stale.headers["Location"]))
    portal.post(f"/plans/{plan_id}/approve", {"version": "2"})
    page = text_of(portal.get("/referrals/PL1234AB/plan"))
    assert "Version 1 approved" in page and "The approved plan (version 1)" in page


def test_another_partner_and_another_crc_find_no_plan(accepted, nacro_caseworker, st_giles_caseworker, portal):
    from tests.factories import CrcFactory

    plan = save_plan(nacro_caseworker, accepted, activities=[activity()], rar_days_planned=1, submit=True)
    portal.sign_in(st_giles_caseworker)
    assert portal.get("/referrals/PL1234AB/plan").status_code == 404
    assert portal.get("/plans/referrals/PL1234AB").status_code == 404
    assert portal.post(f"/plans/{plan.id}/approve", {}).status_code == 404
    portal.sign_out()
    other_referrer = UserFactory(role="crc_referrer", organisation=CrcFactory(name="Another CRC"))
    portal.sign_in(other_referrer)
    assert portal.get(f"/plans/{plan.id}/request-changes").status_code == 404


def test_the_case_file_asks_the_referrer_to_acknowledge_a_safeguarding_concern_first(
    accepted, nacro_caseworker, referrer, portal
):
    from portal.safeguarding.service import raise_concern

    save_plan(nacro_caseworker, accepted, activities=[activity()], rar_days_planned=1, submit=True)
    raise_concern(
        nacro_caseworker, accepted, {"category": "other", "what_happened": "Said he has a knife.", "urgency": "urgent"}
    )
    portal.sign_in(referrer)
    page = text_of(portal.get("/referrals/PL1234AB"))
    assert "Acknowledge 1 safeguarding concern the partner raised." in page
    assert "Approve the action plan, or ask for changes." not in page  # the concern comes first


def test_the_plan_section_costs_the_same_queries_however_many_versions_and_reviews(
    app, accepted, nacro_caseworker, referrer, portal
):
    from tests.helpers import QueryCounter

    plan = save_plan(nacro_caseworker, accepted, activities=[activity()], rar_days_planned=1, submit=True)
    portal.sign_in(referrer)
    with QueryCounter(app) as few:
        portal.get("/referrals/PL1234AB/plan")
    for sessions in (5, 4, 3):
        request_changes(referrer, plan, reason="Fewer sessions.")
        save_plan(nacro_caseworker, accepted, activities=[activity(sessions=sessions)], rar_days_planned=1, submit=True)
    with QueryCounter(app) as many:
        page = text_of(portal.get("/referrals/PL1234AB/plan"))
    assert "Version 4, waiting for approval" in page and "Every version submitted (4)" in page
    assert many.count == few.count
