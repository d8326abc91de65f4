"""Operations on delivery records: sessions (single and group), alerts, outcomes with evidence,
corrections and the end-of-service report.

Recorded once, at source, with who and when. A session or outcome can be changed by its partner
only until it appears on a submitted invoice; after that a correction note is the only way.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import select

from portal import access
from portal.accounts.models import PARTNER_ROLES, Role, User
from portal.audit.service import changes, record_event, snapshot
from portal.contracts.models import Contract, OutcomeType
from portal.dates import london_date, london_today, parse_user_date
from portal.db import utcnow
from portal.delivery import evidence
from portal.delivery.models import (
    ATTENDED,
    Achievement,
    Alert,
    AlertKind,
    Attendance,
    EndOfServiceReport,
    EvidenceFile,
    GroupSession,
    NonAttendanceReason,
    Outcome,
    OutcomeStatus,
    Session,
    SessionKind,
    SessionReschedule,
)
from portal.errors import NotAllowed, NotFound, ValidationFailed
from portal.extensions import db
from portal.formatting import LONDON, format_date
from portal.notifications.service import queue_email
from portal.persistence import check_version, commit, guards_versions
from portal.referrals.models import CaseNote, Referral, ReferralEventKind, ReferralStatus
from portal.referrals.service import REFERRAL_WORKFLOW, timeline
from portal.workflow import StateMachine, Transition

MAX_MINUTES = 600
MAX_TEXT = 5000
SESSION_FIELDS = (
    "date",
    "start_time",
    "duration_minutes",
    "kind",
    "attendance",
    "non_attendance_reason",
    "counts_as_rar_day",
    "summary",
    "behaviour_concern",
    "concern_detail",
)
OUTCOME_FIELDS = ("outcome_type_id", "achieved_on", "evidence")
DELIVERING = frozenset({ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS})

OUTCOME_WORKFLOW = StateMachine(
    "outcome",
    [
        Transition(
            "verify",
            frozenset({OutcomeStatus.CLAIMED}),
            OutcomeStatus.VERIFIED,
            "Only a claimed outcome can be verified",
        ),
        Transition(
            "reject",
            frozenset({OutcomeStatus.CLAIMED}),
            OutcomeStatus.REJECTED,
            "Only a claimed outcome can be rejected",
        ),
    ],
)

# Invoicing registers checks here: a session or outcome on a submitted invoice is locked.
# Each check takes session ids and answers which of them are locked, so a page of sessions is
# checked in one query, not one a session.
session_lock_checks: list[Callable[[Collection[int]], set[int]]] = []
outcome_lock_checks: list[Callable[[Outcome], bool]] = []


def locked_sessions(session_ids: Collection[int]) -> set[int]:
    """Which of these sessions may no longer be edited or deleted (they are on a live invoice)."""
    ids = set(session_ids)
    return set().union(*(check(ids) for check in session_lock_checks)) if ids else set()


def session_is_locked(session: Session) -> bool:
    return session.id in locked_sessions([session.id])


def outcome_is_locked(outcome: Outcome) -> bool:
    return outcome.status == OutcomeStatus.VERIFIED or any(check(outcome) for check in outcome_lock_checks)


@dataclass
class Recorded:
    """What an operation made, and anything the user should be warned about."""

    record: Any
    warnings: list[str] = field(default_factory=list)


# --- who may act -------------------------------------------------------------------------------------


def _contract_of(referral: Referral) -> Contract:
    return db.session.get(Contract, referral.contract_id)


def _require_partner_user(actor: Any, referral: Referral) -> Contract:
    """Partner users of the referral's partner record delivery; the CRC reads it (403), others 404."""
    contract = _contract_of(referral)
    if actor.is_crc_user and contract.crc_id == actor.organisation_id:
        raise NotAllowed("Only the partner records delivery")
    if (
        actor.role not in PARTNER_ROLES
        or contract.partner_id != actor.organisation_id
        or referral.status == ReferralStatus.DRAFT
    ):
        raise NotFound
    return contract


def _require_crc_decider(actor: Any, referral: Referral) -> None:
    """CRC referrers and contract managers of the referral's CRC verify and reject outcomes."""
    if actor.is_partner_user:
        contract = _contract_of(referral)
        if contract.partner_id == actor.organisation_id:
            raise NotAllowed("The CRC verifies outcomes")
        raise NotFound
    if referral.crc_id != actor.organisation_id:
        raise NotFound
    if actor.role not in (Role.CRC_REFERRER, Role.CONTRACT_MANAGER):
        raise NotAllowed("Only CRC referrers and contract managers verify outcomes")


