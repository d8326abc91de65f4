"""Safeguarding pages: the queue of concerns, raising one on a referral, acknowledging and closing
one, the case file's safeguarding section, and the CRC's list of team managers."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal import access
from portal.accounts.models import CRC_ROLES, User
from portal.contracts.models import Contract
from portal.db import utcnow
from portal.errors import NotAllowed
from portal.extensions import db
from portal.referrals.models import LIVE_STATUSES, Referral
from portal.referrals.views import load_referral, service_name
from portal.safeguarding import risk, service
from portal.safeguarding.forms import CloseConcernForm, RaiseConcernForm, RiskSummaryForm, TeamManagerForm
from portal.safeguarding.models import NOT_CLOSED, RISK_FIELD_LABELS, ConcernStatus, SafeguardingConcern
from portal.urls import safe_next
from portal.web import act_and_redirect, attempt_and_redirect, paginate

bp = Blueprint("safeguarding", __name__, url_prefix="/safeguarding")

PAGE_SIZE = 50
STATUSES = {
    "not_closed": "Not closed",
    "open": "Waiting for acknowledgement",
    "acknowledged": "Acknowledged, not closed",
    "closed": "Closed",
    "all": "All",
}
CONCERN_OPTIONS = (
    joinedload(SafeguardingConcern.referral).joinedload(Referral.person),
    joinedload(SafeguardingConcern.referral).joinedload(Referral.contract).joinedload(Contract.partner),
    joinedload(SafeguardingConcern.raised_by),
    joinedload(SafeguardingConcern.acknowledged_by),
    joinedload(SafeguardingConcern.closed_by),
    joinedload(SafeguardingConcern.escalated_to),
)


# What a row of the list shows: the person, the reference and (to the CRC) the partner. Not who
# raised, acknowledged or closed it (the concern's own page shows them): four more users, each with
# their organisation, made the list's query join fourteen tables, a tenth of its time in planning.
LIST_OPTIONS = (
    joinedload(SafeguardingConcern.referral).joinedload(Referral.person),
    joinedload(SafeguardingConcern.referral).joinedload(Referral.contract).joinedload(Contract.partner),
)


def load_concern(concern_id: int) -> SafeguardingConcern:
    return access.get_visible_or_404(SafeguardingConcern, concern_id, current_user, options=CONCERN_OPTIONS)


def _concern_page(concern: SafeguardingConcern) -> str:
    return url_for("referrals.section", reference=concern.referral.reference, section="safeguarding")


@bp.route("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    """Every concern the user can see, the earliest deadline first; not closed by default."""
    status = request.args.get("status", "not_closed")
    status = status if status in STATUSES else "not_closed"
    mine = request.args.get("mine", "") == "yes"
    statement = access.visible(SafeguardingConcern, current_user).options(*LIST_OPTIONS)
    if status == "not_closed":
        statement = statement.where(SafeguardingConcern.status.in_(NOT_CLOSED))
    elif status != "all":
        statement = statement.where(SafeguardingConcern.status == ConcernStatus(status))
    if mine:
        mine_clause = (
            Referral.referrer_id == current_user.id
            if current_user.is_crc_user
            else Referral.caseworker_id == current_user.id
        )
        statement = statement.where(SafeguardingConcern.referral_id.in_(select(Referral.id).where(mine_clause)))
    page = paginate(
        statement.order_by(SafeguardingConcern.acknowledge_due_at, SafeguardingConcern.id), per_page=PAGE_SIZE
    )
    return render_template(
        "safeguarding/index.html",
        page=page,
        status=status,
        statuses=STATUSES,
        mine=mine,
        now=utcnow(),
        can_acknowledge=access.can(current_user, "acknowledge", SafeguardingConcern),
        can_name_managers=access.can(current_user, "set_team_manager", User),
    )


@bp.route("/referrals/<reference>/new", methods=["GET", "POST"])
@login_required
def raise_concern(reference: str):  # type: ignore[no-untyped-def]
    referral = load_referral(reference)
    access.require(current_user, "raise_concern", referral)
    form = RaiseConcernForm()
    if form.validate_on_submit():
        done = attempt_and_redirect(
            form,
            lambda: service.raise_concern(current_user, referral, form.fields_for_service()),
            success="You raised a safeguarding concern. The referrer has been told and must acknowledge it.",
            back=url_for("referrals.section", reference=referral.reference, section="safeguarding"),
        )
        if done:
            return done
    return render_template("safeguarding/raise.html", referral=referral, form=form, service_name=service_name(referral))


@bp.route("/<int:concern_id>/acknowledge", methods=["POST"])
@login_required
def acknowledge(concern_id: int):  # type: ignore[no-untyped-def]
    concern = load_concern(concern_id)
    back = safe_next(request.form.get("next")) or _concern_page(concern)
    return act_and_redirect(
        lambda: service.acknowledge_concern(current_user, concern, version=request.form.get("version")),
        success="You acknowledged the safeguarding concern. Close it with its outcome when it has been dealt with.",
        back=back,
    )


@bp.route("/<int:concern_id>/close", methods=["GET", "POST"])
@login_required
def close(concern_id: int):  # type: ignore[no-untyped-def]
    concern = load_concern(concern_id)
    access.require(current_user, "close", concern)
    form = CloseConcernForm()
    if form.validate_on_submit():
        done = attempt_and_redirect(
            form,
            lambda: service.close_concern(
                current_user,
                concern,
                outcome=form.outcome.data,
                detail=form.outcome_detail.data,
                version=form.version.data,
            ),
            success="You closed the safeguarding concern. The partner has been told.",
            back=_concern_page(concern),
        )
        if done:
            return done
    elif request.method == "GET":
        form.version.data = str(concern.version)
    return render_template(
        "safeguarding/close.html",
        concern=concern,
        referral=concern.referral,
        form=form,
        service_name=service_name(concern.referral),
    )


# --- the case file's section -------------------------------------------------------------------------


# The people named on each concern, by name alone: not each one's organisation, which a user brings
# by default (four more joins, most of the query's planning time).
SECTION_OPTIONS = tuple(
    joinedload(person).lazyload(User.organisation)
    for person in (
        SafeguardingConcern.raised_by,
        SafeguardingConcern.acknowledged_by,
        SafeguardingConcern.closed_by,
        SafeguardingConcern.escalated_to,
    )
)


def section_context(referral: Referral, user: Any) -> dict[str, Any]:
    concerns = db.session.scalars(
        access.visible(SafeguardingConcern, user)
        .where(SafeguardingConcern.referral_id == referral.id)
        .options(*SECTION_OPTIONS)
        .order_by(SafeguardingConcern.raised_at.desc(), SafeguardingConcern.id.desc())
    ).all()
    return {
        "concerns": concerns,
        "now": utcnow(),
        "can_raise": access.can(user, "raise_concern", referral) and referral.status in LIVE_STATUSES,
        "can_acknowledge_concerns": access.can(user, "acknowledge", SafeguardingConcern),
        "can_close_concerns": access.can(user, "close", SafeguardingConcern),
    }


# --- risk that travels --------------------------------------------------------------------------------


@bp.app_template_global("current_risk")
def current_risk(referral: Referral) -> Any:
    """The referral's structured risk summary, for the risk banner every referral page opens with."""
    return risk.current_risk(referral)


