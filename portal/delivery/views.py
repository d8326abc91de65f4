"""Pages for recording delivery on a referral, group sessions, alerts, evidence and the caseworker's day."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import joinedload, selectinload

from portal import access
from portal.audit.service import record_read
from portal.contracts.models import Contract, OutcomeType
from portal.dates import london_today, start_of_london_day
from portal.db import utcnow
from portal.delivery import alerts, corrections, end_of_service, evidence, outcomes, sessions
from portal.delivery.forms import (
    CompleteForm,
    ConfirmForm,
    GroupSessionForm,
    NoteForm,
    OutcomeForm,
    RejectForm,
    RescheduleForm,
    SessionForm,
)
from portal.delivery.models import Alert, Attendance, EvidenceFile, GroupSession, Outcome, Session
from portal.errors import InvalidTransition, StaleRecord, ValidationFailed
from portal.extensions import db
from portal.formatting import LONDON, format_date, plural
from portal.people.models import Person
from portal.referrals.models import OPEN_STATUSES, Referral, ReferralStatus
from portal.referrals.views import load_referral, service_name
from portal.urls import safe_next
from portal.web import act_and_redirect, attempt_and_redirect, paginate

bp = Blueprint("delivery", __name__)


def _session_of(referral: Referral, session_id: int) -> Session:
    session = access.get_visible_or_404(Session, session_id, current_user)
    if session.referral_id != referral.id:
        abort(404)
    return session


def _outcome_of(referral: Referral, outcome_id: int) -> Outcome:
    outcome = access.get_visible_or_404(Outcome, outcome_id, current_user, options=[selectinload(Outcome.files)])
    if outcome.referral_id != referral.id:
        abort(404)
    return outcome


def _back(referral: Referral, section: str) -> str:
    """The case file's section the work was done in (sessions, outcomes), or its summary."""
    from portal.referrals.case_file import section_url

    return section_url(referral, section if section in ("sessions", "outcomes", "notes") else "summary")


def _session_fields(form: SessionForm) -> dict[str, Any]:
    return {name: field.data for name, field in form._fields.items() if name not in {"csrf_token", "version"}}


# --- sessions ------------------------------------------------------------------------------------


@bp.route("/referrals/<reference>/sessions/new", methods=["GET", "POST"])
@login_required
def new_session(reference: str):  # type: ignore[no-untyped-def]
    referral = load_referral(reference)
    access.require(current_user, "record_sessions", referral)
    form = SessionForm()
    if request.method == "GET":
        form.date.data = london_today()
        form.duration_minutes.data = "60"
        form.kind.data = "one_to_one"
    elif form.validate_on_submit():
        response = attempt_and_redirect(
            form,
            lambda: sessions.record_session(current_user, referral, _session_fields(form)),
            success="The session has been saved.",
            back=_back(referral, "sessions"),
        )
        if response:
            return response
    return render_template(
        "delivery/session_form.html",
        referral=referral,
        form=form,
        session=None,
        service_name=service_name(referral),
        title="Record a session",
    )