# --- sessions ----------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _time(value: Any) -> time | None:
    if isinstance(value, time):
        return value
    text = _text(value)
    for pattern in ("%H:%M", "%H.%M", "%H%M"):
        try:
            return datetime.strptime(text, pattern).time()
        except ValueError:
            continue
    return None


def session_start(day: date, start: time) -> datetime:
    """When a session starts, as an aware UTC moment (the clock on the wall is London's)."""
    return datetime.combine(day, start, tzinfo=LONDON).astimezone(UTC)


def _accepted_on(referral: Referral) -> date | None:
    return london_date(referral.accepted_at) if referral.accepted_at else None


def check_session(
    referral: Referral, fields: dict[str, Any], *, now: datetime | None = None, group: bool = False
) -> dict[str, Any]:
    """Cleaned session fields, or ValidationFailed naming every bad one."""
    now = now or utcnow()
    errors: dict[str, list[str]] = {}
    data: dict[str, Any] = {}

    day = fields.get("date")
    day = day if isinstance(day, date) else parse_user_date(_text(day))
    accepted = _accepted_on(referral)
    if day is None:
        errors["date"] = ["Enter the date of the session, as a real date"]
    elif accepted is not None and day < accepted:
        errors["date"] = [f"The session cannot be before the referral was accepted ({format_date(accepted)})"]
    data["date"] = day

    start = _time(fields.get("start_time"))
    if start is None:
        errors["start_time"] = ["Enter the start time in the 24-hour clock, like 14:30"]
    data["start_time"] = start

    minutes = fields.get("duration_minutes")
    try:
        minutes = int(minutes) if not isinstance(minutes, bool) else None
    except (TypeError, ValueError):
        minutes = None
    if minutes is None or not 0 < minutes <= MAX_MINUTES:
        errors["duration_minutes"] = [f"Enter the length in minutes, from 1 to {MAX_MINUTES}"]
    data["duration_minutes"] = minutes

    try:
        data["kind"] = SessionKind(fields.get("kind") or (SessionKind.GROUP if group else None))
    except ValueError:
        errors["kind"] = ["Select the kind of session"]

    attendance_value = fields.get("attendance")
    data["attendance"] = None
    if attendance_value not in (None, ""):
        try:
            data["attendance"] = Attendance(attendance_value)
        except ValueError:
            errors["attendance"] = ["Select whether the person attended"]
    if data["attendance"] is not None and day is not None and start is not None and session_start(day, start) > now:
        errors["attendance"] = ["You cannot record attendance for a session that has not happened yet"]

    reason_value = fields.get("non_attendance_reason")
    data["non_attendance_reason"] = None
    if data["attendance"] in (Attendance.DID_NOT_ATTEND, Attendance.SESSION_DID_NOT_HAPPEN):
        try:
            data["non_attendance_reason"] = NonAttendanceReason(reason_value)
        except ValueError:
            errors["non_attendance_reason"] = ["Select whether the absence was acceptable, unacceptable or logistics"]
    elif reason_value not in (None, ""):
        errors["non_attendance_reason"] = ["Only a session that was missed has a non-attendance reason"]

    rar = fields.get("counts_as_rar_day")
    data["counts_as_rar_day"] = rar is True or _text(rar).lower() in {"true", "yes", "y", "on", "1"}
    if data["counts_as_rar_day"] and not referral.rar_days:
        errors["counts_as_rar_day"] = ["This referral has no RAR days ordered, so no session can count as one"]

    summary = _text(fields.get("summary"))
    if len(summary) > MAX_TEXT:
        errors["summary"] = [f"The summary must be {MAX_TEXT} characters or fewer"]
    data["summary"] = summary or None

    concern = fields.get("behaviour_concern")
    data["behaviour_concern"] = concern is True or _text(concern).lower() in {"true", "yes", "y", "on", "1"}
    detail = _text(fields.get("concern_detail"))
    if data["behaviour_concern"] and not detail:
        errors["concern_detail"] = ["Describe the behaviour concern: the referrer will read it"]
    if data["behaviour_concern"] and data["attendance"] is None:
        errors["behaviour_concern"] = ["Record the attendance before raising a behaviour concern"]
    data["concern_detail"] = (detail or None) if data["behaviour_concern"] else None
    if errors:
        raise ValidationFailed(errors)
    return data


def rar_days_counted(referral: Referral, sessions: list[Session]) -> tuple[int, int]:
    """(RAR days that count, RAR-day sessions beyond the order): the earliest sessions count first."""
    rar_sessions = sorted(
        (s for s in sessions if s.counts_as_rar_day and s.attended), key=lambda s: (s.date, s.start_time, s.id or 0)
    )
    ordered = referral.rar_days or 0
    return min(len(rar_sessions), ordered), max(0, len(rar_sessions) - ordered)


