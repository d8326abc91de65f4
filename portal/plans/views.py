"""Action plan and progress review pages: writing and submitting the plan, the referrer's decision,
the review form, reading a review, the queue of plans and reviews, and the case file's section."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import and_, select
from sqlalchemy.orm import joinedload

from portal import access
from portal.contracts.models import Contract
from portal.dates import london_today
from portal.errors import InvalidTransition, NotAllowed, StaleRecord, ValidationFailed
from portal.extensions import db
from portal.plans import service
from portal.plans.forms import (
    PlanForm,
    ReadReviewForm,
    RequestChangesForm,
    ReviewForm,
    apply_nested_errors,
)
from portal.plans.models import (
    EDITABLE,
    ActionPlan,
    Frequency,
    PlanStatus,
    Progress,
    ProgressReview,
    ReviewStatus,
)
from portal.referrals.models import OPEN_STATUSES, Referral
from portal.referrals.views import load_referral, service_name
from portal.web import act_and_redirect, attempt_and_redirect

bp = Blueprint("plans", __name__, url_prefix="/plans")

QUEUE_SIZE = 50
REFERRAL_OPTIONS = (joinedload(Referral.person), joinedload(Referral.contract))


def _section(referral: Referral) -> str:
    return url_for("referrals.section", reference=referral.reference, section="plan")


def _attempt(form: Any, operation: Any, *, success: str, back: str) -> Any:
    """attempt_and_redirect, with errors on rows of the form's lists put on their own boxes."""
    from flask import flash, redirect

    try:
        operation()
    except ValidationFailed as error:
        db.session.rollback()
        apply_nested_errors(form, error)
        return None
    except (StaleRecord, InvalidTransition) as error:
        db.session.rollback()
        form.form_errors.append(error.message)
        return None
    flash(success, "success")
    return redirect(back)


# --- the plan ------------------------------------------------------------------------------------------


@bp.route("/referrals/<reference>", methods=["GET", "POST"])
@login_required
def edit(reference: str):  # type: ignore[no-untyped-def]
    """The partner writes the plan, or revises it; saving keeps a draft, submitting sends it."""
    referral = load_referral(reference)
    access.require(current_user, "write_plan", referral)
    plan = service.plan_of(referral)
    if referral.status not in OPEN_STATUSES or (plan is not None and plan.status not in EDITABLE):
        raise NotAllowed(
            "This action plan is waiting for the referrer's decision"
            if plan is not None and plan.status == PlanStatus.SUBMITTED
            else "An action plan is written while the referral is accepted or in progress"
        )
    form = PlanForm()
    desired = list(referral.desired_outcomes or [])
    for entry in form.activities:
        entry.form.desired_outcome.choices = {"": "Choose a desired outcome"} | {text: text for text in desired}
    if request.method == "GET" and plan is not None:
        form.version.data = str(plan.version)
        form.rar_days_planned.data = "" if plan.rar_days_planned is None else str(plan.rar_days_planned)
        for entry, activity in zip(form.activities, plan.activities, strict=False):
            entry.form.desired_outcome.data = activity.get("desired_outcome")
            entry.form.description.data = activity.get("description")
            entry.form.sessions.data = str(activity.get("sessions") or "")
            entry.form.frequency.data = activity.get("frequency") or ""
    if form.validate_on_submit():
        submitting = bool(form.submit_plan.data)
        done = _attempt(
            form,
            lambda: service.save_plan(
                current_user,
                referral,
                activities=form.activities_for_service(),
                rar_days_planned=form.rar_days_planned.data,
                version=form.version.data,
                submit=submitting,
            ),
            success="You submitted the action plan. The referrer has been told and will approve it or ask for changes."
            if submitting
            else "You saved the action plan as a draft. Submit it for approval when it is ready.",
            back=_section(referral),
        )
        if done:
            return done
    latest_request = None
    if plan is not None and plan.status == PlanStatus.CHANGES_REQUESTED:
        latest_request = service.versions_of(plan)[0]
    return render_template(
        "plans/edit.html",
        referral=referral,
        plan=plan,
        form=form,
        rar=service.is_rar_referral(referral),
        latest_request=latest_request,
        service_name=service_name(referral),
    )