@bp.route("/referrals/<reference>/risk", methods=["GET", "POST"])
@login_required
def record_risk(reference: str):  # type: ignore[no-untyped-def]
    referral = load_referral(reference)
    access.require(current_user, "record_risk", referral)
    latest = risk.current_risk(referral)
    form = RiskSummaryForm()
    if form.validate_on_submit():
        done = attempt_and_redirect(
            form,
            lambda: risk.record_risk_summary(
                current_user,
                referral,
                form.fields_for_service(),
                reason=form.reason.data,
                based_on=form.based_on.data,
            ),
            success="The risk summary has been saved. The partner has been told.",
            back=url_for("referrals.section", reference=referral.reference, section="risk"),
        )
        if done:
            return done
    elif request.method == "GET":
        form.based_on.data = str(latest.number if latest else 0)
        if latest is not None:
            for name in risk.RISK_FIELDS:
                value = getattr(latest, name)
                getattr(form, name).data = value.value if hasattr(value, "value") else value
    return render_template(
        "safeguarding/risk_form.html",
        referral=referral,
        form=form,
        latest=latest,
        service_name=service_name(referral),
    )


def risk_context(referral: Referral, user: Any) -> dict[str, Any]:
    return {
        "history": risk.risk_history(referral),
        "field_labels": RISK_FIELD_LABELS,
        "can_record_risk": access.can(user, "record_risk", referral) and referral.status in LIVE_STATUSES,
    }


# --- team managers (administrators) --------------------------------------------------------------------


@bp.route("/team-managers")
@login_required
def team_managers():  # type: ignore[no-untyped-def]
    """The CRC's staff and each one's team manager, to whom their late safeguarding concerns go."""
    if not access.can(current_user, "set_team_manager", User):
        raise NotAllowed
    staff = db.session.scalars(
        access.visible(User, current_user)
        .where(User.organisation_id == current_user.organisation_id, User.role.in_(CRC_ROLES))
        .order_by(User.name)
    ).all()
    names = {user.id: user.name for user in staff}
    return render_template("safeguarding/team_managers.html", staff=staff, names=names)


@bp.route("/team-managers/<int:user_id>", methods=["GET", "POST"])
@login_required
def team_manager(user_id: int):  # type: ignore[no-untyped-def]
    person = access.get_visible_or_404(User, user_id, current_user)
    access.require(current_user, "set_team_manager", person)
    form = TeamManagerForm()
    form.team_manager.choices = {"": "No team manager"} | {
        str(user.id): f"{user.name} ({user.role.label})" for user in service.team_manager_choices(current_user, person)
    }
    if form.validate_on_submit():
        done = attempt_and_redirect(
            form,
            lambda: service.set_team_manager(current_user, person, form.team_manager.data or None),
            success=f"{person.name}'s team manager has been saved.",
            back=url_for("safeguarding.team_managers"),
        )
        if done:
            return done
    elif request.method == "GET":
        form.team_manager.data = str(person.team_manager_id or "")
    return render_template("safeguarding/team_manager.html", person=person, form=form)