def sessions_of(referral: Referral) -> list[Session]:
    return list(
        db.session.scalars(
            select(Session)
            .where(Session.referral_id == referral.id)
            .order_by(Session.date, Session.start_time, Session.id)
        ).all()
    )


def _recount_first_contact(actor: Any, referral: Referral) -> None:
    """After a session is corrected or deleted: first contact is the earliest attended session
    left. With none left, the referral goes back to waiting for first contact, clock running."""
    db.session.flush()
    earliest = db.session.execute(
        select(Session.date, Session.start_time)
        .where(Session.referral_id == referral.id, Session.attendance.in_(ATTENDED))
        .order_by(Session.date, Session.start_time)
        .limit(1)
    ).first()
    if earliest is not None:
        # With no first contact yet, this is it: _after_recording starts the referral and says so.
        if referral.first_contact_at is not None:
            referral.first_contact_at = session_start(earliest.date, earliest.start_time)
        return
    if referral.first_contact_at is None:
        return
    referral.first_contact_at = None
    if referral.status == ReferralStatus.IN_PROGRESS:
        REFERRAL_WORKFLOW.apply(referral, "unstart", actor)
    timeline(referral, ReferralEventKind.SESSION, actor, "No attended session is left: waiting for first contact again")


def _alerts_due(session: Session) -> set[AlertKind]:
    """What the referrer must hear about at once: an unacceptable absence, a behaviour concern."""
    due = set()
    if (
        session.attendance == Attendance.DID_NOT_ATTEND
        and session.non_attendance_reason == NonAttendanceReason.UNACCEPTABLE
    ):
        due.add(AlertKind.UNACCEPTABLE_ABSENCE)
    if session.behaviour_concern:
        due.add(AlertKind.BEHAVIOUR_CONCERN)
    return due


def _after_recording(
    actor: Any, referral: Referral, session: Session, *, alerted_before: frozenset[AlertKind] = frozenset()
) -> list[str]:
    """First contact, alerts and the RAR warning that follow a session's attendance. An alert is
    raised whenever its cause newly appears: when the session is recorded or on a later edit."""
    warnings: list[str] = []
    if session.attended and referral.first_contact_at is None:
        referral.first_contact_at = session_start(session.date, session.start_time)
        if referral.status == ReferralStatus.ACCEPTED:
            REFERRAL_WORKFLOW.apply(referral, "start", actor, details={"first_contact": session.date})
        timeline(referral, ReferralEventKind.SESSION, actor, f"First contact: session on {format_date(session.date)}")
    new_alerts = _alerts_due(session) - alerted_before
    if AlertKind.UNACCEPTABLE_ABSENCE in new_alerts:
        _raise_alert(
            actor,
            referral,
            session,
            AlertKind.UNACCEPTABLE_ABSENCE,
            f"Did not attend the session on {format_date(session.date)}: unacceptable absence",
        )
    if AlertKind.BEHAVIOUR_CONCERN in new_alerts:
        _raise_alert(actor, referral, session, AlertKind.BEHAVIOUR_CONCERN, session.concern_detail)
    if session.counts_as_rar_day and session.attended:
        db.session.flush()
        counted, beyond = rar_days_counted(referral, sessions_of(referral))
        if beyond:
            warnings.append(
                f"This referral has {referral.rar_days} RAR days ordered and {counted + beyond} RAR-day "
                f"sessions recorded: the {beyond} beyond the order will not count as RAR days"
            )
    return warnings


def _raise_alert(actor: Any, referral: Referral, session: Session, kind: AlertKind, detail: str | None) -> None:
    alert = Alert(referral_id=referral.id, session_id=session.id, kind=kind, detail=detail, raised_by_id=actor.id)
    db.session.add(alert)
    db.session.flush()
    record_event(
        "alert.raised", actor=actor, record=alert, details={"referral": referral.reference, "kind": kind.value}
    )
    timeline(referral, ReferralEventKind.SESSION, actor, f"Alert for the referrer: {kind.label}")
    referrer = db.session.get(User, referral.referrer_id)
    queue_email("delivery_alert", referrer.email, record=referral, referral=referral, alert=alert)