@bp.route("/referrals/<reference>/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@login_required
def edit_session(reference: str, session_id: int):  # type: ignore[no-untyped-def]
    referral = load_referral(reference)
    access.require(current_user, "record_sessions", referral)
    session = _session_of(referral, session_id)
    locked = corrections.session_is_locked(session)
    form = SessionForm(obj=session if request.method == "GET" else None)
    if request.method == "GET":
        form.version.data = str(session.version)
        form.start_time.data = session.start_time.strftime("%H:%M")
        form.duration_minutes.data = str(session.duration_minutes)
        form.kind.data = session.kind.value
        form.attendance.data = session.attendance.value if session.attendance else ""
        form.non_attendance_reason.data = session.non_attendance_reason.value if session.non_attendance_reason else ""
    elif form.validate_on_submit():
        response = attempt_and_redirect(
            form,
            lambda: sessions.update_session(current_user, session, _session_fields(form), version=form.version.data),
            success="The session has been updated.",
            back=_back(referral, "sessions"),
        )
        if response:
            return response
    title = "Record what happened" if session.awaiting_feedback else "Change a session"
    return render_template(
        "delivery/session_form.html",
        referral=referral,
        form=form,
        session=session,
        locked=locked,
        service_name=service_name(referral),
        title=title,
    )


@bp.route("/referrals/<reference>/sessions/<int:session_id>/reschedule", methods=["GET", "POST"])
@login_required
def reschedule_session(reference: str, session_id: int):  # type: ignore[no-untyped-def]
    referral = load_referral(reference)
    access.require(current_user, "record_sessions", referral)
    session = _session_of(referral, session_id)
    form = RescheduleForm()
    if request.method == "GET":
        form.version.data = str(session.version)
        form.date.data = session.date
        form.start_time.data = session.start_time.strftime("%H:%M")
    elif form.validate_on_submit():
        response = attempt_and_redirect(
            form,
            lambda: sessions.reschedule_session(
                current_user,
                session,
                new_date=form.date.data,
                new_time=form.start_time.data,
                reason=form.reason.data,
                version=form.version.data,
            ),
            success="The session has been moved.",
            back=_back(referral, "sessions"),
        )
        if response:
            return response
    return render_template(
        "delivery/reschedule.html", referral=referral, form=form, session=session, service_name=service_name(referral)
    )


@bp.route("/referrals/<reference>/sessions/<int:session_id>/delete", methods=["GET", "POST"])
@login_required
def delete_session(reference: str, session_id: int):  # type: ignore[no-untyped-def]
    referral = load_referral(reference)
    access.require(current_user, "record_sessions", referral)
    session = _session_of(referral, session_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        response = attempt_and_redirect(
            form,
            lambda: sessions.delete_session(current_user, session),
            success="The session has been deleted.",
            back=_back(referral, "sessions"),
        )
        if response:
            return response
    return render_template(
        "delivery/confirm_delete.html",
        referral=referral,
        form=form,
        what="session",
        description=f"the session on {format_date(session.date)}",
        service_name=service_name(referral),
    )


@bp.route("/referrals/<reference>/<any(sessions, outcomes):kind>/<int:record_id>/correction", methods=["GET", "POST"])
@login_required
def correction(reference: str, kind: str, record_id: int):  # type: ignore[no-untyped-def]
    referral = load_referral(reference)
    access.require(current_user, "record_sessions" if kind == "sessions" else "claim_outcomes", referral)
    record = _session_of(referral, record_id) if kind == "sessions" else _outcome_of(referral, record_id)
    form = NoteForm()
    if form.validate_on_submit():
        target = {"session": record} if kind == "sessions" else {"outcome": record}
        response = attempt_and_redirect(
            form,
            lambda: corrections.add_correction_note(current_user, body=form.body.data, **target),
            success="Your correction note has been added.",
            back=_back(referral, "notes"),
        )
        if response:
            return response
    return render_template(
        "delivery/correction.html",
        referral=referral,
        form=form,
        kind=kind,
        record=record,
        service_name=service_name(referral),
    )


# --- group sessions ---------------------------------------------------------------------------------


def _roster_from(form_data: Any, referrals: list[Referral]) -> list[dict[str, Any]]:
    roster = []
    for referral in referrals:
        attendance = form_data.get(f"attendance-{referral.id}", "")
        if attendance == "absent-from-group" or attendance == "":
            continue
        roster.append(
            {
                "referral_id": referral.id,
                "attendance": None if attendance == "scheduled" else attendance,
                "non_attendance_reason": form_data.get(f"reason-{referral.id}", ""),
                "counts_as_rar_day": form_data.get(f"rar-{referral.id}") == "y",
                "behaviour_concern": bool(form_data.get(f"concern-{referral.id}", "").strip()),
                "concern_detail": form_data.get(f"concern-{referral.id}", ""),
            }
        )
    return roster


GROUP_FIELD_IDS = {"date": "date-day", "roster": "roster"}


def _group_error_summary(errors: dict[str | int, list[str]], referrals: list[Referral]) -> list[dict[str, str]]:
    """The GOV.UK error summary, each message linked to its field or to the person's row."""
    order = ["title", "facilitator", "date", "start_time", "duration_minutes", "roster"]
    order += [referral.id for referral in referrals]
    return [
        {
            "text": message,
            "href": f"#attendance-{key}" if isinstance(key, int) else f"#{GROUP_FIELD_IDS.get(key, key)}",
        }
        for key in sorted(errors, key=lambda key: order.index(key) if key in order else len(order))
        for message in errors[key]
    ]


@bp.route("/group-sessions/new", methods=["GET", "POST"])
@login_required
def new_group_session():  # type: ignore[no-untyped-def]
    access.require(current_user, "record_group_sessions", Contract)
    contracts = db.session.scalars(access.visible(Contract, current_user).order_by(Contract.reference)).all()
    contract = next((c for c in contracts if c.reference == request.values.get("contract", "").upper()), None)
    if contract is None:
        return render_template("delivery/group_choose_contract.html", contracts=contracts)
    referrals = db.session.scalars(
        access.visible(Referral, current_user)
        .where(Referral.contract_id == contract.id, Referral.status.in_(OPEN_STATUSES))
        .options(joinedload(Referral.person))
        .order_by(Referral.reference)
    ).all()
    form = ConfirmForm()
    # Each message against the field it is about: "title", "date", …, or a person's row by referral id.
    errors: dict[str | int, list[str]] = {}
    values = request.form if request.method == "POST" else {}
    if request.method == "POST" and form.validate_on_submit():
        fields = {key: request.form.get(key, "") for key in ("title", "facilitator", "start_time", "duration_minutes")}
        parts = [part.strip() for part in request.form.getlist("date")]
        fields["date"] = "/".join(parts) if len(parts) == 3 and all(parts) else ""
        roster = _roster_from(request.form, referrals)
        try:
            result = sessions.record_group_session(current_user, contract, fields, roster)
        except ValidationFailed as error:
            for key, messages in error.errors.items():
                if key.startswith("roster-") and key.removeprefix("roster-").isdigit():
                    index = int(key.removeprefix("roster-"))
                    key = roster[index]["referral_id"] if index < len(roster) else "roster"
                errors.setdefault(key, []).extend(messages)
        except (StaleRecord, InvalidTransition) as error:
            db.session.rollback()
            errors.setdefault("roster", []).append(error.message)
        else:
            for warning in result.warnings:
                flash(warning, "info")
            flash(f"The group session has been saved for {plural(len(roster), 'person', 'people')}.", "success")
            return redirect(url_for("delivery.group_session", group_id=result.record.id))
    return render_template(
        "delivery/group_session.html",
        contract=contract,
        referrals=referrals,
        form=form,
        errors=errors,
        error_summary=_group_error_summary(errors, referrals),
        values=values,
        today=london_today(),
    )


def _load_group(group_id: int) -> GroupSession:
    return access.get_visible_or_404(GroupSession, group_id, current_user)


@bp.route("/group-sessions/<int:group_id>")
@login_required
def group_session(group_id: int):  # type: ignore[no-untyped-def]
    """A group session as saved: its details and each person's attendance, with links to correct them."""
    group = _load_group(group_id)
    members = db.session.scalars(
        access.visible(Session, current_user)
        .where(Session.group_session_id == group.id)
        .options(joinedload(Session.referral).joinedload(Referral.person))
        .order_by(Session.id)
    ).all()
    from portal.delivery.corrections import locked_sessions

    return render_template(
        "delivery/group_session_show.html",
        group=group,
        contract=db.session.get(Contract, group.contract_id),
        members=members,
        locked=locked_sessions([member.id for member in members]),
        can_correct=access.can(current_user, "record_group_sessions", db.session.get(Contract, group.contract_id)),
    )


@bp.route("/group-sessions/<int:group_id>/edit", methods=["GET", "POST"])
@login_required
def edit_group_session(group_id: int):  # type: ignore[no-untyped-def]
    group = _load_group(group_id)
    contract = db.session.get(Contract, group.contract_id)
    access.require(current_user, "record_group_sessions", contract)
    form = GroupSessionForm()
    if request.method == "GET":
        form.title.data, form.facilitator.data = group.title, group.facilitator
        form.date.data = group.date
        form.start_time.data = group.start_time.strftime("%H:%M")
        form.duration_minutes.data = str(group.duration_minutes)
    elif form.validate_on_submit():
        done = attempt_and_redirect(
            form,
            lambda: sessions.correct_group_session(
                current_user,
                group,
                {
                    "title": form.title.data,
                    "facilitator": form.facilitator.data,
                    "date": form.date.data,
                    "start_time": form.start_time.data,
                    "duration_minutes": form.duration_minutes.data,
                },
            ),
            success="The group session has been corrected for everyone in it.",
            back=url_for("delivery.group_session", group_id=group_id),
        )
        if done:
            return done
    return render_template("delivery/group_session_edit.html", group=group, contract=contract, form=form)


# --- outcomes -----------------------------------------------------------------------------------------


def _outcome_type_choices(referral: Referral) -> dict[str, str]:
    """The outcomes the referral's service prices, and those recorded but not paid (said so)."""
    return {"": "Choose an outcome"} | {
        str(t.id): f"{t.name} ({t.pathway.label})" + ("" if paid else ": recorded, not paid")
        for t, paid in outcomes.claimable_outcome_types(referral)
    }


def _uploads(form: OutcomeForm) -> list[tuple[str, bytes]]:
    return [
        (upload.filename, upload.read())
        for upload in (form.evidence_files.data or [])
        if upload is not None and getattr(upload, "filename", "")
    ]


def _outcome_fields(form: OutcomeForm) -> dict[str, Any]:
    return {
        "outcome_type_id": form.outcome_type_id.data,
        "achieved_on": form.achieved_on.data,
        "evidence": form.evidence.data,
    }


def _outcome_page(referral: Referral, form: OutcomeForm, *, previous: Any = None, outcome: Any = None) -> str:
    """The outcome claim form: a new claim, one made again after a rejection, or a change."""
    return render_template(
        "delivery/outcome_form.html",
        referral=referral,
        form=form,
        previous=previous,
        outcome=outcome,
        service_name=service_name(referral),
        outcome_types=[kind for kind, _ in outcomes.claimable_outcome_types(referral)],
    )


@bp.route("/referrals/<reference>/outcomes/new", methods=["GET", "POST"])
@login_required
def new_outcome(reference: str):  # type: ignore[no-untyped-def]
    referral = load_referral(reference)
    access.require(current_user, "claim_outcomes", referral)
    form = OutcomeForm()
    form.outcome_type_id.choices = _outcome_type_choices(referral)
    previous = None
    if request.values.get("after"):
        previous = _outcome_of(referral, request.values.get("after", type=int) or 0)
        form.outcome_type_id.data = str(previous.outcome_type_id)
    if form.validate_on_submit():

        def operation() -> Any:
            if previous is not None:
                return outcomes.reclaim_outcome(current_user, previous, _outcome_fields(form), _uploads(form))
            return outcomes.claim_outcome(current_user, referral, _outcome_fields(form), _uploads(form))

        response = attempt_and_redirect(
            form,
            operation,
            success="The outcome has been claimed. The CRC will verify it.",
            back=_back(referral, "outcomes"),
        )
        if response:
            return response
    return _outcome_page(referral, form, previous=previous)


@bp.route("/referrals/<reference>/outcomes/<int:outcome_id>/edit", methods=["GET", "POST"])
@login_required
def edit_outcome(reference: str, outcome_id: int):  # type: ignore[no-untyped-def]
    referral = load_referral(reference)
    access.require(current_user, "claim_outcomes", referral)
    outcome = _outcome_of(referral, outcome_id)
    form = OutcomeForm()
    form.outcome_type_id.choices = _outcome_type_choices(referral)
    if request.method == "GET":
        form.version.data = str(outcome.version)
        form.outcome_type_id.data = str(outcome.outcome_type_id)
        form.achieved_on.data = outcome.achieved_on
        form.evidence.data = outcome.evidence
    elif form.validate_on_submit():
        response = attempt_and_redirect(
            form,
            lambda: outcomes.update_outcome(
                current_user, outcome, _outcome_fields(form), _uploads(form), version=form.version.data
            ),
            success="The outcome claim has been updated.",
            back=_back(referral, "outcomes"),
        )
        if response:
            return response
    return _outcome_page(referral, form, outcome=outcome)


@bp.route("/referrals/<reference>/outcomes/<int:outcome_id>/delete", methods=["GET", "POST"])
@login_required
def delete_outcome(reference: str, outcome_id: int):  # type: ignore[no-untyped-def]
    referral = load_referral(reference)
    access.require(current_user, "claim_outcomes", referral)
    outcome = _outcome_of(referral, outcome_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        response = attempt_and_redirect(
            form,
            lambda: outcomes.delete_outcome(current_user, outcome),
            success="The outcome claim has been withdrawn.",
            back=_back(referral, "outcomes"),
        )
        if response:
            return response
    return render_template(
        "delivery/confirm_delete.html",
        referral=referral,
        form=form,
        what="outcome claim",
        description="this outcome claim and its evidence files",
        service_name=service_name(referral),
    )


@bp.route("/referrals/<reference>/outcomes/<int:outcome_id>/verify", methods=["POST"])
@login_required
def verify_outcome(reference: str, outcome_id: int):  # type: ignore[no-untyped-def]
    referral = load_referral(reference)
    outcome = _outcome_of(referral, outcome_id)
    access.require(current_user, "decide", outcome)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    return act_and_redirect(
        lambda: outcomes.verify_outcome(current_user, outcome, version=form.version.data),
        success="The outcome has been verified.",
        back=_back(referral, "outcomes"),
    )


@bp.route("/referrals/<reference>/outcomes/<int:outcome_id>/reject", methods=["GET", "POST"])
@login_required
def reject_outcome(reference: str, outcome_id: int):  # type: ignore[no-untyped-def]
    referral = load_referral(reference)
    outcome = _outcome_of(referral, outcome_id)
    access.require(current_user, "decide", outcome)
    form = RejectForm()
    if request.method == "GET":
        form.version.data = str(outcome.version)
    elif form.validate_on_submit():
        response = attempt_and_redirect(
            form,
            lambda: outcomes.reject_outcome(current_user, outcome, reason=form.reason.data, version=form.version.data),
            success="The outcome claim has been rejected. The partner has been told.",
            back=_back(referral, "outcomes"),
        )
        if response:
            return response
    return render_template(
        "delivery/reject.html",
        referral=referral,
        form=form,
        outcome=outcome,
        outcome_type=db.session.get(OutcomeType, outcome.outcome_type_id),
        service_name=service_name(referral),
    )


@bp.route("/evidence/<int:file_id>")
@login_required
def evidence_file(file_id: int):  # type: ignore[no-untyped-def]
    """Evidence is only ever served here, after the same access check as its referral."""
    record = access.get_visible_or_404(EvidenceFile, file_id, current_user)
    path = evidence.path_of(record.stored_name)
    if not path.exists():
        abort(404)
    record_read(current_user, "evidence.downloaded", record=record, details={"outcome": record.outcome_id})
    # Named by what the content is, also for files kept before names were (see evidence.named_as).
    name = evidence.named_as(record.original_name, evidence.ALLOWED_TYPES.get(record.content_type, ".bin"))
    return send_file(path, mimetype=record.content_type, as_attachment=True, download_name=name, max_age=0)


# --- end of service -------------------------------------------------------------------------------------


@bp.route("/referrals/<reference>/complete", methods=["GET", "POST"])
@login_required
def complete(reference: str):  # type: ignore[no-untyped-def]
    referral = load_referral(reference)
    access.require(current_user, "complete", referral)
    desired = list(referral.desired_outcomes or [])
    form = CompleteForm()
    while len(form.outcomes) < len(desired):
        form.outcomes.append_entry()
    if request.method == "GET":
        form.version.data = str(referral.version)
    elif form.validate_on_submit():
        assessed = [
            {"desired_outcome": wanted, "achievement": entry.achievement.data, "comment": entry.comment.data}
            for wanted, entry in zip(desired, form.outcomes, strict=False)
        ]
        response = attempt_and_redirect(
            form,
            lambda: end_of_service.complete_referral(
                current_user,
                referral,
                summary=form.summary.data,
                outcomes=assessed,
                further_needs=form.further_needs.data,
                version=form.version.data,
            ),
            success=f"Referral {referral.reference} is complete. The referrer has been told.",
            back=_back(referral, "end-of-service"),
        )
        if response:
            return response
    return render_template(
        "delivery/complete.html", referral=referral, form=form, desired=desired, service_name=service_name(referral)
    )


# --- alerts and the caseworker's day ----------------------------------------------------------------


@bp.route("/alerts/<int:alert_id>/acknowledge", methods=["POST"])
@login_required
def acknowledge_alert(alert_id: int):  # type: ignore[no-untyped-def]
    alert = access.get_visible_or_404(Alert, alert_id, current_user)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    alerts.acknowledge_alert(current_user, alert)
    flash("The alert has been acknowledged.", "success")
    return redirect(safe_next(request.form.get("next")) or url_for("main.home"))


MY_SESSIONS_PAGE = 50


@bp.route("/my-sessions")
@login_required
def my_sessions():  # type: ignore[no-untyped-def]
    """A caseworker's day: sessions on their cases from a fortnight ago to a month ahead, and the
    ones that have happened but still need their attendance recorded; each list 50 at a time (a
    caseworker of years has thousands of cases), paged by keyset on its own."""
    access.require(current_user, "record_sessions", Referral)
    today = london_today()
    now = utcnow().astimezone(LONDON)
    mine = access.visible(Referral, current_user).where(Referral.caseworker_id == current_user.id)

    def sessions_on(cases: Select) -> Select:
        return (
            select(Session)
            .where(Session.referral_id.in_(cases.with_only_columns(Referral.id)))
            # Only what the lists show of each case and person (a referral's row is wide: risk, contacts).
            .options(
                joinedload(Session.referral)
                .load_only(Referral.reference, Referral.person_id)
                .joinedload(Referral.person)
                .load_only(Person.given_name, Person.family_name)
            )
            .order_by(Session.date, Session.start_time, Session.id)
        )

    def open_or_ended_since(first_day: date) -> Select:
        """The cases that can have a session on `first_day` or later: the open ones, and those
        that ended that day or since (none is dated after its end: portal.delivery.sessions.
        check_session). Most of a caseworker's cases ended long ago; each case costs the lists
        one look-up in the sessions' index, so they are left out from the index alone."""
        since = start_of_london_day(first_day)
        return mine.where(
            or_(Referral.status.in_(OPEN_STATUSES), Referral.completed_at >= since, Referral.withdrawn_at >= since)
        )

    # Started by now (London's clock): before today, or today at or before this minute. A session
    # can wait for its feedback however long ago it was, so that list looks at every case.
    happened = or_(Session.date < today, and_(Session.date == today, Session.start_time <= now.time()))
    fortnight_ago = today - timedelta(days=14)
    lists = {
        "awaiting": sessions_on(mine).where(Session.attendance.is_(None), happened),
        "upcoming": sessions_on(open_or_ended_since(today)).where(
            Session.date >= today, Session.date <= today + timedelta(days=31)
        ),
        "recent": sessions_on(open_or_ended_since(fortnight_ago)).where(
            Session.date >= fortnight_ago, Session.date < today
        ),
    }
    pages = {name: paginate(statement, per_page=MY_SESSIONS_PAGE, name=name) for name, statement in lists.items()}
    return render_template(
        "delivery/my_sessions.html",
        pages=pages,
        today=today,
        attendance=Attendance,
        statuses=ReferralStatus,
    )