def load_plan(plan_id: int) -> ActionPlan:
    return access.get_visible_or_404(
        ActionPlan, plan_id, current_user, options=[joinedload(ActionPlan.referral).joinedload(Referral.person)]
    )


@bp.route("/<int:plan_id>/submit", methods=["POST"])
@login_required
def submit(plan_id: int):  # type: ignore[no-untyped-def]
    plan = load_plan(plan_id)
    return act_and_redirect(
        lambda: service.submit_plan(current_user, plan.referral, version=request.form.get("version")),
        success="You submitted the action plan. The referrer has been told.",
        back=_section(plan.referral),
    )


@bp.route("/<int:plan_id>/approve", methods=["POST"])
@login_required
def approve(plan_id: int):  # type: ignore[no-untyped-def]
    plan = load_plan(plan_id)
    return act_and_redirect(
        lambda: service.approve_plan(current_user, plan, version=request.form.get("version")),
        success="You approved the action plan. The partner has been told.",
        back=_section(plan.referral),
    )


@bp.route("/<int:plan_id>/request-changes", methods=["GET", "POST"])
@login_required
def request_changes(plan_id: int):  # type: ignore[no-untyped-def]
    plan = load_plan(plan_id)
    access.require(current_user, "decide", plan)
    form = RequestChangesForm()
    if form.validate_on_submit():
        done = attempt_and_redirect(
            form,
            lambda: service.request_changes(current_user, plan, reason=form.reason.data, version=form.version.data),
            success="You asked for changes to the action plan. The partner has been told.",
            back=_section(plan.referral),
        )
        if done:
            return done
    elif request.method == "GET":
        form.version.data = str(plan.version)
    return render_template(
        "plans/request_changes.html",
        plan=plan,
        referral=plan.referral,
        submitted=service.versions_of(plan)[0] if plan.status == PlanStatus.SUBMITTED else None,
        form=form,
        frequencies=FREQUENCY_LABELS,
        service_name=service_name(plan.referral),
    )


FREQUENCY_LABELS = {frequency.value: frequency.label for frequency in Frequency}
PROGRESS_LABELS = {progress.value: progress.label for progress in Progress}


# --- progress reviews ------------------------------------------------------------------------------------


@bp.route("/referrals/<reference>/review", methods=["GET", "POST"])
@login_required
def review(reference: str):  # type: ignore[no-untyped-def]
    """The caseworker's progress review: attendance shown (counted from the sessions), progress towards
    each desired outcome, risk observations."""
    referral = load_referral(reference)
    access.require(current_user, "write_review", referral)
    due = service.review_due(referral)
    if due is None:
        raise NotAllowed("Progress reviews are written while the referral is accepted or in progress")
    desired = list(referral.desired_outcomes or [])
    form = ReviewForm()
    while len(form.outcomes) < len(desired):
        form.outcomes.append_entry()
    if form.validate_on_submit():
        fields = {
            "outcomes": [
                {"desired_outcome": wanted, "progress": entry.form.progress.data, "comment": entry.form.comment.data}
                for wanted, entry in zip(desired, form.outcomes, strict=False)
            ],
            "risk_observations": form.risk_observations.data,
        }
        done = _attempt(
            form,
            lambda: service.submit_review(current_user, referral, fields),
            success="You submitted the progress review. The referrer has been told.",
            back=_section(referral),
        )
        if done:
            return done
    return render_template(
        "plans/review_form.html",
        referral=referral,
        form=form,
        desired=desired,
        due=due,
        today=london_today(),
        attendance=service.attendance_of(referral),
        service_name=service_name(referral),
    )


def load_review(review_id: int) -> ProgressReview:
    return access.get_visible_or_404(
        ProgressReview,
        review_id,
        current_user,
        options=[
            joinedload(ProgressReview.referral).joinedload(Referral.person),
            joinedload(ProgressReview.submitted_by),
            joinedload(ProgressReview.read_by),
        ],
    )