@guards_versions("referral")
def record_session(actor: Any, referral: Referral, fields: dict[str, Any]) -> Recorded:
    """Schedule a session ahead (no attendance) or record one that has happened."""
    _require_partner_user(actor, referral)
    if referral.status not in DELIVERING:
        raise ValidationFailed.single("referral", "Sessions are recorded on accepted, open referrals")
    data = check_session(referral, fields)
    session = Session(referral_id=referral.id, recorded_by_id=actor.id, **data)
    if data["attendance"] is not None:
        session.feedback_at = utcnow()
    db.session.add(session)
    db.session.flush()
    verb = "Session recorded" if data["attendance"] else "Session scheduled"
    timeline(
        referral,
        ReferralEventKind.SESSION,
        actor,
        f"{verb}: {format_date(session.date)}, {session.kind.label.lower()}"
        + (f", {session.attendance.label.lower()}" if session.attendance else ""),
    )
    warnings = _after_recording(actor, referral, session)
    record_event(
        "session.created",
        actor=actor,
        record=session,
        details={"referral": referral.reference, **snapshot(session, SESSION_FIELDS)},
    )
    commit("referral")
    return Recorded(session, warnings)


def _require_unlocked(session: Session) -> None:
    if session_is_locked(session):
        raise ValidationFailed.single(
            "session", "This session is on a submitted invoice, so it cannot be changed. Add a correction note instead"
        )


@guards_versions("session")
def update_session(actor: Any, session: Session, fields: dict[str, Any], *, version: int | None = None) -> Recorded:
    """Edit a session (its partner only, until it is invoiced); every edit audited with before/after."""
    referral = db.session.get(Referral, session.referral_id)
    _require_partner_user(actor, referral)
    check_version(session, version, "session")
    _require_unlocked(session)
    had_attendance = session.attendance is not None
    alerted_before = frozenset(_alerts_due(session))
    data = check_session(referral, fields)
    before = snapshot(session, SESSION_FIELDS)
    for key, value in data.items():
        setattr(session, key, value)
    if data["attendance"] is not None and not had_attendance:
        session.feedback_at = utcnow()
    difference = changes(before, snapshot(session, SESSION_FIELDS))
    warnings: list[str] = []
    if difference:
        timeline(
            referral,
            ReferralEventKind.SESSION,
            actor,
            f"Session on {format_date(session.date)} updated",
            {"changes": difference},
        )
        _recount_first_contact(actor, referral)
        warnings = _after_recording(actor, referral, session, alerted_before=alerted_before)
        record_event(
            "session.updated",
            actor=actor,
            record=session,
            details={"referral": referral.reference, "changes": difference},
        )
    commit("session")
    return Recorded(session, warnings)


@guards_versions("session")
def reschedule_session(
    actor: Any, session: Session, *, new_date: Any, new_time: Any, reason: str, version: int | None = None
) -> Session:
    referral = db.session.get(Referral, session.referral_id)
    _require_partner_user(actor, referral)
    check_version(session, version, "session")
    if session.attendance is not None:
        raise ValidationFailed.single("date", "This session has happened: edit it instead of rescheduling it")
    errors: dict[str, list[str]] = {}
    try:
        moved = check_session(
            referral,
            {
                **snapshot(session, SESSION_FIELDS),
                "date": new_date,
                "start_time": new_time,
                "kind": session.kind.value,
                "attendance": None,
                "non_attendance_reason": None,
            },
        )
    except ValidationFailed as failure:
        errors.update({key: value for key, value in failure.errors.items() if key in ("date", "start_time")})
        moved = {}
    reason = _text(reason)
    if not reason:
        errors["reason"] = ["Say why the session is moving"]
    if errors:
        raise ValidationFailed(errors)
    if (moved["date"], moved["start_time"]) == (session.date, session.start_time):
        raise ValidationFailed.single("date", "Choose a different date or time")
    db.session.add(
        SessionReschedule(
            session_id=session.id,
            from_date=session.date,
            from_time=session.start_time,
            to_date=moved["date"],
            to_time=moved["start_time"],
            reason=reason,
            moved_by_id=actor.id,
        )
    )
    record_event(
        "session.rescheduled",
        actor=actor,
        record=session,
        details={
            "referral": referral.reference,
            "reason": reason,
            "changes": changes(
                {"date": session.date, "start_time": session.start_time},
                {"date": moved["date"], "start_time": moved["start_time"]},
            ),
        },
    )
    timeline(
        referral,
        ReferralEventKind.SESSION,
        actor,
        f"Session moved from {format_date(session.date)} to {format_date(moved['date'])}",
        {"reason": reason},
    )
    session.date, session.start_time = moved["date"], moved["start_time"]
    commit("session")
    return session


def delete_session(actor: Any, session: Session) -> None:
    referral = db.session.get(Referral, session.referral_id)
    _require_partner_user(actor, referral)
    _require_unlocked(session)
    record_event(
        "session.deleted",
        actor=actor,
        record=session,
        details={"referral": referral.reference, **snapshot(session, SESSION_FIELDS)},
    )
    timeline(referral, ReferralEventKind.SESSION, actor, f"Session on {format_date(session.date)} deleted")
    db.session.execute(SessionReschedule.__table__.delete().where(SessionReschedule.session_id == session.id))
    db.session.delete(session)
    _recount_first_contact(actor, referral)
    db.session.commit()


