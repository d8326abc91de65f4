"""Grant-funded activity with no referral behind it (drop-ins and group work): recorded by the
partner with its date, kind and how many came, and counted in the service return."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from portal import access
from portal.audit.service import record_event
from portal.contracts.models import Contract, ContractStatus, ContractTier
from portal.dates import london_today, parse_user_date
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.formatting import format_date
from portal.grants.models import ActivityKind, GrantActivity
from portal.persistence import commit

MAX_ATTENDEES = 500
MAX_MINUTES = 600


def record_activity(
    actor: Any,
    contract: Contract,
    *,
    day: Any,
    kind: Any,
    attendees: Any,
    duration_minutes: Any = 60,
    description: str | None = None,
) -> GrantActivity:
    """Record a drop-in or a group held under a grant, with no referral: how many came."""
    access.require(actor, "record_grant_activity", contract)
    if contract.tier != ContractTier.GRANT:
        raise ValidationFailed.single("contract", "Only grant-funded work is recorded without a referral")
    if contract.status != ContractStatus.ACTIVE:
        raise ValidationFailed.single("contract", "Activity is recorded only on an active contract")
    errors: dict[str, list[str]] = {}
    when = day if isinstance(day, date) else parse_user_date(day)
    if when is None:
        errors["day"] = ["Enter the date of the activity"]
    elif when > london_today():
        errors["day"] = ["The date of the activity cannot be in the future"]
    elif not contract.start_date <= when <= contract.end_date:
        errors["day"] = [
            f"The date must be within the contract, {format_date(contract.start_date)} to "
            f"{format_date(contract.end_date)}"
        ]
    kinds = {k.value: k for k in ActivityKind}
    chosen = kinds.get(str(kind or ""))
    if chosen is None:
        errors["kind"] = ["Select the kind of activity"]
    count = _whole(attendees)
    if count is None:
        errors["attendees"] = ["Enter how many people came, as a whole number, like 8"]
    elif not 1 <= count <= MAX_ATTENDEES:
        errors["attendees"] = [f"The number who came must be between 1 and {MAX_ATTENDEES}"]
    minutes = _whole(duration_minutes)
    if minutes is None:
        errors["duration_minutes"] = ["Enter how long it lasted in minutes, like 90"]
    elif not 1 <= minutes <= MAX_MINUTES:
        errors["duration_minutes"] = [f"How long it lasted must be between 1 and {MAX_MINUTES} minutes"]
    text = (description or "").strip() or None
    if text and len(text) > 200:
        errors["description"] = ["The description must be 200 characters or fewer"]
    if errors:
        raise ValidationFailed(errors)
    activity = GrantActivity(
        contract_id=contract.id,
        day=when,
        kind=chosen,
        attendees=count,
        duration_minutes=minutes,
        description=text,
        recorded_by_id=actor.id,
    )
    db.session.add(activity)
    db.session.flush()
    record_event(
        "grant.activity_recorded",
        actor=actor,
        record=activity,
        details={"contract": contract.reference, "day": when, "kind": chosen.value, "attendees": count},  # type: ignore[union-attr]
    )
    commit("activity")
    return activity


def delete_activity(actor: Any, activity: GrantActivity) -> None:
    """Take back activity recorded in error (a return already submitted keeps its frozen figures)."""
    contract = db.session.get(Contract, activity.contract_id)
    access.require(actor, "record_grant_activity", contract)
    record_event(
        "grant.activity_deleted",
        actor=actor,
        record=activity,
        details={"contract": contract.reference, "day": activity.day, "attendees": activity.attendees},
    )
    db.session.delete(activity)
    commit("activity")


def activity_of(contract: Contract, *, limit: int = 200) -> list[GrantActivity]:
    return list(
        db.session.scalars(
            select(GrantActivity)
            .where(GrantActivity.contract_id == contract.id)
            .order_by(GrantActivity.day.desc(), GrantActivity.id.desc())
            .limit(limit)
        )
    )


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 7 else None
