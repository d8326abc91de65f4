"""Safeguarding concerns: raised by the partner, acknowledged in working hours or escalated to the
referrer's team manager, closed with an outcome; a concern of high risk transfers the case to the NPS."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from portal.accounts.models import Role
from portal.audit.models import AuditEvent
from portal.delivery.end_of_service import complete_referral
from portal.errors import InvalidTransition, NotAllowed, NotFound, ValidationFailed
from portal.extensions import db
from portal.formatting import LONDON
from portal.notifications.models import OutboundEmail
from portal.referrals.models import ReferralStatus, WithdrawReason
from portal.safeguarding.models import ConcernStatus, SafeguardingConcern
from portal.safeguarding.service import (
    acknowledge_concern,
    close_concern,
    escalate_overdue,
    raise_concern,
    set_team_manager,
)
from portal.working_days import add_working_hours
from tests.factories import ReferralFactory, SessionFactory, UserFactory
from tests.helpers import text_of

CONCERN = {
    "category": "child_protection",
    "what_happened": "Said his ex-partner's child was left alone overnight.",
    "urgency": "urgent",
    "told_mash": True,
    "told_at": datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
}


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        (london(2026, 3, 2, 10, 0), 4, london(2026, 3, 2, 14, 0)),  # Monday morning
        (london(2026, 3, 6, 16, 0), 4, london(2026, 3, 9, 12, 0)),  # Friday 16:00 → Monday 12:00
        (london(2026, 3, 2, 20, 0), 8, london(2026, 3, 3, 17, 0)),  # evening: counts from 09:00 next day
        (london(2026, 3, 7, 11, 0), 4, london(2026, 3, 9, 13, 0)),  # Saturday
        (london(2026, 4, 2, 15, 0), 4, london(2026, 4, 7, 11, 0)),  # Good Friday and Easter Monday skipped
        (london(2026, 3, 27, 16, 30), 8, london(2026, 3, 30, 16, 30)),  # across the clocks going forward
    ],
)
def test_deadlines_count_working_hours_in_london(start, hours, due):
    assert add_working_hours(start, hours) == due.astimezone(UTC)


@pytest.fixture
def open_referral(ttg_service, referrer, nacro_caseworker):
    return ReferralFactory(
        reference="SG1234AB",
        contract=ttg_service,
        service_code="ACC-TTG",
        referrer=referrer,
        in_progress=True,
        caseworker=nacro_caseworker,
    )


def raised(actor, referral, **changes):
    return raise_concern(actor, referral, {**CONCERN, **changes}, at=datetime(2026, 3, 2, 10, 0, tzinfo=UTC))


def test_a_partner_raises_a_concern_which_the_referrer_must_acknowledge_within_four_working_hours(
    open_referral, nacro_caseworker, referrer
):
    concern = raised(nacro_caseworker, open_referral)
    assert concern.status == ConcernStatus.OPEN
    assert concern.acknowledge_due_at == datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    assert concern.who_was_told == ["MASH"]
    emails = db.session.scalars(select(OutboundEmail).where(OutboundEmail.recipient == referrer.email)).all()
    assert any("Urgent safeguarding concern" in email.subject for email in emails)
    actions = set(db.session.scalars(select(AuditEvent.action)).all())
    assert "safeguarding_concern.raised" in actions


def test_a_standard_concern_gives_a_working_day(open_referral, nacro_caseworker):
    concern = raised(nacro_caseworker, open_referral, urgency="standard")
    assert concern.acknowledge_due_at == datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


def test_raising_names_each_missing_field(open_referral, nacro_caseworker):
    with pytest.raises(ValidationFailed) as failure:
        raise_concern(nacro_caseworker, open_referral, {"told_police": True})
    assert set(failure.value.errors) == {"category", "urgency", "what_happened", "told_at"}


def test_only_the_partner_raises_and_only_the_referrer_acknowledges(
    open_referral, nacro_caseworker, referrer, contract_manager, st_giles_manager
):
    with pytest.raises(NotAllowed):
        raise_concern(referrer, open_referral, CONCERN)
    with pytest.raises(NotFound):  # another partner does not see the referral at all
        raise_concern(st_giles_manager, open_referral, CONCERN)
    concern = raised(nacro_caseworker, open_referral)
    with pytest.raises(NotAllowed):
        acknowledge_concern(nacro_caseworker, concern)
    with pytest.raises(NotAllowed):
        acknowledge_concern(contract_manager, concern)
    with pytest.raises(NotFound):
        acknowledge_concern(st_giles_manager, concern)


def test_acknowledged_then_closed_with_an_outcome_and_each_step_audited(open_referral, nacro_caseworker, referrer):
    concern = raised(nacro_caseworker, open_referral)
    with pytest.raises(InvalidTransition):
        close_concern(referrer, concern, outcome="no_further_action", detail="x")
    acknowledge_concern(referrer, concern)
    assert concern.status == ConcernStatus.ACKNOWLEDGED and concern.acknowledged_by_id == referrer.id
    with pytest.raises(ValidationFailed) as failure:
        close_concern(referrer, concern, outcome="", detail="")
    assert set(failure.value.errors) == {"outcome", "outcome_detail"}
    close_concern(referrer, concern, outcome="referred_to_childrens_services", detail="MASH took it on.")
    assert concern.status == ConcernStatus.CLOSED
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.record_type == "safeguarding_concern").order_by(AuditEvent.id)
    ).all()
    assert actions == [
        "safeguarding_concern.raised",
        "safeguarding_concern.acknowledged",
        "safeguarding_concern.closed",
    ]


def test_a_referral_cannot_be_completed_while_a_concern_is_open(open_referral, nacro_caseworker, referrer):
    concern = raised(nacro_caseworker, open_referral)
    report = {
        "summary": "Done",
        "outcomes": [{"desired_outcome": "Find settled accommodation", "achievement": "achieved"}],
    }
    with pytest.raises(InvalidTransition, match="safeguarding concern that is not closed"):
        complete_referral(nacro_caseworker, open_referral, **report)
    db.session.rollback()
    acknowledge_concern(referrer, concern)
    close_concern(referrer, concern, outcome="no_further_action", detail="Checked: the child was with family.")
    complete_referral(nacro_caseworker, open_referral, **report)
    assert open_referral.status == ReferralStatus.COMPLETED


def test_a_concern_that_risk_is_now_high_stops_the_referral_and_marks_it_for_the_nps(
    open_referral, nacro_caseworker, today
):
    booked = SessionFactory(referral=open_referral, date=today + timedelta(days=7), attendance=None)
    booked_id = booked.id
    concern = raise_concern(nacro_caseworker, open_referral, {**CONCERN, "rosh_high": True})
    assert concern.rosh_high
    assert open_referral.status == ReferralStatus.WITHDRAWN
    assert open_referral.withdraw_reason == WithdrawReason.TRANSFERRED_TO_NPS
    assert db.session.get(type(booked), booked_id) is None  # the sessions booked ahead are cancelled
    assert concern.status == ConcernStatus.OPEN  # the referrer still acknowledges and closes it


def test_unacknowledged_concerns_escalate_once_to_the_referrers_team_manager(
    open_referral, nacro_caseworker, referrer, admin, crc
):
    manager = UserFactory(email="team.manager@crc.example", role=Role.CRC_REFERRER, organisation=crc)
    set_team_manager(admin, referrer, manager.id)
    concern = raised(nacro_caseworker, open_referral)
    assert escalate_overdue(datetime(2026, 3, 2, 13, 59, tzinfo=UTC)) == []
    assert escalate_overdue(datetime(2026, 3, 2, 14, 1, tzinfo=UTC)) == [concern]
    assert concern.escalated_to_id == manager.id
    assert escalate_overdue(datetime(2026, 3, 2, 15, 0, tzinfo=UTC)) == []  # once only
    subjects = db.session.scalars(select(OutboundEmail.subject).where(OutboundEmail.recipient == manager.email)).all()
    assert any(subject.startswith("Escalated: safeguarding concern") for subject in subjects)
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "safeguarding_concern.escalated"))


def test_without_a_team_manager_the_administrators_are_told(open_referral, nacro_caseworker, admin):
    raised(nacro_caseworker, open_referral)
    escalate_overdue(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    assert db.session.scalar(select(OutboundEmail.id).where(OutboundEmail.recipient == admin.email))


def test_the_escalate_command_is_for_cron(runner, open_referral, nacro_caseworker):
    raised(nacro_caseworker, open_referral)
    result = runner.invoke(args=["safeguarding", "escalate"])
    assert result.exit_code == 0, result.output
    assert "Escalated 1 safeguarding concern." in result.output


def test_only_administrators_name_team_managers_and_only_for_crc_staff(
    admin, referrer, contract_manager, nacro_manager
):
    with pytest.raises(NotAllowed):
        set_team_manager(contract_manager, referrer, contract_manager.id)
    with pytest.raises(NotAllowed):
        set_team_manager(admin, nacro_manager, contract_manager.id)
    with pytest.raises(ValidationFailed):
        set_team_manager(admin, referrer, referrer.id)
    set_team_manager(admin, referrer, contract_manager.id)
    assert referrer.team_manager_id == contract_manager.id


# --- the pages ------------------------------------------------------------------------------------------


def test_the_partner_raises_a_concern_from_the_case_file_and_both_home_pages_show_it(
    portal, other_portal, open_referral, nacro_caseworker, referrer
):
    portal.sign_in(nacro_caseworker)
    page = portal.get("/referrals/SG1234AB/safeguarding")
    assert "Raise a safeguarding concern" in text_of(page)
    response = portal.post("/safeguarding/referrals/SG1234AB/new", {"category": "domestic_abuse"})
    assert response.status_code == 200
    text = text_of(response)
    assert "There is a problem" in text and "Describe what happened and who is at risk" in text
    assert (
        'href="#urgency"' in response.get_data(as_text=True)
        or 'href="#urgency-0"' in response.get_data(as_text=True)
        or "Select how urgent" in text
    )
    response = portal.post(
        "/safeguarding/referrals/SG1234AB/new",
        {
            "category": "domestic_abuse",
            "what_happened": "Threatening remarks about an ex-partner.",
            "urgency": "urgent",
            "told_responsible_officer": "y",
            "told_at": ["2", "3", "2026"],
            "told_time": "09:30",
        },
    )
    assert response.status_code == 302, text_of(response)[:1500]
    assert "1 safeguarding concern raised and not yet closed" in text_of(portal.get("/"))
    assert "Safeguarding concern not yet closed" in text_of(
        portal.get("/referrals/SG1234AB")
    ) or "1 safeguarding concern not yet closed" in text_of(portal.get("/referrals/SG1234AB"))

    other_portal.sign_in(referrer)
    assert "1 safeguarding concern to acknowledge" in text_of(other_portal.get("/"))
    concern = db.session.scalars(select(SafeguardingConcern)).one()
    other_portal.get("/referrals/SG1234AB/safeguarding")
    response = other_portal.post(f"/safeguarding/{concern.id}/acknowledge", {"version": str(concern.version)})
    assert response.status_code == 302
    assert "1 safeguarding concern acknowledged, to close with an outcome" in text_of(other_portal.get("/"))
    other_portal.get(f"/safeguarding/{concern.id}/close")
    response = other_portal.post(f"/safeguarding/{concern.id}/close", {"outcome": "", "outcome_detail": ""})
    assert "Select the outcome of the concern" in text_of(response)
    db.session.expire_all()
    response = other_portal.post(
        f"/safeguarding/{concern.id}/close",
        {
            "outcome": "risk_plan_updated",
            "outcome_detail": "Risk plan updated.",
            "version": str(db.session.get(SafeguardingConcern, concern.id).version),
        },
    )
    assert response.status_code == 302
    assert "Risk management plan updated" in text_of(other_portal.get("/referrals/SG1234AB/safeguarding"))
    assert "safeguarding concern raised and not yet closed" not in text_of(portal.get("/")).replace(
        "0 safeguarding", ""
    )


def test_another_partner_gets_not_found(portal, open_referral, nacro_caseworker, st_giles_manager):
    concern = raised(nacro_caseworker, open_referral)
    portal.sign_in(st_giles_manager)
    assert portal.get("/referrals/SG1234AB/safeguarding").status_code == 404
    assert portal.get("/safeguarding/referrals/SG1234AB/new").status_code == 404
    assert portal.get(f"/safeguarding/{concern.id}/close").status_code == 404
    assert "No concerns match" in text_of(portal.get("/safeguarding/?status=all"))


def test_the_queue_lists_concerns_in_a_fixed_number_of_queries(app, portal, ttg_service, referrer, nacro_caseworker):
    from tests.helpers import QueryCounter

    def add_some(count):
        for _ in range(count):
            referral = ReferralFactory(
                contract=ttg_service, service_code="ACC-TTG", referrer=referrer, in_progress=True
            )
            raised(nacro_caseworker, referral)

    portal.sign_in(referrer)
    add_some(1)
    with QueryCounter(app) as few:
        portal.get("/safeguarding/")
    add_some(5)
    with QueryCounter(app) as many:
        page = portal.get("/safeguarding/")
    assert "6 concerns" in text_of(page)
    assert many.count == few.count


def test_the_service_returns_safeguarding_figures_come_from_the_concern_records(
    open_referral, nacro_caseworker, referrer, ttg_service
):
    from datetime import date

    from portal.dates import Period, PeriodKind
    from portal.returns.kpis import compute_figures, figure
    from portal.returns.records import load_records

    first = raised(nacro_caseworker, open_referral)  # urgent, due 14:00 on 2 March 2026
    acknowledge_concern(referrer, first)  # now: long after its deadline
    second = ReferralFactory(contract=ttg_service, service_code="ACC-TTG", referrer=referrer, in_progress=True)
    raised(nacro_caseworker, second, urgency="standard", rosh_high=True)
    escalate_overdue()
    period = Period(PeriodKind.MONTH, date(2026, 3, 1))
    records = load_records([ttg_service.id], date(2025, 4, 1), date(2026, 3, 31))
    figures = compute_figures(records, period, today=date(2026, 4, 1), contract_start=date(2025, 4, 1))
    assert figure(figures, "concerns_raised") == 2
    assert figure(figures, "concerns_urgent") == 1
    assert figure(figures, "concerns_acknowledged_in_time") == {"n": 0, "d": 2}
    assert figure(figures, "concerns_escalated") == 1
    assert figure(figures, "concerns_rosh_high") == 1


def test_the_navigation_leads_partners_and_referrers_to_their_concerns(portal, nacro_caseworker, referrer, admin):
    for user, shown in ((nacro_caseworker, True), (referrer, True), (admin, False)):
        portal.sign_in(user)
        assert ('href="/safeguarding/"' in portal.get("/").get_data(as_text=True)) is shown, user.role
        portal.sign_out()
