"""What locks a delivery record (a submitted invoice that bills it), and the correction note
that is then the only way to say the record was wrong."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from portal import access
from portal.audit.service import record_event
from portal.delivery.common import MAX_TEXT, text_of
from portal.delivery.models import (
    Outcome,
    OutcomeStatus,
    Session,
)
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.formatting import format_date
from portal.referrals.models import CaseNote, Referral, ReferralEventKind
from portal.referrals.service import timeline

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


def add_correction_note(
    actor: Any, *, session: Session | None = None, outcome: Outcome | None = None, body: str
) -> CaseNote:
    """Once a record is on a submitted invoice it stays as it was; a note says what was wrong."""
    record = session or outcome
    referral = db.session.get(Referral, record.referral_id)
    access.require(actor, "record_sessions" if session else "claim_outcomes", referral)
    body = text_of(body)
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
