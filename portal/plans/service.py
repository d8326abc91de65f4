"""The operations on action plans and progress reviews, for the pages and the API alike: the partner
saves and submits a plan, the referrer approves it or asks for changes, the end-of-service report
closes it; the caseworker submits a progress review when one is due and the referrer marks it read.

When a review is due (one definition, in Python for one referral and in SQL for lists):
- every 12 weeks: the first 12 weeks after acceptance, then 12 weeks after the last review was
  submitted (so a late review does not make the next one due at once);
- near the end, once: 4 weeks before the order's end (the referral's sentence end date), or when the
  approved plan's sessions are nearly used (2 weeks after the attended session that leaves two to go:
  time to write it, and attendance recorded a few days late does not make it overdue at once),
  whichever comes first. An end-of-plan review that falls before the next 12-week one replaces it.
A review can be submitted from 2 weeks before it is due; it is overdue the day after its due date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Date, and_, case, exists, func, or_, select, type_coerce
from sqlalchemy.orm import aliased

from portal import access
from portal.audit.service import changes, record_event
from portal.dates import london_day, london_today
from portal.db import utcnow
from portal.delivery.models import ATTENDED, Attendance, Session
from portal.delivery.outcome_rules import days_after
from portal.errors import InvalidTransition, ValidationFailed
from portal.extensions import db
from portal.formatting import format_date
from portal.notifications.rules import notify
from portal.persistence import check_version, commit, guards_versions, lock
from portal.plans.models import (
    EDITABLE,
    ActionPlan,
    ActionPlanVersion,
    Decision,
    Frequency,
    PlanStatus,
    Progress,
    ProgressReview,
    ReviewKind,
    ReviewStatus,
)
from portal.referrals.models import OPEN_STATUSES, LocationType, Referral, ReferralEventKind
from portal.workflow import StateMachine, Transition

MAX_TEXT = 5000
MAX_ACTIVITIES = 20
MAX_SESSIONS = 500
REVIEW_EVERY = timedelta(weeks=12)
ENDING_NOTICE = timedelta(weeks=4)  # the end-of-plan review is due this long before the order ends
SESSIONS_LEFT = 2  # …or when the approved plan has this many sessions left to attend,
SESSIONS_NOTICE = timedelta(
    weeks=2
)  # due this long after the session that left them (recorded late, not overdue at once)
DUE_SOON = timedelta(weeks=2)  # a review is asked for (and can be submitted) this long before it is due

PLAN_WORKFLOW = StateMachine(
    "action_plan",
    [
        Transition(
            "submit",
            frozenset({PlanStatus.DRAFT, PlanStatus.CHANGES_REQUESTED}),
            PlanStatus.SUBMITTED,
            "Only a draft action plan, or one the referrer asked changes to, can be submitted",
        ),
        Transition(
            "approve",
            frozenset({PlanStatus.SUBMITTED}),
            PlanStatus.APPROVED,
            "Only a submitted action plan is approved",
        ),
        Transition(
            "request_changes",
            frozenset({PlanStatus.SUBMITTED}),
            PlanStatus.CHANGES_REQUESTED,
            "Changes can be asked for only on a submitted action plan",
        ),
        Transition(
            "revise",
            frozenset({PlanStatus.APPROVED}),
            PlanStatus.DRAFT,
            "Only an approved action plan is revised into a new draft",
        ),
        Transition(
            "close",
            frozenset({PlanStatus.DRAFT, PlanStatus.SUBMITTED, PlanStatus.CHANGES_REQUESTED, PlanStatus.APPROVED}),
            PlanStatus.CLOSED,
            "This action plan is already closed",
        ),
    ],
)

REVIEW_WORKFLOW = StateMachine(
    "progress_review",
    [Transition("read", frozenset({ReviewStatus.SUBMITTED}), ReviewStatus.READ, "This review has already been read")],
)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _timeline(referral: Referral, actor: Any, summary: str, details: dict[str, Any] | None = None) -> None:
    from portal.referrals.service import timeline

    timeline(referral, ReferralEventKind.NOTE, actor, summary, details)


def is_rar_referral(referral: Referral) -> bool:
    """RAR days are ordered on community orders only (a custody referral never has them)."""
    return referral.location_type != LocationType.CUSTODY and bool(referral.rar_days)


def plan_of(referral: Referral) -> ActionPlan | None:
    return db.session.scalars(select(ActionPlan).where(ActionPlan.referral_id == referral.id)).first()


def versions_of(plan: ActionPlan | None) -> list[ActionPlanVersion]:
    """Every submission, newest first, with who submitted and decided (one query)."""
    if plan is None:
        return []
    from sqlalchemy.orm import joinedload

    return list(
        db.session.scalars(
            select(ActionPlanVersion)
            .where(ActionPlanVersion.plan_id == plan.id)
            .options(joinedload(ActionPlanVersion.submitted_by), joinedload(ActionPlanVersion.decided_by))
            .order_by(ActionPlanVersion.number.desc())
        ).all()
    )


# --- writing the plan (the partner) ------------------------------------------------------------------


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def check_plan(referral: Referral, activities: Any, rar_days_planned: Any) -> tuple[list[dict[str, Any]], int | None]:
    """The plan as it is kept, or ValidationFailed naming each field (`activities-0-sessions`…)."""
    errors: dict[str, list[str]] = {}
    desired = list(referral.desired_outcomes or [])
    given = [entry for entry in (activities or []) if isinstance(entry, dict)]
    if not isinstance(activities, list) or len(given) != len(activities):
        raise ValidationFailed.single("activities", "Give the activities as a list")
    # A row left wholly blank on the page is no activity.
    given = [entry for entry in given if any(_text(entry.get(key)) or entry.get(key) for key in entry)]
    if not given:
        errors["activities"] = ["Add at least one activity, linked to one of the referral's desired outcomes"]
    if len(given) > MAX_ACTIVITIES:
        errors["activities"] = [f"A plan can have at most {MAX_ACTIVITIES} activities"]
    cleaned: list[dict[str, Any]] = []
    for index, entry in enumerate(given):
        row = f"activities-{index}"
        number = f"activity {index + 1}"
        outcome = _text(entry.get("desired_outcome"))
        if outcome not in desired:
            errors[f"{row}-desired_outcome"] = [
                f"Select which of the referral's desired outcomes {number} works towards"
            ]
        description = _text(entry.get("description"))
        if not description:
            errors[f"{row}-description"] = [f"Describe {number}: what will be done, and by whom"]
        elif len(description) > MAX_TEXT:
            errors[f"{row}-description"] = [f"The description of {number} must be {MAX_TEXT:,} characters or fewer"]
        sessions = _int(entry.get("sessions"))
        if sessions is None or not 1 <= sessions <= MAX_SESSIONS:
            errors[f"{row}-sessions"] = [f"Enter the number of sessions planned for {number}, from 1 to {MAX_SESSIONS}"]
        try:
            frequency = Frequency(entry.get("frequency"))
        except ValueError:
            errors[f"{row}-frequency"] = [f"Select how often the sessions of {number} happen"]
            frequency = None
        cleaned.append(
            {
                "desired_outcome": outcome,
                "description": description,
                "sessions": sessions,
                "frequency": frequency.value if frequency else None,
            }
        )
    rar = None
    if is_rar_referral(referral):
        rar = _int(rar_days_planned)
        total = sum(row["sessions"] or 0 for row in cleaned)
        if rar is None or rar < 0:
            errors["rar_days_planned"] = [
                f"Enter the number of RAR days planned, from 0 to the {referral.rar_days} the order allows"
            ]
        elif rar > referral.rar_days:
            errors["rar_days_planned"] = [
                f"RAR days planned must be {referral.rar_days} or fewer: the order allows {referral.rar_days}"
            ]
        elif rar > total and "activities" not in errors:
            errors["rar_days_planned"] = [
                f"RAR days planned must be no more than the {total} sessions planned: a RAR day needs a session"
            ]
    elif rar_days_planned not in (None, "", 0, "0"):
        errors["rar_days_planned"] = ["This referral has no RAR days: leave RAR days planned empty"]
    if errors:
        raise ValidationFailed(errors)
    return cleaned, rar


def _require_open(referral: Referral) -> None:
    if referral.status not in OPEN_STATUSES:
        raise InvalidTransition("An action plan is written once the referral is accepted, until it ends")


@guards_versions("action plan")
def save_plan(
    actor: Any,
    referral: Referral,
    *,
    activities: Any,
    rar_days_planned: Any = None,
    version: int | str | None = None,
    submit: bool = False,
) -> ActionPlan:
    """The partner writes (or revises) the plan. Revising an approved plan starts a new draft; the
    approved version stays in force until the referrer approves the next. `submit` sends it too."""
    access.require(actor, "write_plan", referral)
    lock(referral)
    _require_open(referral)
    plan = plan_of(referral)
    if plan is not None:
        lock(plan)
        check_version(plan, version, "action plan")
        if plan.status not in EDITABLE:
            raise InvalidTransition(
                "This action plan is waiting for the referrer's decision: it can be changed once they approve it "
                "or ask for changes"
                if plan.status == PlanStatus.SUBMITTED
                else "This action plan is closed: the referral has ended"
            )
    cleaned, rar = check_plan(referral, activities, rar_days_planned)
    now = utcnow()
    if plan is None:
        plan = ActionPlan(
            referral_id=referral.id,
            status=PlanStatus.DRAFT,
            activities=cleaned,
            rar_days_planned=rar,
            edited_at=now,
            edited_by_id=actor.id,
        )
        db.session.add(plan)
        db.session.flush()
        record_event(
            "action_plan.created",
            actor=actor,
            record=plan,
            details={"referral": referral.reference, "activities": cleaned, "rar_days_planned": rar},
        )
        _timeline(referral, actor, "Action plan started", {"plan_id": plan.id})
    else:
        before = {"activities": plan.activities, "rar_days_planned": plan.rar_days_planned}
        after = {"activities": cleaned, "rar_days_planned": rar}
        if before != after:
            if plan.status == PlanStatus.APPROVED:
                PLAN_WORKFLOW.apply(plan, "revise", actor, details={"referral": referral.reference})
            plan.activities = cleaned
            plan.rar_days_planned = rar
            plan.edited_at = now
            plan.edited_by_id = actor.id
            record_event(
                "action_plan.edited",
                actor=actor,
                record=plan,
                details={"referral": referral.reference, "changes": changes(before, after)},
            )
    if submit:
        _submit(actor, referral, plan)
    commit("action plan")
    return plan


def _submit(actor: Any, referral: Referral, plan: ActionPlan) -> ActionPlanVersion:
    if plan.status == PlanStatus.APPROVED:
        raise InvalidTransition("This action plan is approved as it is: change it before submitting it again")
    PLAN_WORKFLOW.check(plan, "submit")
    number = (
        db.session.scalar(select(func.max(ActionPlanVersion.number)).where(ActionPlanVersion.plan_id == plan.id)) or 0
    ) + 1
    submitted = ActionPlanVersion(
        plan_id=plan.id,
        number=number,
        activities=list(plan.activities),
        rar_days_planned=plan.rar_days_planned,
        planned_sessions=plan.planned_sessions,
        submitted_at=utcnow(),
        submitted_by_id=actor.id,
    )
    db.session.add(submitted)
    PLAN_WORKFLOW.apply(plan, "submit", actor, details={"referral": referral.reference, "number": number})
    _timeline(referral, actor, f"Action plan version {number} submitted for approval", {"plan_id": plan.id})
    notify("action_plan_submitted", referral, actor=actor, referral=referral, plan=plan, submitted=submitted)
    return submitted


@guards_versions("action plan")
def submit_plan(actor: Any, referral: Referral, *, version: int | str | None = None) -> ActionPlan:
    """The partner submits the plan as saved: it becomes the next numbered version, kept as it is."""
    access.require(actor, "write_plan", referral)
    lock(referral)
    _require_open(referral)
    plan = plan_of(referral)
    if plan is None:
        raise InvalidTransition("Write the action plan before submitting it")
    lock(plan)
    check_version(plan, version, "action plan")
    check_plan(referral, plan.activities, plan.rar_days_planned)  # the referral may have been amended since
    _submit(actor, referral, plan)
    commit("action plan")
    return plan


# --- deciding (the referrer) ---------------------------------------------------------------------------


def _latest_version(plan: ActionPlan) -> ActionPlanVersion:
    return db.session.scalars(
        select(ActionPlanVersion).where(ActionPlanVersion.plan_id == plan.id).order_by(ActionPlanVersion.number.desc())
    ).first()


@guards_versions("action plan")
def approve_plan(actor: Any, plan: ActionPlan, *, version: int | str | None = None) -> ActionPlan:
    """The referrer approves the submitted version: it is the plan in force from now."""
    access.require(actor, "decide", plan)
    lock(plan)
    check_version(plan, version, "action plan")
    PLAN_WORKFLOW.check(plan, "approve")
    referral = db.session.get(Referral, plan.referral_id)
    submitted = _latest_version(plan)
    submitted.decision = Decision.APPROVED
    submitted.decided_at = utcnow()
    submitted.decided_by_id = actor.id
    plan.approved_number = submitted.number
    plan.approved_sessions = submitted.planned_sessions
    PLAN_WORKFLOW.apply(plan, "approve", actor, details={"referral": referral.reference, "number": submitted.number})
    _timeline(referral, actor, f"Action plan version {submitted.number} approved", {"plan_id": plan.id})
    notify("action_plan_decided", referral, actor=actor, referral=referral, plan=plan, submitted=submitted)
    commit("action plan")
    return plan


@guards_versions("action plan")
def request_changes(actor: Any, plan: ActionPlan, *, reason: Any, version: int | str | None = None) -> ActionPlan:
    """The referrer asks the partner to change the submitted version, saying what and why."""
    access.require(actor, "decide", plan)
    lock(plan)
    check_version(plan, version, "action plan")
    PLAN_WORKFLOW.check(plan, "request_changes")
    reason = _text(reason)
    if not reason:
        raise ValidationFailed.single("reason", "Say what should change in the action plan, and why")
    if len(reason) > MAX_TEXT:
        raise ValidationFailed.single("reason", f"The reason must be {MAX_TEXT:,} characters or fewer")
    referral = db.session.get(Referral, plan.referral_id)
    submitted = _latest_version(plan)
    submitted.decision = Decision.CHANGES_REQUESTED
    submitted.decided_at = utcnow()
    submitted.decided_by_id = actor.id
    submitted.decision_reason = reason
    PLAN_WORKFLOW.apply(
        plan,
        "request_changes",
        actor,
        details={"referral": referral.reference, "number": submitted.number, "reason": reason},
    )
    _timeline(referral, actor, f"Changes asked to action plan version {submitted.number}", {"plan_id": plan.id})
    notify("action_plan_decided", referral, actor=actor, referral=referral, plan=plan, submitted=submitted)
    commit("action plan")
    return plan


def close_plan(actor: Any, referral: Referral, *, because: str = "the end-of-service report was submitted") -> None:
    """The referral has ended (its end-of-service report, or it was withdrawn): its plan closes with
    it, and no more reviews are asked for. In the caller's transaction; nothing to do for a referral
    without a plan."""
    plan = plan_of(referral)
    if plan is None or plan.status == PlanStatus.CLOSED:
        return
    PLAN_WORKFLOW.apply(plan, "close", actor, details={"referral": referral.reference, "because": because})
    _timeline(referral, actor, f"Action plan closed: {because}", {"plan_id": plan.id})


# --- when a review is due -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueReview:
    kind: ReviewKind
    due_on: date

    def overdue(self, today: date) -> bool:
        return self.due_on < today

    def asked(self, today: date) -> bool:
        """Whether the portal asks for it yet (from DUE_SOON before its date)."""
        return self.due_on <= today + DUE_SOON


def _attended_in_order(referral: Referral) -> list[date]:
    return list(
        db.session.scalars(
            select(Session.date)
            .where(Session.referral_id == referral.id, Session.attendance.in_(ATTENDED))
            .order_by(Session.date, Session.id)
        ).all()
    )


def _nth_session(approved_sessions: int) -> int:
    """Which attended session leaves SESSIONS_LEFT of the plan to go (at least the first)."""
    return max(approved_sessions - SESSIONS_LEFT, 1)


def review_due(referral: Referral) -> DueReview | None:
    """The referral's next progress review (None when it is not open). Same rule as `review_due_sql`."""
    if referral.status not in OPEN_STATUSES or referral.accepted_on is None:
        return None
    reviews = list(
        db.session.scalars(
            select(ProgressReview).where(ProgressReview.referral_id == referral.id).order_by(ProgressReview.number)
        ).all()
    )
    periodic = reviews[-1].next_due_on if reviews else referral.accepted_on + REVIEW_EVERY
    ending: date | None = None
    if not any(review.kind == ReviewKind.ENDING for review in reviews):
        candidates = []
        if referral.sentence_end_date is not None:
            candidates.append(referral.sentence_end_date - ENDING_NOTICE)
        plan = plan_of(referral)
        if plan is not None and plan.approved_sessions:
            attended = _attended_in_order(referral)
            nth = _nth_session(plan.approved_sessions)
            if len(attended) >= nth:
                candidates.append(attended[nth - 1] + SESSIONS_NOTICE)
        ending = min(candidates) if candidates else None
    if ending is not None and ending <= periodic:
        return DueReview(ReviewKind.ENDING, ending)
    return DueReview(ReviewKind.TWELVE_WEEK, periodic)