@bp.route("/reviews/<int:review_id>", methods=["GET", "POST"])
@login_required
def show_review(review_id: int):  # type: ignore[no-untyped-def]
    """One review in full; the referrer marks it read here, with a response if they have one."""
    found = load_review(review_id)
    form = ReadReviewForm()
    can_read = access.can(current_user, "mark_read", found) and found.status == ReviewStatus.SUBMITTED
    if request.method == "POST":
        access.require(current_user, "mark_read", found)
        if form.validate_on_submit():
            done = attempt_and_redirect(
                form,
                lambda: service.mark_review_read(
                    current_user, found, response=form.response.data, version=form.version.data
                ),
                success="You marked the progress review as read."
                + (" The caseworker has your response." if (form.response.data or "").strip() else ""),
                back=_section(found.referral),
            )
            if done:
                return done
    else:
        form.version.data = str(found.version)
    return render_template(
        "plans/review.html",
        review=found,
        referral=found.referral,
        form=form,
        can_read=can_read,
        progress_labels=PROGRESS_LABELS,
        service_name=service_name(found.referral),
    )


# --- the queue ------------------------------------------------------------------------------------------


@bp.route("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    """Plans and reviews waiting for this user's side: a fixed number of queries, however many rows."""
    if not access.can_any(current_user, ("write_plan", Referral), ("decide", ActionPlan)):
        raise NotAllowed("Only the partner and the CRC's referrers work with action plans")
    today = london_today()
    mine = request.args.get("mine", "") == "yes"
    return render_template("plans/index.html", mine=mine, today=today, **queues(current_user, today, mine=mine))


def _mine(user: Any) -> Any:
    return Referral.referrer_id == user.id if user.is_crc_user else Referral.caseworker_id == user.id


def queues(user: Any, today: date, *, mine: bool = False) -> dict[str, Any]:
    def referrals_where(*conditions: Any) -> Any:
        statement = access.visible(Referral, user).where(*conditions)
        return statement.where(_mine(user)) if mine else statement

    due_on, is_ending = service.review_due_sql(Referral)
    context: dict[str, Any] = {}
    if user.is_crc_user:
        plans = db.session.scalars(
            access.visible(ActionPlan, user)
            .join(Referral, Referral.id == ActionPlan.referral_id)
            .where(ActionPlan.status == PlanStatus.SUBMITTED, *([_mine(user)] if mine else []))
            .options(
                joinedload(ActionPlan.referral).joinedload(Referral.person),
                joinedload(ActionPlan.referral).joinedload(Referral.contract).joinedload(Contract.partner),
            )
            .order_by(ActionPlan.updated_at, ActionPlan.id)
            .limit(QUEUE_SIZE)
        ).all()
        reviews = db.session.scalars(
            access.visible(ProgressReview, user)
            .join(Referral, Referral.id == ProgressReview.referral_id)
            .where(ProgressReview.status == ReviewStatus.SUBMITTED, *([_mine(user)] if mine else []))
            .options(
                joinedload(ProgressReview.referral).joinedload(Referral.person), joinedload(ProgressReview.submitted_by)
            )
            .order_by(ProgressReview.submitted_at, ProgressReview.id)
            .limit(QUEUE_SIZE)
        ).all()
        context.update(plans_to_decide=plans, reviews_to_read=reviews)
    else:
        changes = db.session.scalars(
            access.visible(ActionPlan, user)
            .join(Referral, Referral.id == ActionPlan.referral_id)
            .where(ActionPlan.status == PlanStatus.CHANGES_REQUESTED, *([_mine(user)] if mine else []))
            .options(joinedload(ActionPlan.referral).joinedload(Referral.person))
            .order_by(ActionPlan.updated_at, ActionPlan.id)
            .limit(QUEUE_SIZE)
        ).all()
        without_plan = db.session.scalars(
            referrals_where(
                Referral.status.in_(OPEN_STATUSES),
                ~select(ActionPlan.id).where(ActionPlan.referral_id == Referral.id).exists(),
            )
            .options(*REFERRAL_OPTIONS)
            .order_by(Referral.accepted_at, Referral.id)
            .limit(QUEUE_SIZE)
        ).all()
        due_rows = db.session.execute(
            referrals_where(service.reviews_due_clause(today))
            .add_columns(due_on.label("due_on"), is_ending.label("ending"))
            .options(*REFERRAL_OPTIONS)
            .order_by(due_on, Referral.id)
            .limit(QUEUE_SIZE)
        ).all()
        context.update(
            plans_with_changes=changes,
            referrals_without_plan=without_plan,
            reviews_due=[(row[0], row.due_on, bool(row.ending)) for row in due_rows],
        )
    return context


# --- the case file's section -----------------------------------------------------------------------------


def section_context(referral: Referral, user: Any) -> dict[str, Any]:
    plan = db.session.scalars(
        access.visible(ActionPlan, user)
        .where(ActionPlan.referral_id == referral.id)
        .options(joinedload(ActionPlan.edited_by))
    ).first()
    versions = service.versions_of(plan)
    approved = next((v for v in versions if plan and v.number == plan.approved_number), None)
    reviews = db.session.scalars(
        access.visible(ProgressReview, user)
        .where(ProgressReview.referral_id == referral.id)
        .options(joinedload(ProgressReview.submitted_by), joinedload(ProgressReview.read_by))
        .order_by(ProgressReview.number.desc())
    ).all()
    open_referral = referral.status in OPEN_STATUSES
    # The newest version is the draft's basis when it waits for a decision or was sent back.
    pending = versions[0] if versions and versions[0].decision is None else None
    returned = (
        versions[0] if versions and versions[0].decision and versions[0].decision.value == "changes_requested" else None
    )
    return {
        "plan": plan,
        "versions": versions,
        "approved": approved,
        "pending": pending,
        "returned": returned,
        "draft_differs": plan is not None
        and plan.status in (PlanStatus.DRAFT, PlanStatus.CHANGES_REQUESTED)
        and (
            approved is None
            or plan.activities != approved.activities
            or plan.rar_days_planned != approved.rar_days_planned
        ),
        "reviews": reviews,
        "due": service.review_due(referral),
        "attendance": service.attendance_of(referral, plan),
        "rar": service.is_rar_referral(referral),
        "frequencies": FREQUENCY_LABELS,
        "progress_labels": PROGRESS_LABELS,
        "can_write_plan": open_referral
        and access.can(user, "write_plan", referral)
        and (plan is None or plan.status in EDITABLE),
        "can_decide_plan": plan is not None
        and plan.status == PlanStatus.SUBMITTED
        and access.can(user, "decide", plan),
        "can_write_review": open_referral and access.can(user, "write_review", referral),
        "can_read_reviews": access.can(user, "mark_read", ProgressReview),
    }


def next_plan_action(user: Any, referral: Referral, today: date) -> tuple[str, str, str] | None:
    """(what to do, link text, link) for the case file's "next thing to do", or None."""
    from portal.formatting import format_date

    if referral.status not in OPEN_STATUSES and not (user.is_crc_user):
        return None
    plan = service.plan_of(referral)
    section = _section(referral)
    if access.can(user, "write_plan", referral) and referral.status in OPEN_STATUSES:
        if plan is None:
            return (
                "Write the action plan: activities towards each desired outcome, and the sessions planned.",
                "Write the action plan",
                url_for("plans.edit", reference=referral.reference),
            )
        if plan.status == PlanStatus.CHANGES_REQUESTED:
            return (
                "The referrer asked for changes to the action plan: revise it and submit it again.",
                "Revise the action plan",
                url_for("plans.edit", reference=referral.reference),
            )
        if plan.status == PlanStatus.DRAFT and plan.approved_number is None:
            return ("Submit the action plan for the referrer's approval.", "Go to the action plan", section)
    if access.can(user, "write_review", referral):
        due = service.review_due(referral)
        if due is not None and due.asked(today):
            late = " (overdue)" if due.overdue(today) else ""
            return (
                f"Write the {due.kind.label.lower()}, due by {format_date(due.due_on)}{late}.",
                "Write the progress review",
                url_for("plans.review", reference=referral.reference),
            )
    if plan is not None and plan.status == PlanStatus.SUBMITTED and access.can(user, "decide", plan):
        return ("Approve the action plan, or ask for changes.", "Go to the action plan", section)
    if access.can(user, "mark_read", ProgressReview):
        waiting = db.session.scalar(
            select(ProgressReview.id)
            .where(and_(ProgressReview.referral_id == referral.id, ProgressReview.status == ReviewStatus.SUBMITTED))
            .limit(1)
        )
        if waiting:
            return (
                "Read the progress review the partner submitted.",
                "Read the review",
                url_for("plans.show_review", review_id=waiting),
            )
    return None
