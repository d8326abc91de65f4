"""Sessions: booked ahead or recorded with attendance, one to one or in a group; first contact,
RAR days and alerts follow from what is recorded. A session can be changed by its partner only
until a submitted invoice bills it."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, true

from portal import access
from portal.audit.service import changes, record_event, snapshot
from portal.contracts.models import Contract
from portal.dates import parse_user_date
from portal.db import utcnow
from portal.delivery.alerts import alerts_due, raise_alert
from portal.delivery.common import DELIVERING, MAX_TEXT, Recorded, accepted_on, ended_on, text_of
from portal.delivery.corrections import session_is_locked
from portal.delivery.models import (
    ATTENDED,
    AlertKind,
    Attendance,
    GroupSession,
    NonAttendanceReason,
    Session,
    SessionKind,
    SessionReschedule,
)
from portal.errors import Conflict, ValidationFailed
from portal.extensions import db
from portal.formatting import LONDON, format_date, format_time
from portal.people.models import Person
from portal.persistence import check_version, commit, guards_versions, lock
from portal.referrals.models import Referral, ReferralEventKind, ReferralStatus
from portal.referrals.service import REFERRAL_WORKFLOW, timeline

MAX_MINUTES = 600
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


def _time(value: Any) -> time | None:
    if isinstance(value, time):
        return value
    text = text_of(value)
    for pattern in ("%H:%M", "%H.%M", "%H%M"):
        try:
            return datetime.strptime(text, pattern).time()
        except ValueError:
            continue
    return None


def session_start(day: date, start: time) -> datetime:
    """When a session starts, as an aware UTC moment (the clock on the wall is London's)."""
    return datetime.combine(day, start, tzinfo=LONDON).astimezone(UTC)


def check_session(
    referral: Referral, fields: dict[str, Any], *, now: datetime | None = None, group: bool = False
) -> dict[str, Any]:
    """Cleaned session fields, or ValidationFailed naming every bad one."""
    now = now or utcnow()
    errors: dict[str, list[str]] = {}
    data: dict[str, Any] = {}

    day = fields.get("date")
    day = day if isinstance(day, date) else parse_user_date(text_of(day))
    accepted = accepted_on(referral)
    if day is None:
        errors["date"] = ["Enter the date of the session, as a real date"]
    elif accepted is not None and day < accepted:
        errors["date"] = [f"The session cannot be before the referral was accepted ({format_date(accepted)})"]
    elif (ended := ended_on(referral)) is not None and day > ended:
        # Its sessions still booked ahead were cancelled when it ended (cancel_future_sessions); one
        # kept for its feedback may be corrected, but not moved past the end. "My sessions" relies
        # on it: a case ended before a list's first day has nothing in that list.
        errors["date"] = [
            f"The session cannot be after the referral was {referral.status.label.lower()} ({format_date(ended)})"
        ]
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
    data["counts_as_rar_day"] = rar is True or text_of(rar).lower() in {"true", "yes", "y", "on", "1"}
    if data["counts_as_rar_day"] and referral.is_custody:
        errors["counts_as_rar_day"] = [
            "This referral is for someone in custody: RAR days are for community orders, so no session can count as one"
        ]
    elif data["counts_as_rar_day"] and not referral.rar_days:
        errors["counts_as_rar_day"] = ["This referral has no RAR days ordered, so no session can count as one"]

    summary = text_of(fields.get("summary"))
    if len(summary) > MAX_TEXT:
        errors["summary"] = [f"The summary must be {MAX_TEXT} characters or fewer"]
    data["summary"] = summary or None

    concern = fields.get("behaviour_concern")
    data["behaviour_concern"] = concern is True or text_of(concern).lower() in {"true", "yes", "y", "on", "1"}
    detail = text_of(fields.get("concern_detail"))
    if data["behaviour_concern"] and not detail:
        errors["concern_detail"] = ["Describe the behaviour concern: the referrer will read it"]
    if data["behaviour_concern"] and data["attendance"] is None:
        errors["behaviour_concern"] = ["Record the attendance before raising a behaviour concern"]
    data["concern_detail"] = (detail or None) if data["behaviour_concern"] else None
    if errors:
        raise ValidationFailed(errors)
    return data


# --- one person's sessions never overlap --------------------------------------------------------------


def overlap_message(other: Session, other_reference: str | None) -> str:
    end = session_start(other.date, other.start_time) + timedelta(minutes=other.duration_minutes)
    whose = f" (referral {other_reference})" if other_reference else ""
    return (
        f"This overlaps the {other.kind.label.lower()} session{whose} on {format_date(other.date)} from "
        f"{format_time(session_start(other.date, other.start_time))} to {format_time(end)}: "
        "one person's sessions cannot overlap. Choose another time, or correct that session"
    )


def find_overlap(
    referral: Referral, day: date, start: time, minutes: int, *, ignore: Collection[int] = ()
) -> tuple[Session, str | None] | None:
    """The earliest other session of the same person with the same partner (any of their
    referrals to the partner's contracts) that overlaps this one, with its referral's reference
    when it is another referral. A session that did not happen blocks nothing."""
    begins = session_start(day, start)
    ends = begins + timedelta(minutes=minutes)
    same_person = (
        Referral.person_id == referral.person_id if referral.person_id is not None else Referral.id == referral.id
    )
    partner_id = select(Contract.partner_id).where(Contract.id == referral.contract_id).scalar_subquery()
    # A session lasts at most MAX_MINUTES, so only the days either side can reach this one.
    rows = db.session.execute(
        select(Session, Referral.id, Referral.reference)
        .join(Referral, Referral.id == Session.referral_id)
        .join(Contract, Contract.id == Referral.contract_id)
        .where(
            same_person,
            Contract.partner_id == partner_id,
            Session.date.between(day - timedelta(days=1), day + timedelta(days=1)),
            or_(Session.attendance.is_(None), Session.attendance != Attendance.SESSION_DID_NOT_HAPPEN),
            Session.id.not_in(list(ignore)) if ignore else true(),
        )
        .order_by(Session.date, Session.start_time, Session.id)
    ).all()
    for other, referral_id, reference in rows:
        other_begins = session_start(other.date, other.start_time)
        if other_begins < ends and begins < other_begins + timedelta(minutes=other.duration_minutes):
            return other, (reference if referral_id != referral.id else None)
    return None


def lock_person(referral: Referral) -> None:
    """Take the person's row lock (PostgreSQL), so that of two sessions recorded for one person at
    the same moment the second waits for the first and then sees it. SQLite has one writer anyway."""
    if referral.person_id is not None:
        db.session.execute(select(Person.id).where(Person.id == referral.person_id).with_for_update())


def refuse_overlap(
    referral: Referral, data: dict[str, Any], *, ignore: Collection[int] = (), field: str = "start_time"
) -> None:
    """Conflict (409 in the API, a field error on the form) naming the session this one overlaps."""
    if data.get("attendance") == Attendance.SESSION_DID_NOT_HAPPEN:
        return
    found = find_overlap(referral, data["date"], data["start_time"], data["duration_minutes"], ignore=ignore)
    if found is not None:
        raise Conflict({field: [overlap_message(*found)]})


def rar_days_counted(referral: Referral, sessions: list[Session]) -> tuple[int, int]:
    """(RAR days delivered that count, days beyond the order). A RAR day is a calendar day with an
    attended session that counts as one, however many sessions that day; only a community order
    has RAR days, and never more count than were ordered (the earliest first)."""
    if referral.is_custody:
        return 0, 0
    days = {s.date for s in sessions if s.counts_as_rar_day and s.attended}
    ordered = referral.rar_days or 0
    return min(len(days), ordered), max(0, len(days) - ordered)


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
    new_alerts = alerts_due(session) - alerted_before
    if AlertKind.UNACCEPTABLE_ABSENCE in new_alerts:
        raise_alert(
            actor,
            referral,
            session,
            AlertKind.UNACCEPTABLE_ABSENCE,
            f"Did not attend the session on {format_date(session.date)}: unacceptable absence",
        )
    if AlertKind.BEHAVIOUR_CONCERN in new_alerts:
        raise_alert(actor, referral, session, AlertKind.BEHAVIOUR_CONCERN, session.concern_detail)
    if session.counts_as_rar_day and session.attended:
        db.session.flush()
        counted, beyond = rar_days_counted(referral, sessions_of(referral))
        if beyond:
            warnings.append(
                f"This referral has {referral.rar_days} RAR days ordered and {counted + beyond} days with RAR "
                f"activity recorded: the {beyond} beyond the order will not count as RAR days"
            )
    return warnings


@guards_versions("referral")
def record_session(actor: Any, referral: Referral, fields: dict[str, Any]) -> Recorded:
    """Schedule a session ahead (no attendance) or record one that has happened."""
    access.require(actor, "record_sessions", referral)
    if referral.status not in DELIVERING:
        raise ValidationFailed.single("referral", "Sessions are recorded on accepted, open referrals")
    data = check_session(referral, fields)
    lock_person(referral)
    refuse_overlap(referral, data)
    session = Session(referral_id=referral.id, contract_id=referral.contract_id, recorded_by_id=actor.id, **data)
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
    access.require(actor, "record_sessions", referral)
    check_version(session, version, "session")
    _require_unlocked(session)
    had_attendance = session.attendance is not None
    alerted_before = frozenset(alerts_due(session))
    data = check_session(referral, fields)
    lock_person(referral)
    refuse_overlap(referral, data, ignore=[session.id])
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
    access.require(actor, "record_sessions", referral)
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
    reason = text_of(reason)
    if not reason:
        errors["reason"] = ["Say why the session is moving"]
    if errors:
        raise ValidationFailed(errors)
    if (moved["date"], moved["start_time"]) == (session.date, session.start_time):
        raise ValidationFailed.single("date", "Choose a different date or time")
    lock_person(referral)
    refuse_overlap(referral, moved, ignore=[session.id])
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
    access.require(actor, "record_sessions", referral)
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


@dataclass(frozen=True)
class CancelledSession:
    date: date
    start_time: time


def cancel_future_sessions(actor: Any, referral: Referral) -> list[CancelledSession]:
    """When a referral is completed or withdrawn, the sessions still booked ahead of it are
    cancelled (deleted, with a line in its history and the audit log) and its caseworker is told:
    otherwise they stay in "Today and coming up" for work that will never happen. Called inside
    the completing or withdrawing operation's transaction; it does not commit."""
    now = utcnow()
    booked = [
        session
        for session in db.session.scalars(
            select(Session)
            .where(Session.referral_id == referral.id, Session.attendance.is_(None))
            .order_by(Session.date, Session.start_time)
        ).all()
        if session_start(session.date, session.start_time) > now
    ]
    if not booked:
        return []
    cancelled = [CancelledSession(session.date, session.start_time) for session in booked]
    for session in booked:
        record_event(
            "session.cancelled",
            actor=actor,
            record=session,
            details={
                "referral": referral.reference,
                "status": referral.status.value,
                **snapshot(session, SESSION_FIELDS),
            },
        )
    ids = [session.id for session in booked]
    # One statement, not the ORM's row-by-row delete: each row's version need not be the one this
    # session last read (the completing operation guards the referral's version, not its sessions').
    db.session.execute(SessionReschedule.__table__.delete().where(SessionReschedule.session_id.in_(ids)))
    db.session.execute(delete(Session).where(Session.id.in_(ids)).execution_options(synchronize_session=False))
    for session in booked:
        db.session.expunge(session)
    when = ", ".join(f"{format_date(item.date)} {item.start_time:%H:%M}" for item in cancelled)
    timeline(referral, ReferralEventKind.SESSION, actor, f"Booked sessions cancelled: {when}"[:300])
    from portal.notifications.rules import notify

    notify("sessions_cancelled", referral, actor=actor, referral=referral, sessions=cancelled)
    return cancelled


@guards_versions("referral")
def record_group_session(
    actor: Any, contract: Contract, fields: dict[str, Any], roster: list[dict[str, Any]]
) -> Recorded:
    """One group session, and a session record for each person on the roster (same contract only)."""
    access.require(actor, "record_group_sessions", contract)
    errors: dict[str, list[str]] = {}
    title, facilitator = text_of(fields.get("title")), text_of(fields.get("facilitator"))
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
    roster_index: dict[int, int] = {}
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
        roster_index[referral.id] = index
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
    clashes: dict[str, list[str]] = {}
    people: dict[int, str] = {}
    for referral, data in checked:
        key = f"roster-{roster_index[referral.id]}"
        if referral.person_id is not None and referral.person_id in people:
            clashes[key] = [
                f"{referral.reference}: this is the same person as {people[referral.person_id]}, "
                "who is already in this group session"
            ]
            continue
        if referral.person_id is not None:
            people[referral.person_id] = referral.reference
        lock_person(referral)
        try:
            refuse_overlap(referral, data)
        except Conflict as conflict:
            clashes[key] = [f"{referral.reference}: {message}" for message in conflict.errors["start_time"]]
    if clashes:
        raise Conflict(clashes)
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
        session = Session(
            referral_id=referral.id,
            contract_id=referral.contract_id,
            group_session_id=group.id,
            recorded_by_id=actor.id,
            **data,
        )
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


def group_members(group: GroupSession) -> list[Session]:
    return list(
        db.session.scalars(
            select(Session).where(Session.group_session_id == group.id).order_by(Session.referral_id)
        ).all()
    )


def correct_group_session(actor: Any, group: GroupSession, fields: dict[str, Any]) -> GroupSession:
    """Correct a group session's title, facilitator, date, start time or length: the group and every
    member's session change together, each checked as a session (and audited), or nothing changes.
    A member's own attendance is corrected on their session, as for any session. Once a member's
    session is on a submitted invoice, its date and length are fixed: a correction note says what
    was wrong instead."""
    contract = db.session.get(Contract, group.contract_id)
    access.require(actor, "record_group_sessions", contract)
    lock(group)  # two corrections at once: the second waits, then corrects what the first left
    errors: dict[str, list[str]] = {}
    title, facilitator = text_of(fields.get("title")), text_of(fields.get("facilitator"))
    if not title:
        errors["title"] = ["Enter the group session's title"]
    elif len(title) > 200:
        errors["title"] = ["The title must be 200 characters or fewer"]
    if not facilitator:
        errors["facilitator"] = ["Enter who ran the session"]
    elif len(facilitator) > 200:
        errors["facilitator"] = ["The facilitator must be 200 characters or fewer"]
    members = group_members(group)
    referrals = {
        r.id: r for r in db.session.scalars(select(Referral).where(Referral.id.in_([m.referral_id for m in members])))
    }
    checked: list[tuple[Session, dict[str, Any]]] = []
    for member in members:
        current = {name: getattr(member, name) for name in SESSION_FIELDS}
        current = {key: (value.value if hasattr(value, "value") else value) for key, value in current.items()}
        wanted = {**current, **{key: fields.get(key) for key in ("date", "start_time", "duration_minutes")}}
        try:
            data = check_session(referrals[member.referral_id], wanted, group=True)
        except ValidationFailed as failure:
            for name, messages in failure.errors.items():
                key = name if name in ("date", "start_time", "duration_minutes") else "date"
                for message in messages:
                    if message not in errors.get(key, []):
                        errors.setdefault(key, []).append(message)
            continue
        moved = (data["date"], data["start_time"], data["duration_minutes"]) != (
            member.date,
            member.start_time,
            member.duration_minutes,
        )
        if moved and session_is_locked(member):
            errors.setdefault("date", []).append(
                f"The session of {referrals[member.referral_id].reference} is on a submitted invoice: its date, "
                "time and length cannot change (add a correction note on it instead)"
            )
            continue
        checked.append((member, data))
    if errors:
        raise ValidationFailed(errors)
    clashes: list[str] = []
    members_ids = [member.id for member in members]
    for member, data in checked:
        referral = referrals[member.referral_id]
        lock_person(referral)
        try:
            refuse_overlap(referral, data, ignore=members_ids)
        except Conflict as conflict:
            clashes += [f"{referral.reference}: {message}" for message in conflict.errors["start_time"]]
    if clashes:
        raise Conflict({"start_time": clashes})
    before = {
        "title": group.title,
        "facilitator": group.facilitator,
        "date": group.date,
        "start_time": group.start_time,
        "duration_minutes": group.duration_minutes,
    }
    group.title, group.facilitator = title, facilitator
    if checked:
        first = checked[0][1]
        group.date, group.start_time, group.duration_minutes = (
            first["date"],
            first["start_time"],
            first["duration_minutes"],
        )
    after = {
        "title": group.title,
        "facilitator": group.facilitator,
        "date": group.date,
        "start_time": group.start_time,
        "duration_minutes": group.duration_minutes,
    }
    difference = changes(before, after)
    if not difference:
        db.session.rollback()
        return group
    for member, data in checked:
        member_before = snapshot(member, SESSION_FIELDS)
        member.date, member.start_time, member.duration_minutes = (
            data["date"],
            data["start_time"],
            data["duration_minutes"],
        )
        member_changes = changes(member_before, snapshot(member, SESSION_FIELDS))
        if member_changes:
            referral = referrals[member.referral_id]
            timeline(
                referral,
                ReferralEventKind.SESSION,
                actor,
                f"Group session '{title}' corrected: now {format_date(member.date)} {member.start_time:%H:%M}",
                {"changes": member_changes},
            )
            record_event(
                "session.updated",
                actor=actor,
                record=member,
                details={"referral": referral.reference, "changes": member_changes},
            )
            _recount_first_contact(actor, referral)
    record_event("group_session.corrected", actor=actor, record=group, details={"changes": difference})
    commit("referral")
    return group