def _earlier(first: Any, second: Any) -> Any:
    """The earlier of two dates, either of which may be null (SQLite's MIN(a, b) is null if either is)."""
    return case(
        (first.is_(None), second),
        (second.is_(None), first),
        (first <= second, first),
        else_=second,
    )


def review_due_sql(referral: Any = Referral) -> tuple[ColumnElement[date], ColumnElement[bool]]:
    """(due date, whether it is the end-of-plan review) of each referral's next review, as SQL over
    `referral` (correlated subqueries: one query for a whole list). Meaningful for open referrals."""
    last_next = (
        select(ProgressReview.next_due_on)
        .where(ProgressReview.referral_id == referral.id)
        .order_by(ProgressReview.number.desc())
        .limit(1)
        .scalar_subquery()
    )
    periodic = func.coalesce(last_next, days_after(referral.accepted_on, REVIEW_EVERY.days))
    approved = (
        select(ActionPlan.approved_sessions)
        .where(ActionPlan.referral_id == referral.id)
        .correlate_except(ActionPlan)  # used two subqueries deep: the referral is the outermost query's
        .scalar_subquery()
    )
    nth = case((approved - SESSIONS_LEFT >= 1, approved - SESSIONS_LEFT), else_=1)
    first, earlier = aliased(Session), aliased(Session)
    attended_before = (
        select(func.count())
        .select_from(earlier)
        .where(
            earlier.referral_id == first.referral_id,
            earlier.attendance.in_(ATTENDED),
            or_(earlier.date < first.date, and_(earlier.date == first.date, earlier.id <= first.id)),
        )
        .scalar_subquery()
    )
    sessions_nearly_used = (
        select(days_after(func.min(first.date), SESSIONS_NOTICE.days))
        .where(
            approved.is_not(None),  # no approved plan, no sessions planned to run out
            first.referral_id == referral.id,
            first.attendance.in_(ATTENDED),
            attended_before >= nth,
        )
        .scalar_subquery()
    )
    order_ending = days_after(referral.sentence_end_date, -ENDING_NOTICE.days)
    ended_once = exists().where(ProgressReview.referral_id == referral.id, ProgressReview.kind == ReviewKind.ENDING)
    ending = case((ended_once, None), else_=_earlier(order_ending, sessions_nearly_used))
    is_ending = and_(ending.is_not(None), ending <= periodic)
    return type_coerce(case((is_ending, ending), else_=periodic), Date()), is_ending


