"""The referral's case file: one page per section (summary, sessions, outcomes, notes, history),
led by the person's name and risk, the next thing to do, and a sub-navigation between sections.

To add a section (issue 19's risk, concerns, plan, release…): write a template that extends
`referrals/case_file.html` and fills `{% block section %}`, a function giving its context, and add
one `Section` to SECTIONS below. The route, the sub-navigation and the access walker pick it up;
the section is seen by whoever sees the referral, unless `shown` says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.utils import import_string

from portal import access
from portal.audit.service import record_read
from portal.dates import london_today
from portal.db import utcnow
from portal.extensions import db
from portal.referrals import service, validation
from portal.referrals.blueprint import bp
from portal.referrals.forms import CaseNoteForm
from portal.referrals.models import OPEN_STATUSES, CaseNote, Referral, ReferralEvent, ReferralEventKind, ReferralStatus
from portal.referrals.views import load_referral, service_name
from portal.returns.kpis import hours_of


@dataclass(frozen=True)
class Section:
    slug: str  # the last part of its address: /referrals/<reference>/<slug> ("summary" is the referral's own)
    title: str  # the sub-navigation's text
    template: str
    # "module:function" (referral, user) -> the template's context; named, not imported, so a
    # section of another package joins without an import cycle.
    context: str
    # Whether the section is offered at all for this user and referral (default: to all who see it).
    shown: Callable[[Any, Referral], bool] | None = None


SUMMARY = "summary"
SECTIONS: tuple[Section, ...] = (
    Section(SUMMARY, "Summary", "referrals/case_file/summary.html", "portal.referrals.case_file:summary_context"),
    Section("risk", "Risk", "safeguarding/risk_section.html", "portal.safeguarding.views:risk_context"),
    Section(
        "release",
        "Release",
        "ttg/section.html",
        "portal.ttg.views:release_context",
        shown=lambda user, referral: bool(referral.prison),
    ),
    Section("sessions", "Sessions", "referrals/case_file/sessions.html", "portal.referrals.case_file:sessions_context"),
    Section("outcomes", "Outcomes", "referrals/case_file/outcomes.html", "portal.referrals.case_file:outcomes_context"),
    Section("plan", "Plan and reviews", "plans/section.html", "portal.plans.views:section_context"),
    Section("notes", "Notes", "referrals/case_file/notes.html", "portal.referrals.case_file:notes_context"),
    Section("safeguarding", "Safeguarding", "safeguarding/section.html", "portal.safeguarding.views:section_context"),
    Section("history", "History", "referrals/case_file/history.html", "portal.referrals.case_file:history_context"),
)


def section_url(referral: Referral, slug: str, **values: Any) -> str:
    if slug == SUMMARY:
        return url_for("referrals.show", reference=referral.reference, **values)
    return url_for("referrals.section", reference=referral.reference, section=slug, **values)


def _sections_for(user: Any, referral: Referral) -> list[Section]:
    return [section for section in SECTIONS if section.shown is None or section.shown(user, referral)]


# --- the next thing to do --------------------------------------------------------------------------


@dataclass(frozen=True)
class NextAction:
    text: str  # what is to be done, and by when
    link_text: str | None = None
    href: str | None = None


def _awaiting_feedback(referral: Referral) -> int:
    from portal.delivery.models import Session

    today = london_today()
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Session)
            .where(Session.referral_id == referral.id, Session.attendance.is_(None), Session.date <= today)
        )
        or 0
    )


def _claims_waiting(referral: Referral) -> int:
    from portal.delivery.models import Outcome, OutcomeStatus

    return (
        db.session.scalar(
            select(func.count())
            .select_from(Outcome)
            .where(Outcome.referral_id == referral.id, Outcome.status == OutcomeStatus.CLAIMED)
        )
        or 0
    )


def _concerns_to_acknowledge(user: Any, referral: Referral) -> int:
    """Safeguarding concerns on this referral waiting for the referrer's acknowledgement (for those who acknowledge)."""
    from portal.safeguarding.models import ConcernStatus, SafeguardingConcern

    if not access.can(user, "acknowledge", SafeguardingConcern):
        return 0
    return (
        db.session.scalar(
            select(func.count())
            .select_from(SafeguardingConcern)
            .where(SafeguardingConcern.referral_id == referral.id, SafeguardingConcern.status == ConcernStatus.OPEN)
        )
        or 0
    )