@guards_versions("referral")
def record_group_session(
    actor: Any, contract: Contract, fields: dict[str, Any], roster: list[dict[str, Any]]
) -> Recorded:
    """One group session, and a session record for each person on the roster (same contract only)."""
    if actor.role not in PARTNER_ROLES or contract.partner_id != actor.organisation_id:
        raise NotFound
    errors: dict[str, list[str]] = {}
    title, facilitator = _text(fields.get("title")), _text(fields.get("facilitator"))
    if not title:
        errors["title"] = ["Enter the group session's title"]
    if not facilitator:
        errors["facilitator"] = ["Enter who ran the session"]
    if not roster:
        errors["roster"] = ["Add at least one person to the group"]
    referral_ids = [entry.get("referral_id") for entry in roster]
    referrals = {
        r.id: r
        for r in db.session.scalars(
            access.visible(Referral, actor).where(Referral.id.in_([i for i in referral_ids if isinstance(i, int)]))
        ).all()
    }
    checked: list[tuple[Referral, dict[str, Any]]] = []
    seen: set[int] = set()
    for index, entry in enumerate(roster):
        referral = referrals.get(entry.get("referral_id"))
        key = f"roster-{index}"
        if referral is None or referral.contract_id != contract.id:
            errors[key] = ["Everyone in a group session must be on this contract's open referrals"]
            continue
        if referral.status not in DELIVERING:
            errors[key] = [f"Referral {referral.reference} is not open"]
            continue
        if referral.id in seen:
            errors[key] = [f"Referral {referral.reference} is on the roster twice"]
            continue
        seen.add(referral.id)
        try:
            checked.append(
                (referral, check_session(referral, {**fields, **entry, "kind": SessionKind.GROUP.value}, group=True))
            )
        except ValidationFailed as failure:
            for field_name, messages in failure.errors.items():
                target = field_name if field_name in ("date", "start_time", "duration_minutes") else key
                errors.setdefault(target, []).extend(
                    f"{referral.reference}: {m}" if target == key else m for m in messages
                )
    if errors:
        raise ValidationFailed(errors)
    first = checked[0][1]
    group = GroupSession(
        contract_id=contract.id,
        title=title,
        facilitator=facilitator,
        date=first["date"],
        start_time=first["start_time"],
        duration_minutes=first["duration_minutes"],
        created_by_id=actor.id,
    )
    db.session.add(group)
    db.session.flush()
    warnings: list[str] = []
    for referral, data in checked:
        session = Session(referral_id=referral.id, group_session_id=group.id, recorded_by_id=actor.id, **data)
        if data["attendance"] is not None:
            session.feedback_at = utcnow()
        db.session.add(session)
        db.session.flush()
        timeline(
            referral,
            ReferralEventKind.SESSION,
            actor,
            f"Group session '{title}' on {format_date(session.date)}"
            + (f": {session.attendance.label.lower()}" if session.attendance else ""),
        )
        warnings += [f"{referral.reference}: {warning}" for warning in _after_recording(actor, referral, session)]
    record_event(
        "group_session.created",
        actor=actor,
        record=group,
        details={"contract": contract.reference, "title": title, "people": len(checked)},
    )
    commit("referral")
    return Recorded(group, warnings)


# --- alerts -----------------------------------------------------------------------------------------------


def acknowledge_alert(actor: Any, alert: Alert) -> None:
    """The referrer acknowledges an alert: enforcement is their decision, so no one else can
    take it off their list."""
    referral = db.session.get(Referral, alert.referral_id)
    if not actor.is_crc_user or referral.crc_id != actor.organisation_id:
        raise NotFound
    if not access.can_acknowledge_alerts(actor):
        raise NotAllowed("Only the CRC's referrers acknowledge alerts: enforcement is their decision")
    if alert.acknowledged_at is not None:
        return
    alert.acknowledged_at = utcnow()
    alert.acknowledged_by_id = actor.id
    record_event("alert.acknowledged", actor=actor, record=alert, details={"referral": referral.reference})
    timeline(referral, ReferralEventKind.SESSION, actor, f"Alert acknowledged: {alert.kind.label}")
    db.session.commit()


def open_alerts(actor: Any) -> list[Alert]:
    """Alerts waiting for a CRC user: on referrals they sent (referrers) or their CRC's (managers)."""
    if not actor.is_crc_user:
        return []
    statement = (
        select(Alert)
        .join(Referral, Referral.id == Alert.referral_id)
        .where(Alert.acknowledged_at.is_(None), access.visibility_clause(Referral, actor))
        .order_by(Alert.raised_at)
    )
    if actor.role == Role.CRC_REFERRER:
        statement = statement.where(Referral.referrer_id == actor.id)
    from sqlalchemy.orm import contains_eager

    return list(db.session.scalars(statement.options(contains_eager(Alert.referral))).all())