def reviews_due_clause(today: date, referral: Any = Referral, *, overdue: bool | None = None) -> ColumnElement[bool]:
    """Open referrals whose next review is asked for (overdue=None), overdue (True), or asked for and
    not yet overdue (False), on `today`."""
    due_on, _ending = review_due_sql(referral)
    conditions = [referral.status.in_(OPEN_STATUSES), referral.accepted_on.is_not(None)]
    if overdue is True:
        conditions.append(due_on < today)
    elif overdue is False:
        conditions += [due_on >= today, due_on <= today + DUE_SOON]
    else:
        conditions.append(due_on <= today + DUE_SOON)
    return and_(*conditions)


def review_counts(referral_ids: Any, today: date) -> tuple[int, int]:
    """(overdue, due and not yet overdue) among the referrals `referral_ids` selects, as
    reviews_due_clause counts them, in one query. Each referral's due date is worked out once, in a
    subquery the database must not flatten (OFFSET 0): its expression is large, and PostgreSQL took
    longer to plan it (5 to 8 ms) than to run it, once for each count when they were two queries."""
    due_on, _ending = review_due_sql()
    due = (
        select(due_on.label("due_on"))
        .where(Referral.id.in_(referral_ids), Referral.status.in_(OPEN_STATUSES), Referral.accepted_on.is_not(None))
        .offset(0)
        .subquery()
    )
    overdue, soon = db.session.execute(
        select(
            func.count().filter(due.c.due_on < today),
            func.count().filter(and_(due.c.due_on >= today, due.c.due_on <= today + DUE_SOON)),
        ).select_from(due)
    ).one()
    return overdue, soon