def _plan_action(user: Any, referral: Referral, today: date) -> NextAction | None:
    from portal.plans.views import next_plan_action

    found = next_plan_action(user, referral, today)
    return NextAction(*found) if found else None


def next_action(user: Any, referral: Referral, can: dict[str, bool], today: date) -> NextAction | None:
    """The one thing this user should do next on this referral, most pressing first; None when
    nothing is theirs to do."""
    from portal.formatting import format_date, plural

    status = referral.status
    reference = referral.reference
    concerns = _concerns_to_acknowledge(user, referral)
    if concerns:
        return NextAction(
            f"Acknowledge {plural(concerns, 'safeguarding concern')} the partner raised.",
            "Go to safeguarding",
            section_url(referral, "safeguarding"),
        )
    if can["answer"]:
        due = f" by {format_date(referral.accept_due_on)}" if referral.accept_due_on else ""
        overdue = " (overdue)" if referral.accept_overdue else ""
        return NextAction(
            f"Read the risk information, then accept or decline this referral{due}{overdue}.",
            "Accept or decline",
            url_for("referrals.accept", reference=reference),
        )
    if can["assign"] and referral.caseworker_id is None:
        return NextAction(
            "Assign a caseworker to this referral.",
            "Assign a caseworker",
            url_for("referrals.assign", reference=reference),
        )
    if can["deliver"]:
        if status == ReferralStatus.ACCEPTED and referral.first_contact_at is None:
            due = f" by {format_date(referral.first_contact_due_on)}" if referral.first_contact_due_on else ""
            overdue = " (overdue)" if referral.first_contact_overdue else ""
            return NextAction(
                f"Make first contact{due}{overdue}: record the first session.",
                "Record a session",
                url_for("delivery.new_session", reference=reference),
            )
        waiting = _awaiting_feedback(referral)
        if waiting:
            return NextAction(
                f"Record attendance for {plural(waiting, 'session')} already held or missed.",
                "Go to sessions",
                section_url(referral, "sessions"),
            )
    planned = _plan_action(user, referral, today)
    if planned is not None:
        return planned
    if can["verify"] and status != ReferralStatus.DRAFT:
        claims = _claims_waiting(referral)
        if claims:
            return NextAction(
                f"Verify or reject {plural(claims, 'outcome claim')}.",
                "Go to outcomes",
                section_url(referral, "outcomes"),
            )
    if can["deliver"] and status in OPEN_STATUSES:
        return NextAction(
            "Record sessions as they happen; claim outcomes when they are achieved; complete the referral at the end.",
            "Record a session",
            url_for("delivery.new_session", reference=reference),
        )
    if status == ReferralStatus.SENT:
        due = f" by {format_date(referral.accept_due_on)}" if referral.accept_due_on else ""
        return NextAction(f"Waiting for the partner to accept or decline{due}.")
    return None


# --- what every section shows ------------------------------------------------------------------------


def _common(referral: Referral, user: Any, slug: str) -> dict[str, Any]:
    from portal.delivery.models import Alert

    today = london_today()
    can = service.actions_for(user, referral)
    alerts = db.session.scalars(
        access.visible(Alert, user)
        .where(Alert.referral_id == referral.id, Alert.acknowledged_at.is_(None))
        .order_by(Alert.raised_at)
    ).all()
    from portal.safeguarding.models import NOT_CLOSED, SafeguardingConcern

    concerns_open = (
        db.session.scalar(
            select(func.count())
            .select_from(SafeguardingConcern)
            .where(SafeguardingConcern.referral_id == referral.id, SafeguardingConcern.status.in_(NOT_CLOSED))
        )
        or 0
    )
    return {
        "referral": referral,
        "concerns_open": concerns_open,
        "service_name": service_name(referral),
        "can": can,
        "alerts": alerts,
        "today": today,
        "next_action": next_action(user, referral, can, today),
        "sections": [
            {"slug": section.slug, "title": section.title, "href": section_url(referral, section.slug)}
            for section in _sections_for(user, referral)
        ],
        "current_section": slug,
        "section_url": section_url,
    }


