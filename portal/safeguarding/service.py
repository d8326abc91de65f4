"""The operations on safeguarding concerns, for the pages, the API and the escalation command alike:
raise (the partner), acknowledge and close with an outcome (the referrer), escalate (cron), and
naming each referrer's team manager (the CRC's administrators)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from portal import access
from portal.accounts.models import CRC_ROLES, User
from portal.audit.service import changes, record_event
from portal.db import utcnow
from portal.errors import InvalidTransition, ValidationFailed
from portal.extensions import db
from portal.formatting import format_datetime
from portal.notifications.rules import notify
from portal.persistence import check_version, commit, guards_versions, lock
from portal.referrals.models import LIVE_STATUSES, Referral, ReferralEventKind, WithdrawReason
from portal.safeguarding.models import (
    NOT_CLOSED,
    ConcernCategory,
    ConcernOutcome,
    ConcernStatus,
    SafeguardingConcern,
    Urgency,
)
from portal.workflow import StateMachine, Transition
from portal.working_days import add_working_hours

MAX_TEXT = 5000

CONCERN_WORKFLOW = StateMachine(
    "safeguarding_concern",
    [
        Transition(
            "acknowledge",
            frozenset({ConcernStatus.OPEN}),
            ConcernStatus.ACKNOWLEDGED,
            "This concern has already been acknowledged",
        ),
        Transition(
            "close",
            frozenset({ConcernStatus.ACKNOWLEDGED}),
            ConcernStatus.CLOSED,
            "Only an acknowledged concern that is not yet closed can be closed",
        ),
    ],
)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _timeline(referral: Referral, actor: Any, summary: str, details: dict[str, Any] | None = None) -> None:
    from portal.referrals.service import timeline

    timeline(referral, ReferralEventKind.NOTE, actor, summary, details)


# --- raising (the partner) ------------------------------------------------------------------------------


def _check_concern(fields: dict[str, Any], now: datetime) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    try:
        cleaned["category"] = ConcernCategory(fields.get("category"))
    except ValueError:
        errors["category"] = ["Select what the concern is about"]
    try:
        cleaned["urgency"] = Urgency(fields.get("urgency"))
    except ValueError:
        errors["urgency"] = ["Select how urgent the concern is"]
    what = _text(fields.get("what_happened"))
    if not what:
        errors["what_happened"] = ["Describe what happened and who is at risk"]
    elif len(what) > MAX_TEXT:
        errors["what_happened"] = [f"What happened must be {MAX_TEXT:,} characters or fewer"]
    cleaned["what_happened"] = what
    told = {name: bool(fields.get(name)) for name in ("told_mash", "told_police", "told_responsible_officer")}
    cleaned.update(told)
    told_at = fields.get("told_at")
    if told_at is not None and not isinstance(told_at, datetime):
        errors["told_at"] = ["Enter when you told them as a date and time"]
        told_at = None
    if isinstance(told_at, datetime) and told_at.tzinfo is None:
        errors["told_at"] = ["Give the time with its offset, like 2026-03-03T14:30:00+00:00"]
        told_at = None
    if any(told.values()) and told_at is None and "told_at" not in errors:
        errors["told_at"] = ["Enter when you told them"]
    if not any(told.values()) and told_at is not None:
        errors["told_at"] = ["Select who you told, or leave when you told them empty"]
    if told_at is not None and told_at > now:
        errors["told_at"] = ["When you told them must be now or in the past"]
    cleaned["told_at"] = told_at
    cleaned["rosh_high"] = bool(fields.get("rosh_high"))
    if errors:
        raise ValidationFailed(errors)
    return cleaned


@guards_versions("referral")
def raise_concern(
    actor: Any, referral: Referral, fields: dict[str, Any], *, at: datetime | None = None
) -> SafeguardingConcern:
    """The partner raises a safeguarding concern on a referral. The referrer must acknowledge it
    within the urgency's working hours. A concern that the risk of serious harm is now high stops the
    referral at the partner at once: it is withdrawn, transferred to the NPS."""
    access.require(actor, "raise_concern", referral)
    lock(referral)
    if referral.status not in LIVE_STATUSES:
        raise InvalidTransition("A concern can be raised only on a referral that is sent, accepted or in progress")
    now = at or utcnow()
    cleaned = _check_concern(fields, now)
    concern = SafeguardingConcern(
        referral_id=referral.id,
        contract_id=referral.contract_id,
        status=ConcernStatus.OPEN,
        raised_at=now,
        raised_by_id=actor.id,
        acknowledge_due_at=add_working_hours(now, cleaned["urgency"].working_hours),
        **cleaned,
    )
    db.session.add(concern)
    db.session.flush()
    record_event(
        "safeguarding_concern.raised",
        actor=actor,
        record=concern,
        details={
            "referral": referral.reference,
            "category": concern.category.value,
            "urgency": concern.urgency.value,
            "rosh_high": concern.rosh_high,
            "acknowledge_due_at": concern.acknowledge_due_at,
        },
    )
    _timeline(
        referral,
        actor,
        f"Safeguarding concern raised: {concern.category.label} ({concern.urgency.label.lower()})",
        {"concern_id": concern.id},
    )
    if concern.rosh_high:
        _transfer_to_nps(actor, referral, concern, now)
    notify("safeguarding_concern_raised", referral, actor=actor, referral=referral, concern=concern)
    commit("referral")
    return concern


def _transfer_to_nps(actor: Any, referral: Referral, concern: SafeguardingConcern, now: datetime) -> None:
    """The risk of serious harm is high: a CRC may not hold the case, so it stops at the partner now
    (withdrawn, reason transferred to the NPS; sessions booked ahead are cancelled)."""
    from portal.delivery.sessions import cancel_future_sessions
    from portal.plans.service import close_plan
    from portal.referrals.service import REFERRAL_WORKFLOW, timeline

    detail = f"Safeguarding concern {concern.id}: risk of serious harm now high. Transfer to the NPS."
    REFERRAL_WORKFLOW.apply(
        referral,
        "withdraw",
        actor,
        details={"reason_code": WithdrawReason.TRANSFERRED_TO_NPS.value, "concern_id": concern.id},
        at=now,
    )
    referral.withdraw_reason = WithdrawReason.TRANSFERRED_TO_NPS
    referral.withdraw_detail = detail
    timeline(referral, ReferralEventKind.WITHDRAWN, actor, f"Withdrawn: {WithdrawReason.TRANSFERRED_TO_NPS.label}")
    cancel_future_sessions(actor, referral)
    close_plan(actor, referral, because="the case transfers to the NPS")


# --- acknowledging and closing (the referrer) --------------------------------------------------------


@guards_versions("safeguarding concern")
def acknowledge_concern(
    actor: Any, concern: SafeguardingConcern, *, version: int | str | None = None
) -> SafeguardingConcern:
    """The referrer has read the concern and is acting on it: it stops counting towards escalation."""
    access.require(actor, "acknowledge", concern)
    lock(concern)
    check_version(concern, version, "safeguarding concern")
    referral = db.session.get(Referral, concern.referral_id)
    CONCERN_WORKFLOW.apply(
        concern, "acknowledge", actor, details={"referral": referral.reference, "late": concern.overdue(utcnow())}
    )
    _timeline(
        referral, actor, f"Safeguarding concern acknowledged: {concern.category.label}", {"concern_id": concern.id}
    )
    notify("safeguarding_concern_acknowledged", referral, actor=actor, referral=referral, concern=concern)
    commit("safeguarding concern")
    return concern


@guards_versions("safeguarding concern")
def close_concern(
    actor: Any, concern: SafeguardingConcern, *, outcome: Any, detail: str, version: int | str | None = None
) -> SafeguardingConcern:
    """The referrer closes an acknowledged concern with its outcome (what was done about it)."""
    access.require(actor, "close", concern)
    lock(concern)
    check_version(concern, version, "safeguarding concern")
    CONCERN_WORKFLOW.check(concern, "close")
    errors: dict[str, list[str]] = {}
    try:
        chosen = ConcernOutcome(outcome)
    except ValueError:
        errors["outcome"] = ["Select the outcome of the concern"]
    detail = _text(detail)
    if not detail:
        errors["outcome_detail"] = ["Explain what was done about the concern"]
    elif len(detail) > MAX_TEXT:
        errors["outcome_detail"] = [f"The explanation must be {MAX_TEXT:,} characters or fewer"]
    if errors:
        raise ValidationFailed(errors)
    referral = db.session.get(Referral, concern.referral_id)
    concern.outcome = chosen
    concern.outcome_detail = detail
    CONCERN_WORKFLOW.apply(concern, "close", actor, details={"referral": referral.reference, "outcome": chosen.value})
    _timeline(referral, actor, f"Safeguarding concern closed: {chosen.label}", {"concern_id": concern.id})
    notify("safeguarding_concern_closed", referral, actor=actor, referral=referral, concern=concern)
    commit("safeguarding concern")
    return concern


# --- escalation (cron) ------------------------------------------------------------------------------


def escalate_overdue(now: datetime | None = None) -> list[SafeguardingConcern]:
    """Concerns not acknowledged by their deadline are escalated, once each, by email to the
    referrer's team manager (or, when the CRC has named none, to its administrators). Run from cron
    every few minutes in working hours: `flask safeguarding escalate`."""
    now = now or utcnow()
    overdue = db.session.scalars(
        select(SafeguardingConcern)
        .where(
            SafeguardingConcern.status == ConcernStatus.OPEN,
            SafeguardingConcern.acknowledge_due_at < now,
            SafeguardingConcern.escalated_at.is_(None),
        )
        .order_by(SafeguardingConcern.acknowledge_due_at, SafeguardingConcern.id)
        .with_for_update(skip_locked=True)
    ).all()
    for concern in overdue:
        referral = db.session.get(Referral, concern.referral_id)
        referrer = db.session.get(User, referral.referrer_id)
        manager = db.session.get(User, referrer.team_manager_id) if referrer.team_manager_id else None
        if manager is not None and not manager.active:
            manager = None
        concern.escalated_at = now
        concern.escalated_to_id = manager.id if manager else None
        record_event(
            "safeguarding_concern.escalated",
            record=concern,
            details={
                "referral": referral.reference,
                "due": concern.acknowledge_due_at,
                "escalated_to": manager.email if manager else "administrators",
            },
        )
        _timeline(
            referral,
            None,
            "Safeguarding concern not acknowledged by "
            f"{format_datetime(concern.acknowledge_due_at)}: escalated to "
            + (manager.name if manager else "the CRC's administrators"),
            {"concern_id": concern.id},
        )
        notify(
            "safeguarding_concern_escalated",
            referral,
            referral=referral,
            concern=concern,
            referrer=referrer,
            manager=manager,
        )
    db.session.commit()
    return list(overdue)


# --- what stops other operations -------------------------------------------------------------------


def open_concerns_count(referral: Referral) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(SafeguardingConcern)
            .where(SafeguardingConcern.referral_id == referral.id, SafeguardingConcern.status.in_(NOT_CLOSED))
        )
        or 0
    )


def refuse_while_concern_open(referral: Referral) -> None:
    """A referral cannot be completed while a safeguarding concern on it is not closed."""
    count = open_concerns_count(referral)
    if count:
        raise InvalidTransition(
            "This referral has a safeguarding concern that is not closed. The referrer must close it "
            "with an outcome before the referral can be completed."
            if count == 1
            else f"This referral has {count} safeguarding concerns that are not closed. The referrer must "
            "close them with an outcome before the referral can be completed."
        )


# --- team managers (the CRC's administrators) ---------------------------------------------------------


def team_manager_choices(actor: Any, user: User) -> list[User]:
    """Who may be `user`'s team manager: the active CRC staff of their organisation, not themselves."""
    return list(
        db.session.scalars(
            access.visible(User, actor)
            .where(
                User.organisation_id == user.organisation_id,
                User.role.in_(CRC_ROLES),
                User.active.is_(True),
                User.id != user.id,
            )
            .order_by(User.name)
        ).all()
    )


@guards_versions("user")
def set_team_manager(actor: Any, user: User, manager: Any) -> User:
    """Name (or clear, with None) the team manager a referrer's late safeguarding concerns go to."""
    access.require(actor, "set_team_manager", user)
    if manager in (None, ""):
        chosen = None
    else:
        manager_id = manager.id if isinstance(manager, User) else manager
        try:
            manager_id = int(manager_id)
        except (TypeError, ValueError):
            raise ValidationFailed.single("team_manager", "Select a team manager from the list") from None
        chosen = next((u for u in team_manager_choices(actor, user) if u.id == manager_id), None)
        if chosen is None:
            raise ValidationFailed.single(
                "team_manager", "Select an active member of the CRC's staff, other than the person themselves"
            )
    before = user.team_manager_id
    after = chosen.id if chosen else None
    if before == after:
        return user
    user.team_manager_id = after
    record_event(
        "user.team_manager_set",
        actor=actor,
        record=user,
        details={"team_manager": changes({"id": before}, {"id": after}).get("id")},
    )
    commit("user")
    return user