# --- progress reviews (the caseworker, then the referrer) -----------------------------------------------


def attendance_of(referral: Referral, plan: ActionPlan | None = None) -> dict[str, int | None]:
    """Attendance so far, counted from the sessions (never typed): one query."""
    counts = dict(
        db.session.execute(
            select(Session.attendance, func.count())
            .where(Session.referral_id == referral.id, Session.attendance.is_not(None))
            .group_by(Session.attendance)
        ).all()
    )
    plan = plan if plan is not None else plan_of(referral)
    return {
        "attended": counts.get(Attendance.ATTENDED, 0),
        "late": counts.get(Attendance.LATE, 0),
        "did_not_attend": counts.get(Attendance.DID_NOT_ATTEND, 0),
        "not_held": counts.get(Attendance.SESSION_DID_NOT_HAPPEN, 0),
        "planned": plan.approved_sessions if plan is not None else None,
    }


@guards_versions("referral")
def submit_review(actor: Any, referral: Referral, fields: dict[str, Any]) -> ProgressReview:
    """The caseworker submits the progress review that is due: progress towards each desired outcome
    (a rating and words) and risk observations; attendance is counted from the sessions."""
    access.require(actor, "write_review", referral)
    lock(referral)
    if referral.status not in OPEN_STATUSES:
        raise InvalidTransition("Progress reviews are written while the referral is accepted or in progress")
    today = london_today()
    due = review_due(referral)
    if due is None or not due.asked(today):
        raise InvalidTransition(
            f"No progress review is due yet: the next is due on {format_date(due.due_on)}"
            if due
            else "No progress review is due"
        )
    errors: dict[str, list[str]] = {}
    given = {
        _text(entry.get("desired_outcome")): entry for entry in fields.get("outcomes") or [] if isinstance(entry, dict)
    }
    outcomes = []
    for index, wanted in enumerate(referral.desired_outcomes or []):
        entry = given.get(wanted) or {}
        try:
            progress = Progress(entry.get("progress"))
        except ValueError:
            errors[f"outcomes-{index}-progress"] = [f"Select the progress towards '{wanted}'"]
            progress = None
        comment = _text(entry.get("comment"))
        if not comment:
            errors[f"outcomes-{index}-comment"] = [f"Describe the progress towards '{wanted}'"]
        elif len(comment) > MAX_TEXT:
            errors[f"outcomes-{index}-comment"] = [f"The comment must be {MAX_TEXT:,} characters or fewer"]
        outcomes.append(
            {"desired_outcome": wanted, "progress": progress.value if progress else None, "comment": comment}
        )
    unknown = [name for name in given if name not in (referral.desired_outcomes or [])]
    if unknown:
        errors["outcomes"] = [f"'{unknown[0]}' is not one of this referral's desired outcomes"]
    risk = _text(fields.get("risk_observations"))
    if not risk:
        errors["risk_observations"] = ["Describe what you have seen of risk since the last review (or say none)"]
    elif len(risk) > MAX_TEXT:
        errors["risk_observations"] = [f"Risk observations must be {MAX_TEXT:,} characters or fewer"]
    if errors:
        raise ValidationFailed(errors)
    now = utcnow()
    number = (
        db.session.scalar(select(func.max(ProgressReview.number)).where(ProgressReview.referral_id == referral.id)) or 0
    ) + 1
    review = ProgressReview(
        referral_id=referral.id,
        number=number,
        kind=due.kind,
        status=ReviewStatus.SUBMITTED,
        due_on=due.due_on,
        next_due_on=london_day(now) + REVIEW_EVERY,
        attendance=attendance_of(referral),
        outcomes=outcomes,
        risk_observations=risk,
        submitted_at=now,
        submitted_by_id=actor.id,
    )
    db.session.add(review)
    db.session.flush()
    record_event(
        "progress_review.submitted",
        actor=actor,
        record=review,
        details={"referral": referral.reference, "kind": due.kind.value, "due_on": due.due_on, "number": number},
    )
    _timeline(referral, actor, f"{due.kind.label} submitted", {"review_id": review.id})
    notify("progress_review_submitted", referral, actor=actor, referral=referral, review=review)
    commit("referral")
    return review


@guards_versions("progress review")
def mark_review_read(
    actor: Any, review: ProgressReview, *, response: Any = None, version: int | str | None = None
) -> ProgressReview:
    """The referrer has read the review; a response, if given, goes back to the caseworker."""
    access.require(actor, "mark_read", review)
    lock(review)
    check_version(review, version, "progress review")
    REVIEW_WORKFLOW.check(review, "read")
    response = _text(response)
    if len(response) > MAX_TEXT:
        raise ValidationFailed.single("response", f"The response must be {MAX_TEXT:,} characters or fewer")
    review.response = response or None
    referral = db.session.get(Referral, review.referral_id)
    REVIEW_WORKFLOW.apply(review, "read", actor, details={"referral": referral.reference, "response": bool(response)})
    _timeline(
        referral, actor, f"{review.kind.label} read" + (" and answered" if response else ""), {"review_id": review.id}
    )
    if response:
        notify("progress_review_answered", referral, actor=actor, referral=referral, review=review)
    commit("progress review")
    return review