def render_section(referral: Referral, slug: str) -> str:
    user = current_user._get_current_object()
    found = next((section for section in _sections_for(user, referral) if section.slug == slug), None)
    if found is None:
        from werkzeug.exceptions import NotFound

        raise NotFound
    context = import_string(found.context.replace(":", "."))(referral, user)
    page = render_template(found.template, **_common(referral, user, slug), section=found, **context)
    # After rendering, so committing the audit event does not make the page load its records again.
    record_read(user, "referral.viewed", record=referral, details={"section": slug})
    return page


@bp.route(f"/<reference>/<any({', '.join(s.slug for s in SECTIONS if s.slug != SUMMARY)}):section>")
@login_required
def section(reference: str, section: str):  # type: ignore[no-untyped-def]
    return render_section(load_referral(reference), section)


# --- the sections' own context -------------------------------------------------------------------------


def summary_context(referral: Referral, user: Any) -> dict[str, Any]:
    from portal.delivery.models import EndOfServiceReport

    amendments = db.session.scalars(
        access.visible(ReferralEvent, user)
        .where(ReferralEvent.referral_id == referral.id, ReferralEvent.kind == ReferralEventKind.AMENDED)
        .options(joinedload(ReferralEvent.actor))
        .order_by(ReferralEvent.occurred_at.desc(), ReferralEvent.id.desc())
    ).all()
    report = db.session.scalars(
        access.visible(EndOfServiceReport, user)
        .where(EndOfServiceReport.referral_id == referral.id)
        .options(joinedload(EndOfServiceReport.submitted_by))
    ).first()
    return {"amendments": amendments, "report": report, "field_labels": validation.FIELD_LABELS}


def sessions_context(referral: Referral, user: Any) -> dict[str, Any]:
    """Sessions, RAR days and hours against the band: a fixed number of queries, however many sessions."""
    from portal.delivery.corrections import locked_sessions
    from portal.delivery.models import Session, SessionReschedule
    from portal.delivery.sessions import rar_days_counted, session_start

    sessions = db.session.scalars(
        access.visible(Session, user)
        .where(Session.referral_id == referral.id)
        .options(joinedload(Session.group_session))
        .order_by(Session.date.desc(), Session.start_time.desc(), Session.id.desc())
    ).all()
    rar_counted, rar_beyond = rar_days_counted(referral, list(sessions))
    # The band's minimum is of face-to-face contact: phone and video calls do not count toward it.
    minutes = sum(session.duration_minutes for session in sessions if session.attended and session.kind.in_person)
    moves: dict[int, list[SessionReschedule]] = {}
    if sessions:
        for move in db.session.scalars(
            select(SessionReschedule)
            .where(SessionReschedule.session_id.in_([session.id for session in sessions]))
            .order_by(SessionReschedule.moved_at)
        ):
            moves.setdefault(move.session_id, []).append(move)
    now = utcnow()
    return {
        "sessions": sessions,
        "happened": {session.id for session in sessions if session_start(session.date, session.start_time) <= now},
        "rar_counted": rar_counted,
        "rar_beyond": rar_beyond,
        "hours_delivered": hours_of(minutes),
        "locked_sessions": locked_sessions([session.id for session in sessions]),
        "moves": moves,
    }


def outcomes_context(referral: Referral, user: Any) -> dict[str, Any]:
    from portal.delivery.models import Outcome

    outcomes = db.session.scalars(
        access.visible(Outcome, user)
        .where(Outcome.referral_id == referral.id)
        .options(joinedload(Outcome.outcome_type), selectinload(Outcome.files))
        .order_by(Outcome.claimed_at.desc(), Outcome.id.desc())
    ).all()
    return {"outcomes": outcomes}


def notes_context(referral: Referral, user: Any) -> dict[str, Any]:
    notes = db.session.scalars(
        access.visible(CaseNote, user)
        .where(CaseNote.referral_id == referral.id)
        .options(joinedload(CaseNote.author))
        .order_by(CaseNote.created_at.desc(), CaseNote.id.desc())
    ).all()
    return {"notes": notes, "note_form": CaseNoteForm()}


def history_context(referral: Referral, user: Any) -> dict[str, Any]:
    events = db.session.scalars(
        access.visible(ReferralEvent, user)
        .where(ReferralEvent.referral_id == referral.id)
        .options(joinedload(ReferralEvent.actor))
        .order_by(ReferralEvent.occurred_at.desc(), ReferralEvent.id.desc())
    ).all()
    return {"events": events}
