"""State machines as data: each record type lists its transitions; one helper checks,
applies, stamps and audits them, so no service hand-rolls a status change."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from portal.audit.service import record_event
from portal.db import utcnow
from portal.errors import InvalidTransition


@dataclass(frozen=True)
class Transition:
    name: str  # the verb: "activate", "accept", "submit"
    sources: frozenset[StrEnum]
    target: StrEnum
    # Shown when the record is in another state, e.g. "Only an active contract can be ended".
    refusal: str


class StateMachine:
    def __init__(self, record_type: str, transitions: Iterable[Transition]) -> None:
        self.record_type = record_type
        self.transitions = {transition.name: transition for transition in transitions}

    def allowed(self, record: Any, name: str) -> bool:
        return record.status in self.transitions[name].sources

    def check(self, record: Any, name: str) -> None:
        """Raise InvalidTransition, with the transition's message, unless `name` is allowed now."""
        transition = self.transitions[name]
        if record.status not in transition.sources:
            raise InvalidTransition(transition.refusal)

    def available(self, record: Any) -> list[str]:
        return [name for name, transition in self.transitions.items() if record.status in transition.sources]

    def apply(
        self,
        record: Any,
        name: str,
        actor: Any,
        *,
        details: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> datetime:
        """Move `record` along transition `name`, stamping `<name>ed_at` / `<name>ed_by_id`
        where the model has them, and write the audit event `<record_type>.<name>`. The one place
        a transition is stamped: services never set those fields themselves. `at` (default now) is
        the moment stamped, returned so a service can date what follows from it the same."""
        moment, before = self.stamp(record, name, actor, at=at)
        self.audit(record, name, actor, before, details=details)
        return moment

    def stamp(self, record: Any, name: str, actor: Any, *, at: datetime | None = None) -> tuple[datetime, StrEnum]:
        """`apply` without the audit event, for a record not saved yet (saved in bulk, it has no id
        to name): returns the moment stamped and the status it left, for `audit` once it is saved."""
        self.check(record, name)
        transition = self.transitions[name]
        before = record.status
        record.status = transition.target
        moment = at or utcnow()
        stamp = PAST_TENSE.get(name, f"{name}ed")
        if hasattr(record, f"{stamp}_at"):
            setattr(record, f"{stamp}_at", moment)
        if hasattr(record, f"{stamp}_by_id"):
            setattr(record, f"{stamp}_by_id", getattr(actor, "id", None))
        return moment, before

    def audit(
        self, record: Any, name: str, actor: Any, before: StrEnum, *, details: dict[str, Any] | None = None
    ) -> None:
        """The audit event of transition `name`, which moved `record` on from status `before`."""
        record_event(
            f"{self.record_type}.{PAST_TENSE.get(name, name + 'ed')}",
            actor=actor,
            record=record,
            details={
                "status": {"before": before.value, "after": self.transitions[name].target.value},
                **(details or {}),
            },
        )


PAST_TENSE = {
    "activate": "activated",
    "end": "ended",
    "send": "sent",
    "accept": "accepted",
    "decline": "declined",
    "withdraw": "withdrawn",
    "start": "started",
    "unstart": "first_contact_undone",
    "complete": "completed",
    "verify": "verified",
    "reject": "rejected",
    "submit": "submitted",
    "approve": "approved",
    "query": "queried",
    "pay": "paid",
    "return": "returned",
    "acknowledge": "acknowledged",
    "close": "closed",
    "read": "read",
    "revise": "revised",
    "request_changes": "changes_requested",
}