# --- outcomes ---------------------------------------------------------------------------------------------


def _check_outcome(referral: Referral, fields: dict[str, Any], *, editing: Outcome | None = None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    outcome_type = None
    value = fields.get("outcome_type_id")
    code = fields.get("outcome_type")
    statement = select(OutcomeType).where(OutcomeType.contract_id == referral.contract_id, OutcomeType.active.is_(True))
    if value not in (None, ""):
        try:
            outcome_type = db.session.scalars(statement.where(OutcomeType.id == int(value))).first()
        except (TypeError, ValueError):
            outcome_type = None
    elif code:
        outcome_type = db.session.scalars(statement.where(OutcomeType.code == _text(code).lower())).first()
    if outcome_type is None:
        errors["outcome_type_id"] = ["Select an outcome type on this referral's contract"]
    achieved = fields.get("achieved_on")
    achieved = achieved if isinstance(achieved, date) else parse_user_date(_text(achieved))
    accepted = _accepted_on(referral)
    if achieved is None:
        errors["achieved_on"] = ["Enter the date the outcome was achieved, as a real date"]
    elif achieved > london_today():
        errors["achieved_on"] = ["The date achieved cannot be in the future"]
    elif accepted is not None and achieved < accepted:
        errors["achieved_on"] = [
            f"The outcome must be achieved on or after the referral was accepted ({format_date(accepted)})"
        ]
    text = _text(fields.get("evidence"))
    if not text:
        errors["evidence"] = ["Describe the evidence for the outcome, for example a tenancy agreement seen"]
    elif len(text) > MAX_TEXT:
        errors["evidence"] = [f"The evidence description must be {MAX_TEXT} characters or fewer"]
    if not errors:
        # The same outcome claimed twice would be paid twice wherever the rate card has no limit.
        twin = select(Outcome.id).where(
            Outcome.referral_id == referral.id,
            Outcome.outcome_type_id == outcome_type.id,
            Outcome.achieved_on == achieved,
            Outcome.status != OutcomeStatus.REJECTED,
        )
        if editing is not None:
            twin = twin.where(Outcome.id != editing.id)
        if db.session.scalar(twin.limit(1)) is not None:
            errors["outcome_type_id"] = [
                f"This outcome is already claimed for this referral, achieved on {format_date(achieved)}"
            ]
    if errors:
        raise ValidationFailed(errors)
    return {"outcome_type_id": outcome_type.id, "achieved_on": achieved, "evidence": text}


def _store_files(actor: Any, outcome: Outcome, staged: list[evidence.StagedFile]) -> None:
    for file in staged:
        db.session.add(
            EvidenceFile(
                outcome_id=outcome.id,
                original_name=file.original_name,
                stored_name=file.stored_name,
                content_type=file.content_type,
                size_bytes=file.size_bytes,
                sha256=file.sha256,
                uploaded_by_id=actor.id,
            )
        )


def _commit_with_files(staged: list[evidence.StagedFile], what: str) -> None:
    """Commit, then move the staged files into the store; if the commit fails, no file is kept."""
    try:
        commit(what)
    except Exception:
        evidence.discard(staged)
        raise
    evidence.keep(staged)


def claim_outcome(
    actor: Any,
    referral: Referral,
    fields: dict[str, Any],
    files: list[tuple[str, bytes]] | None = None,
    *,
    previous: Outcome | None = None,
) -> Outcome:
    """A partner claims an outcome with evidence; the CRC then verifies or rejects it."""
    _require_partner_user(actor, referral)
    if referral.status not in (*DELIVERING, ReferralStatus.COMPLETED):
        raise ValidationFailed.single("referral", "Outcomes are claimed on accepted referrals")
    errors: dict[str, list[str]] = {}
    try:
        data = _check_outcome(referral, fields)
    except ValidationFailed as failure:
        errors.update(failure.errors)
    try:
        staged = evidence.stage(files or []) if not errors else []
    except ValidationFailed as failure:
        errors.update(failure.errors)
        staged = []
    if errors:
        raise ValidationFailed(errors)
    try:
        outcome = Outcome(
            referral_id=referral.id,
            claimed_by_id=actor.id,
            status=OutcomeStatus.CLAIMED,
            previous_claim_id=previous.id if previous else None,
            **data,
        )
        db.session.add(outcome)
        db.session.flush()
        _store_files(actor, outcome, staged)
        outcome_type = db.session.get(OutcomeType, outcome.outcome_type_id)
        timeline(
            referral,
            ReferralEventKind.OUTCOME,
            actor,
            f"Outcome {'re-' if previous else ''}claimed: {outcome_type.name}, achieved "
            f"{format_date(outcome.achieved_on)}",
        )
        record_event(
            "outcome.claimed",
            actor=actor,
            record=outcome,
            details={
                "referral": referral.reference,
                "outcome_type": outcome_type.code,
                "achieved_on": outcome.achieved_on,
                "files": [file.original_name for file in staged],
                "previous_claim": previous.id if previous else None,
            },
        )
    except Exception:
        db.session.rollback()
        evidence.discard(staged)
        raise
    _commit_with_files(staged, "outcome")
    return outcome


def reclaim_outcome(
    actor: Any, rejected: Outcome, fields: dict[str, Any], files: list[tuple[str, bytes]] | None = None
) -> Outcome:
    if rejected.status != OutcomeStatus.REJECTED:
        raise ValidationFailed.single("outcome", "Only a rejected outcome can be claimed again")
    referral = db.session.get(Referral, rejected.referral_id)
    return claim_outcome(
        actor, referral, {"outcome_type_id": rejected.outcome_type_id, **fields}, files, previous=rejected
    )


@guards_versions("outcome")
def update_outcome(
    actor: Any,
    outcome: Outcome,
    fields: dict[str, Any],
    files: list[tuple[str, bytes]] | None = None,
    *,
    version: int | None = None,
) -> Outcome:
    referral = db.session.get(Referral, outcome.referral_id)
    _require_partner_user(actor, referral)
    check_version(outcome, version, "outcome")
    if outcome.status != OutcomeStatus.CLAIMED or outcome_is_locked(outcome):
        raise ValidationFailed.single("outcome", "Only a claimed outcome that has not been decided can be changed")
    data = _check_outcome(referral, fields, editing=outcome)
    staged = evidence.stage(files or [])
    before = snapshot(outcome, OUTCOME_FIELDS)
    for key, value in data.items():
        setattr(outcome, key, value)
    _store_files(actor, outcome, staged)
    difference = changes(before, snapshot(outcome, OUTCOME_FIELDS))
    if difference or staged:
        record_event(
            "outcome.updated",
            actor=actor,
            record=outcome,
            details={
                "referral": referral.reference,
                "changes": difference,
                "files_added": [file.original_name for file in staged],
            },
        )
        timeline(referral, ReferralEventKind.OUTCOME, actor, "Outcome claim updated")
    _commit_with_files(staged, "outcome")
    return outcome


def delete_outcome(actor: Any, outcome: Outcome) -> None:
    referral = db.session.get(Referral, outcome.referral_id)
    _require_partner_user(actor, referral)
    if outcome.status != OutcomeStatus.CLAIMED or outcome_is_locked(outcome):
        raise ValidationFailed.single("outcome", "Only a claimed outcome that has not been decided can be deleted")
    files = list(db.session.scalars(select(EvidenceFile).where(EvidenceFile.outcome_id == outcome.id)).all())
    record_event(
        "outcome.deleted",
        actor=actor,
        record=outcome,
        details={
            "referral": referral.reference,
            **snapshot(outcome, OUTCOME_FIELDS),
            "files": [file.original_name for file in files],
        },
    )
    timeline(referral, ReferralEventKind.OUTCOME, actor, "Outcome claim withdrawn by the partner")
    for file in files:
        db.session.delete(file)
    db.session.delete(outcome)
    db.session.commit()
    for file in files:
        evidence.path_of(file.stored_name).unlink(missing_ok=True)


@guards_versions("outcome")
def verify_outcome(actor: Any, outcome: Outcome, *, version: int | None = None) -> Outcome:
    referral = db.session.get(Referral, outcome.referral_id)
    _require_crc_decider(actor, referral)
    check_version(outcome, version, "outcome")
    OUTCOME_WORKFLOW.apply(outcome, "verify", actor, details={"referral": referral.reference})
    outcome.verified_at, outcome.verified_by_id = utcnow(), actor.id
    outcome_type = db.session.get(OutcomeType, outcome.outcome_type_id)
    timeline(referral, ReferralEventKind.OUTCOME, actor, f"Outcome verified: {outcome_type.name}")
    _tell_claimant(outcome, referral, "outcome_decided")
    commit("outcome")
    return outcome


@guards_versions("outcome")
def reject_outcome(actor: Any, outcome: Outcome, *, reason: str, version: int | None = None) -> Outcome:
    referral = db.session.get(Referral, outcome.referral_id)
    _require_crc_decider(actor, referral)
    check_version(outcome, version, "outcome")
    OUTCOME_WORKFLOW.check(outcome, "reject")
    reason = _text(reason)
    if not reason:
        raise ValidationFailed.single("reason", "Say why the claim is rejected, so the partner can put it right")
    OUTCOME_WORKFLOW.apply(outcome, "reject", actor, details={"referral": referral.reference, "reason": reason})
    outcome.rejected_at, outcome.rejected_by_id, outcome.rejection_reason = utcnow(), actor.id, reason
    outcome_type = db.session.get(OutcomeType, outcome.outcome_type_id)
    timeline(referral, ReferralEventKind.OUTCOME, actor, f"Outcome rejected: {outcome_type.name}", {"reason": reason})
    _tell_claimant(outcome, referral, "outcome_decided")
    commit("outcome")
    return outcome


def _tell_claimant(outcome: Outcome, referral: Referral, template: str) -> None:
    claimant = db.session.get(User, outcome.claimed_by_id)
    if claimant is not None and claimant.active:
        queue_email(template, claimant.email, record=referral, referral=referral, outcome=outcome)


# --- corrections ---------------------------------------------------------------------------------------


def add_correction_note(
    actor: Any, *, session: Session | None = None, outcome: Outcome | None = None, body: str
) -> CaseNote:
    """Once a record is on a submitted invoice it stays as it was; a note says what was wrong."""
    record = session or outcome
    referral = db.session.get(Referral, record.referral_id)
    _require_partner_user(actor, referral)
    body = _text(body)
    if not body:
        raise ValidationFailed.single("body", "Say what is wrong with the record")
    if len(body) > MAX_TEXT:
        raise ValidationFailed.single("body", f"The note must be {MAX_TEXT} characters or fewer")
    note = CaseNote(
        referral_id=referral.id,
        author_id=actor.id,
        body=body,
        session_id=session.id if session else None,
        outcome_id=outcome.id if outcome else None,
    )
    db.session.add(note)
    db.session.flush()
    what = f"session on {format_date(session.date)}" if session else "outcome claim"
    timeline(referral, ReferralEventKind.NOTE, actor, f"Correction note on the {what}", {"note_id": note.id})
    record_event(
        "correction_note.created",
        actor=actor,
        record=note,
        details={
            "referral": referral.reference,
            "session": getattr(session, "id", None),
            "outcome": getattr(outcome, "id", None),
        },
    )
    db.session.commit()
    return note


# --- end of service --------------------------------------------------------------------------------------


@guards_versions("referral")
def complete_referral(
    actor: Any,
    referral: Referral,
    *,
    summary: str,
    outcomes: list[dict[str, Any]],
    further_needs: str | None = None,
    version: int | None = None,
) -> EndOfServiceReport:
    """The end-of-service report: how each desired outcome went. Submitting it completes the referral."""
    _require_partner_user(actor, referral)
    check_version(referral, version, "referral")
    REFERRAL_WORKFLOW.check(referral, "complete")
    errors: dict[str, list[str]] = {}
    summary = _text(summary)
    if not summary:
        errors["summary"] = ["Summarise the work done and where the person is now"]
    desired = list(referral.desired_outcomes or [])
    given = {(_text(entry.get("desired_outcome"))): entry for entry in outcomes or []}
    report_outcomes = []
    for index, wanted in enumerate(desired):
        entry = given.get(wanted) or (
            outcomes[index]
            if index < len(outcomes or []) and not _text(outcomes[index].get("desired_outcome"))
            else None
        )
        try:
            achievement = Achievement((entry or {}).get("achievement"))
        except ValueError:
            errors[f"outcomes-{index}"] = [f"Say whether '{wanted}' was achieved, partially achieved or not achieved"]
            continue
        report_outcomes.append(
            {
                "desired_outcome": wanted,
                "achievement": achievement.value,
                "comment": _text((entry or {}).get("comment")),
            }
        )
    unknown = [name for name in given if name and name not in desired]
    if unknown:
        errors["outcomes"] = [f"'{unknown[0]}' is not one of this referral's desired outcomes"]
    if errors:
        raise ValidationFailed(errors)
    report = EndOfServiceReport(
        referral_id=referral.id,
        summary=summary,
        outcomes=report_outcomes,
        further_needs=_text(further_needs) or None,
        submitted_by_id=actor.id,
    )
    db.session.add(report)
    REFERRAL_WORKFLOW.apply(referral, "complete", actor, details={"outcomes": report_outcomes})
    referral.completed_at = utcnow()
    timeline(referral, ReferralEventKind.COMPLETED, actor, "End-of-service report submitted: referral completed")
    referrer = db.session.get(User, referral.referrer_id)
    queue_email("referral_completed", referrer.email, record=referral, referral=referral, report=report)
    commit("referral")
    return report
