"""Alerts to the referrer: raised at once on an unacceptable absence or a behaviour concern, and
acknowledged by the referrer, whose decision enforcement is."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from portal import access
from portal.audit.service import record_event
from portal.db import utcnow
from portal.delivery.models import (
    Alert,
    AlertKind,
    Attendance,
    NonAttendanceReason,
    Session,
)
from portal.extensions import db
from portal.notifications.rules import notify
from portal.referrals.models import Referral, ReferralEventKind
from portal.referrals.service import timeline


def alerts_due(session: Session) -> set[AlertKind]:
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


def raise_alert(actor: Any, referral: Referral, session: Session, kind: AlertKind, detail: str | None) -> None:
    alert = Alert(referral_id=referral.id, session_id=session.id, kind=kind, detail=detail, raised_by_id=actor.id)
    db.session.add(alert)
    db.session.flush()
    record_event(
        "alert.raised", actor=actor, record=alert, details={"referral": referral.reference, "kind": kind.value}
    )
    timeline(referral, ReferralEventKind.SESSION, actor, f"Alert for the referrer: {kind.label}")
    notify("delivery_alert", referral, actor=actor, referral=referral, alert=alert)


def acknowledge_alert(actor: Any, alert: Alert) -> None:
    """The referrer acknowledges an alert: enforcement is their decision, so no one else can
    take it off their list."""
    access.require(actor, "acknowledge", alert)
    referral = db.session.get(Referral, alert.referral_id)
    if alert.acknowledged_at is not None:
        return
    alert.acknowledged_at = utcnow()
    alert.acknowledged_by_id = actor.id
    record_event("alert.acknowledged", actor=actor, record=alert, details={"referral": referral.reference})
    timeline(referral, ReferralEventKind.SESSION, actor, f"Alert acknowledged: {alert.kind.label}")
    db.session.commit()


def open_alerts(actor: Any) -> list[Alert]:
    """Alerts waiting for a CRC user: those who acknowledge alerts (referrers) see the ones on
    referrals they sent, the CRC's other staff all of its referrals'."""
    if not actor.is_crc_user:
        return []
    statement = (
        select(Alert)
        .join(Referral, Referral.id == Alert.referral_id)
        .where(Alert.acknowledged_at.is_(None), access.visibility_clause(Referral, actor))
        .order_by(Alert.raised_at)
    )
    if access.can(actor, "acknowledge", Alert):
        statement = statement.where(Referral.referrer_id == actor.id)
    return list(db.session.scalars(statement.options(contains_eager(Alert.referral))).all())
