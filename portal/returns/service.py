"""Operations on service returns: create, write the narrative, submit (freezing the figures), and
the contract manager's accept or return.

Each operation checks who is acting and the return's state, writes the change with its audit
event and commits, or raises a domain error and changes nothing. The web pages and the API call
these same functions.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import access
from portal.audit.service import record_event
from portal.contracts.models import Contract, ContractStatus
from portal.dates import Period, london_today, parse_period
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.formatting import format_date
from portal.persistence import check_version, commit, guards_versions, lock
from portal.returns.models import (
    NARRATIVE_FIELDS,
    REQUIRED_NARRATIVE,
    ReturnStatus,
    ServiceReturn,
)
from portal.returns.records import figures_for
from portal.workflow import StateMachine, Transition

S = ReturnStatus
RETURN_WORKFLOW = StateMachine(
    "service_return",
    [
        Transition(
            "submit",
            frozenset({S.DRAFT, S.RETURNED}),
            S.SUBMITTED,
            "Only a draft return, or one returned for changes, can be submitted",
        ),
        Transition("accept", frozenset({S.SUBMITTED}), S.ACCEPTED, "Only a submitted return can be accepted"),
        Transition("return", frozenset({S.SUBMITTED}), S.RETURNED, "Only a submitted return can be returned"),
    ],
)
TEXT_LIMIT = 5000
NARRATIVE_LABELS = {
    "achievements": "achievements",
    "challenges": "challenges",
    "case_study": "an anonymised case study",
    "safeguarding_note": "a note about the safeguarding concerns",
}


# --- periods -------------------------------------------------------------------------------------------


def _tell(event: str, service_return: ServiceReturn, actor: Any, **context: Any) -> None:
    """Hand the news to portal/notifications/rules.py, which decides who is told."""
    from portal.notifications.rules import notify

    contract = db.session.get(Contract, service_return.contract_id)
    notify(event, service_return, actor=actor, service_return=service_return, contract=contract, **context)


def check_period(contract: Contract, value: Any, *, today: date | None = None) -> Period:
    """The period a new return of `contract` may cover, or ValidationFailed saying why not."""
    today = today or london_today()
    period = value if isinstance(value, Period) else parse_period(value)
    if period is None:
        raise ValidationFailed.single("period", "Enter the period as a month, like 2026-05, or a quarter, like 2026-Q2")
    if period.start > today:
        raise ValidationFailed.single("period", f"{period.label} has not started yet: you cannot report on the future")
    if period.end < contract.start_date:
        raise ValidationFailed.single(
            "period", f"{period.label} is before the contract started on {format_date(contract.start_date)}"
        )
    if period.start > contract.end_date:
        raise ValidationFailed.single(
            "period", f"{period.label} is after the contract ended on {format_date(contract.end_date)}"
        )
    if contract.status == ContractStatus.DRAFT:
        raise ValidationFailed.single("contract", "This contract is still a draft: it has nothing to report yet")
    for existing in db.session.scalars(
        select(ServiceReturn).where(
            ServiceReturn.contract_id == contract.id,
            ServiceReturn.period_start <= period.end,
            ServiceReturn.period_end >= period.start,
        )
    ):
        if existing.period == period:
            raise ValidationFailed.single("period", f"There is already a return for {period.label} on this contract")
        raise ValidationFailed.single(
            "period", f"The return for {existing.period.label} already covers part of {period.label}"
        )
    return period


# --- the partner's operations -------------------------------------------------------------------------


def create_return(actor: Any, contract: Contract, period: Any) -> ServiceReturn:
    access.require(actor, "start_returns", contract)
    checked = check_period(contract, period)
    service_return = ServiceReturn(
        contract_id=contract.id,
        period_kind=checked.kind,
        period_start=checked.start,
        period_end=checked.end,
        status=S.DRAFT,
        created_by_id=actor.id,
    )
    db.session.add(service_return)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ValidationFailed.single(
            "period", f"There is already a return for {checked.label} on this contract"
        ) from None
    service_return.contract = contract
    record_event(
        "service_return.created",
        actor=actor,
        record=service_return,
        details={"contract": contract.reference, "period": checked.code},
    )
    commit("service return")
    return service_return


def _clean_narrative(fields: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name in NARRATIVE_FIELDS:
        if name not in fields:
            continue
        raw = fields[name]
        text = str(raw or "").strip()
        if len(text) > TEXT_LIMIT:
            errors[name] = [f"This must be {TEXT_LIMIT:,} characters or fewer"]
        cleaned[name] = text or None
    if errors:
        raise ValidationFailed(errors)
    return cleaned


@guards_versions("service return")
def update_narrative(
    actor: Any, service_return: ServiceReturn, fields: dict[str, Any], *, version: int | str | None = None
) -> ServiceReturn:
    """Save the narrative as it stands (incomplete is fine until submission)."""
    access.require(actor, "write", service_return)
    check_version(service_return, version, "service return")
    if not service_return.is_editable:
        raise ValidationFailed.single("return", "This return has been submitted: its narrative can no longer change")
    cleaned = _clean_narrative(fields)
    changed = sorted(name for name, value in cleaned.items() if getattr(service_return, name) != value)
    if not changed:
        return service_return
    for name in changed:
        setattr(service_return, name, cleaned[name])
    record_event("service_return.narrative_updated", actor=actor, record=service_return, details={"fields": changed})
    commit("service return")
    return service_return


def missing_narrative(service_return: ServiceReturn) -> dict[str, list[str]]:
    """What must be written before the return can be submitted, by field."""
    errors = {
        name: [f"Enter {NARRATIVE_LABELS[name]}"]
        for name in REQUIRED_NARRATIVE
        if getattr(service_return, name) in (None, "")
    }
    return errors


def fingerprint(figures: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(figures, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@guards_versions("service return")
def submit_return(
    actor: Any, service_return: ServiceReturn, *, version: int | str | None = None, today: date | None = None
) -> ServiceReturn:
    """Submit the return: its figures are computed one last time and frozen with it."""
    access.require(actor, "write", service_return)
    lock(service_return)
    contract = service_return.contract
    check_version(service_return, version, "service return")
    RETURN_WORKFLOW.check(service_return, "submit")
    today = today or london_today()
    if service_return.period_end >= today:
        raise ValidationFailed.single(
            "return",
            f"You can submit this return from {format_date(service_return.period_end + timedelta(days=1))}, "
            "once the period has ended",
        )
    missing = missing_narrative(service_return)
    if missing:
        raise ValidationFailed(missing)
    figures = figures_for(contract, service_return.period, today=today)
    resubmitted = service_return.status == S.RETURNED
    service_return.kpis = figures
    RETURN_WORKFLOW.apply(
        service_return,
        "submit",
        actor,
        details={
            "period": service_return.period.code,
            "figures_sha256": fingerprint(figures),
            "resubmitted": resubmitted,
        },
    )
    _tell("return_submitted", service_return, actor)
    commit("service return")
    return service_return


# --- the contract manager's decisions ------------------------------------------------------------------


@guards_versions("service return")
def accept_return(actor: Any, service_return: ServiceReturn, *, version: int | str | None = None) -> ServiceReturn:
    access.require(actor, "decide", service_return)
    lock(service_return)
    check_version(service_return, version, "service return")
    RETURN_WORKFLOW.apply(service_return, "accept", actor, details={"period": service_return.period.code})
    _tell("return_decided", service_return, actor, accepted=True, reason=None)
    commit("service return")
    return service_return


@guards_versions("service return")
def return_return(
    actor: Any, service_return: ServiceReturn, *, reason: Any, version: int | str | None = None
) -> ServiceReturn:
    """Send a submitted return back to the partner with a reason; they change it and submit again."""
    access.require(actor, "decide", service_return)
    lock(service_return)
    check_version(service_return, version, "service return")
    RETURN_WORKFLOW.check(service_return, "return")
    text = str(reason or "").strip()
    if not text:
        raise ValidationFailed.single("reason", "Enter why the return needs changes")
    if len(text) > 2000:
        raise ValidationFailed.single("reason", "The reason must be 2,000 characters or fewer")
    service_return.return_reason = text
    RETURN_WORKFLOW.apply(
        service_return, "return", actor, details={"period": service_return.period.code, "reason": text}
    )
    _tell("return_decided", service_return, actor, accepted=False, reason=service_return.return_reason)
    commit("service return")
    return service_return


# --- reading -----------------------------------------------------------------------------------------------


def figures_of(service_return: ServiceReturn, *, today: date | None = None) -> dict[str, Any]:
    """What the return shows: the frozen snapshot once submitted, else the live figures."""
    if service_return.is_frozen and service_return.kpis:
        return service_return.kpis
    return figures_for(service_return.contract, service_return.period, today=today or london_today())
