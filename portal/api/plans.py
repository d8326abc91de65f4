"""Action plans and progress reviews: the partner writes and submits the plan, the referrer approves it
or asks for changes; the caseworker submits progress reviews when due, the referrer reads them. Each
call is the operation the pages call (portal.plans.service)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import url_for
from pydantic import ConfigDict, Field
from sqlalchemy.orm import joinedload

from portal import access
from portal.accounts.models import User
from portal.api import schemas
from portal.api.blueprint import api
from portal.api.referrals import load_referral
from portal.api.registry import ID
from portal.dates import london_today
from portal.errors import NotFound
from portal.extensions import db
from portal.plans import service
from portal.plans.models import (
    ActionPlan,
    Decision,
    Frequency,
    PlanStatus,
    Progress,
    ProgressReview,
    ReviewKind,
    ReviewStatus,
)
from portal.referrals.models import Referral

TAG = "Action plans and reviews"


class ActivityIn(schemas.Body):
    desired_outcome: str = Field(description="One of the referral's `desired_outcomes`, exactly as it reads.")
    description: str = Field(description="What will be done, and by whom.")
    sessions: int = Field(description="Sessions planned for this activity, 1 to 500.")
    frequency: Frequency


class PlanIn(schemas.Body):
    activities: list[ActivityIn] = Field(description="At least one, at most 20.")
    rar_days_planned: int | None = Field(
        None,
        description="RAR referrals (community, with `rar_days`) only: 0 to the referral's `rar_days`, and no more "
        "than the sessions planned. Leave it out for others.",
    )
    version: schemas.Version = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "activities": [
                        {
                            "desired_outcome": "Find settled accommodation",
                            "description": "Weekly housing advice; help with applications",
                            "sessions": 8,
                            "frequency": "weekly",
                        }
                    ],
                    "rar_days_planned": 6,
                }
            ]
        }
    )


class VersionOnly(schemas.Body):
    version: schemas.Version = None


class ChangesIn(schemas.Body):
    reason: str = Field(description="What should change, and why (the partner reads it).")
    version: schemas.Version = None


class Activity(schemas.Out):
    desired_outcome: str
    description: str
    sessions: int
    frequency: Frequency


class PlanVersionOut(schemas.Out):
    number: int
    activities: list[Activity]
    rar_days_planned: int | None
    planned_sessions: int
    submitted_at: schemas.Timestamp
    submitted_by: schemas.StaffMember
    decision: Decision | None
    decided_at: schemas.Timestamp | None
    decided_by: schemas.StaffMember | None
    decision_reason: str | None


class PlanOut(schemas.Out):
    referral: str
    status: PlanStatus
    activities: list[Activity] = Field(description="The working copy: the draft, or what was last submitted.")
    rar_days_planned: int | None
    planned_sessions: int
    edited_at: schemas.Timestamp
    edited_by: schemas.StaffMember
    approved_number: int | None = Field(description="The `number` of the version in force, if one is approved.")
    closed_at: schemas.Timestamp | None
    versions: list[PlanVersionOut] = Field(description="Every submission, newest first; never changed.")
    version: int


def _staff(user: User | None) -> schemas.StaffMember | None:
    return schemas.StaffMember(name=user.name, email=user.email) if user is not None else None


def _plan_now(user: User, referral: Referral) -> PlanOut:
    db.session.expire_all()
    plan = db.session.scalars(
        access.visible(ActionPlan, user)
        .where(ActionPlan.referral_id == referral.id)
        .options(joinedload(ActionPlan.edited_by))
    ).first()
    if plan is None:
        raise NotFound("No action plan has been written for this referral yet")
    return PlanOut(
        referral=referral.reference,
        status=plan.status,
        activities=plan.activities,
        rar_days_planned=plan.rar_days_planned,
        planned_sessions=plan.planned_sessions,
        edited_at=plan.edited_at,
        edited_by=_staff(plan.edited_by),
        approved_number=plan.approved_number,
        closed_at=plan.closed_at,
        versions=[
            PlanVersionOut(
                number=version.number,
                activities=version.activities,
                rar_days_planned=version.rar_days_planned,
                planned_sessions=version.planned_sessions,
                submitted_at=version.submitted_at,
                submitted_by=_staff(version.submitted_by),
                decision=version.decision,
                decided_at=version.decided_at,
                decided_by=_staff(version.decided_by),
                decision_reason=version.decision_reason,
            )
            for version in service.versions_of(plan)
        ],
        version=plan.version,
    )


def _plan_of(referral: Referral) -> ActionPlan:
    plan = service.plan_of(referral)
    if plan is None:
        raise NotFound("No action plan has been written for this referral yet")
    return plan


@api.route(
    "GET",
    "/referrals/<reference>/action-plan",
    load=load_referral,
    response=PlanOut,
    who="Everyone",
    tag=TAG,
    summary="Read a referral's action plan and every version submitted",
    description="404 also when no plan has been written yet.",
)
def get_action_plan(user: User, record: Referral) -> Any:
    return _plan_now(user, record)


@api.route(
    "PUT",
    "/referrals/<reference>/action-plan",
    load=load_referral,
    body=PlanIn,
    response=PlanOut,
    errors=(403, 409),
    who="Partner users",
    tag=TAG,
    summary="Write or revise the action plan (a draft)",
    description="Creates the plan, or replaces its working copy. An approved plan revised becomes a draft again; the "
    "approved version stays in force until the next is approved. 409 while a version waits for the referrer, "
    "once the referral has ended, or when `version` is stale.",
)
def put_action_plan(user: User, record: Referral, body: PlanIn) -> Any:
    service.save_plan(
        user,
        record,
        activities=[activity.model_dump(mode="json") for activity in body.activities],
        rar_days_planned=body.rar_days_planned,
        version=body.version,
    )
    return _plan_now(user, record)


@api.route(
    "POST",
    "/referrals/<reference>/action-plan/submit",
    load=load_referral,
    body=VersionOnly,
    body_required=False,
    response=PlanOut,
    errors=(403, 409),
    who="Partner users",
    tag=TAG,
    summary="Submit the action plan for approval",
    description="The working copy becomes the next numbered version, kept as it is; the referrer is told.",
)
def submit_action_plan(user: User, record: Referral, body: VersionOnly) -> Any:
    service.submit_plan(user, record, version=body.version)
    return _plan_now(user, record)


@api.route(
    "POST",
    "/referrals/<reference>/action-plan/approve",
    load=load_referral,
    body=VersionOnly,
    body_required=False,
    response=PlanOut,
    errors=(403, 409),
    who="CRC referrer",
    tag=TAG,
    summary="Approve the submitted action plan",
)
def approve_action_plan(user: User, record: Referral, body: VersionOnly) -> Any:
    service.approve_plan(user, _plan_of(record), version=body.version)
    return _plan_now(user, record)


@api.route(
    "POST",
    "/referrals/<reference>/action-plan/request-changes",
    load=load_referral,
    body=ChangesIn,
    response=PlanOut,
    errors=(403, 409),
    who="CRC referrer",
    tag=TAG,
    summary="Ask for changes to the submitted action plan",
)
def request_action_plan_changes(user: User, record: Referral, body: ChangesIn) -> Any:
    service.request_changes(user, _plan_of(record), reason=body.reason, version=body.version)
    return _plan_now(user, record)


# --- progress reviews -------------------------------------------------------------------------------------


class OutcomeProgressIn(schemas.Body):
    desired_outcome: str = Field(description="One of the referral's `desired_outcomes`.")
    progress: Progress
    comment: str


class ReviewIn(schemas.Body):
    outcomes: list[OutcomeProgressIn] = Field(description="One for each of the referral's desired outcomes.")
    risk_observations: str

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "outcomes": [
                        {
                            "desired_outcome": "Find settled accommodation",
                            "progress": "good_progress",
                            "comment": "Bidding on the housing register.",
                        }
                    ],
                    "risk_observations": "No concerns seen since the last review.",
                }
            ]
        }
    )


class ReadIn(schemas.Body):
    response: str | None = Field(None, description="A response to the caseworker (they are told of it).")
    version: schemas.Version = None


class Attendance(schemas.Out):
    attended: int
    late: int
    did_not_attend: int
    not_held: int
    planned: int | None = Field(description="Sessions in the approved plan (null before one is approved).")


class OutcomeProgress(schemas.Out):
    desired_outcome: str
    progress: Progress
    comment: str


class ReviewOut(schemas.Out):
    id: int
    referral: str
    number: int
    kind: ReviewKind
    status: ReviewStatus
    due_on: date
    next_due_on: date = Field(description="When the next 12-weekly review falls due.")
    attendance: Attendance = Field(description="Counted from the sessions when it was submitted.")
    outcomes: list[OutcomeProgress]
    risk_observations: str
    submitted_at: schemas.Timestamp
    submitted_by: schemas.StaffMember
    read_at: schemas.Timestamp | None
    read_by: schemas.StaffMember | None
    response: str | None
    version: int


class NextReview(schemas.Out):
    kind: ReviewKind
    due_on: date
    overdue: bool
    can_submit: bool = Field(description="Whether it can be submitted now (from 2 weeks before it is due).")


class ReviewList(schemas.Out):
    referral: str
    next_review: NextReview | None = Field(description="Null once the referral has ended.")
    attendance: Attendance = Field(description="Attendance so far, counted from the sessions.")
    items: list[ReviewOut] = Field(description="Every review submitted, oldest first.")


REVIEW_OPTIONS = (
    joinedload(ProgressReview.referral),
    joinedload(ProgressReview.submitted_by),
    joinedload(ProgressReview.read_by),
)


def present_review(review: ProgressReview) -> ReviewOut:
    return ReviewOut(
        id=review.id,
        referral=review.referral.reference,
        number=review.number,
        kind=review.kind,
        status=review.status,
        due_on=review.due_on,
        next_due_on=review.next_due_on,
        attendance=review.attendance,
        outcomes=review.outcomes,
        risk_observations=review.risk_observations,
        submitted_at=review.submitted_at,
        submitted_by=_staff(review.submitted_by),
        read_at=review.read_at,
        read_by=_staff(review.read_by),
        response=review.response,
        version=review.version,
    )


def load_review(user: User, review_id: int) -> ProgressReview:
    return access.get_visible_or_404(ProgressReview, review_id, user, options=REVIEW_OPTIONS)


def review_now(user: User, review_id: int) -> ReviewOut:
    db.session.expire_all()
    return present_review(load_review(user, review_id))


@api.route(
    "GET",
    "/referrals/<reference>/progress-reviews",
    load=load_referral,
    response=ReviewList,
    who="Everyone",
    tag=TAG,
    summary="List a referral's progress reviews, with the next one due and attendance so far",
)
def list_progress_reviews(user: User, record: Referral) -> Any:
    due = service.review_due(record)
    today = london_today()
    reviews = db.session.scalars(
        access.visible(ProgressReview, user)
        .where(ProgressReview.referral_id == record.id)
        .options(*REVIEW_OPTIONS)
        .order_by(ProgressReview.number)
    ).all()
    return ReviewList(
        referral=record.reference,
        next_review=NextReview(
            kind=due.kind, due_on=due.due_on, overdue=due.overdue(today), can_submit=due.asked(today)
        )
        if due
        else None,
        attendance=service.attendance_of(record),
        items=[present_review(review) for review in reviews],
    )


@api.route(
    "POST",
    "/referrals/<reference>/progress-reviews",
    load=load_referral,
    body=ReviewIn,
    response=ReviewOut,
    status=201,
    errors=(403, 409),
    who="Partner users",
    tag=TAG,
    summary="Submit the progress review that is due",
    description="409 when none is due yet (the next's date is in `next_review`) or the referral has ended. The "
    "attendance is counted from the sessions, never sent. The referrer is told.",
    location=lambda review: url_for("api.get_progress_review", review_id=review.id),
)
def submit_progress_review(user: User, record: Referral, body: ReviewIn) -> Any:
    review = service.submit_review(user, record, body.model_dump(mode="json"))
    return review_now(user, review.id)


@api.route(
    "GET",
    f"/progress-reviews/<{ID}:review_id>",
    load=load_review,
    response=ReviewOut,
    who="Everyone",
    tag=TAG,
    summary="Get a progress review",
)
def get_progress_review(user: User, record: ProgressReview) -> Any:
    return present_review(record)


@api.route(
    "POST",
    f"/progress-reviews/<{ID}:review_id>/read",
    load=load_review,
    body=ReadIn,
    body_required=False,
    response=ReviewOut,
    errors=(403, 409),
    who="CRC referrer",
    tag=TAG,
    summary="Mark a progress review read, with a response if you have one",
)
def read_progress_review(user: User, record: ProgressReview, body: ReadIn) -> Any:
    service.mark_review_read(user, record, response=body.response, version=body.version)
    return review_now(user, record.id)
