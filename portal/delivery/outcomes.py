"""Outcomes: claimed by the partner with evidence, verified or rejected by the CRC, claimed again
after a rejection. A claim can be changed by its partner only while it is undecided and unbilled."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, or_, select

from portal import access
from portal.audit.service import changes, record_event, snapshot
from portal.contracts.models import OutcomeType, RateCardItem, Unit
from portal.dates import london_today, parse_user_date
from portal.delivery import evidence, outcome_rules
from portal.delivery.common import DELIVERING, MAX_TEXT, accepted_on, text_of
from portal.delivery.corrections import outcome_is_locked
from portal.delivery.models import (
    EvidenceFile,
    Outcome,
    OutcomeStatus,
)
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.formatting import format_date
from portal.notifications.rules import notify
from portal.people.models import Person
from portal.persistence import check_version, commit, guards_versions, lock
from portal.referrals.models import Referral, ReferralEventKind, ReferralStatus
from portal.referrals.service import timeline
from portal.workflow import StateMachine, Transition

OUTCOME_FIELDS = ("outcome_type_id", "achieved_on", "evidence")

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
        Transition(
            "credit",
            frozenset({OutcomeStatus.VERIFIED}),
            OutcomeStatus.CREDITED,
            "Only a verified outcome can be credited",
        ),
    ],
)


def claimable_outcome_types(referral: Referral) -> list[tuple[OutcomeType, bool]]:
    """The outcome types a partner can claim on this referral, by name, each with whether it is
    paid: those its service prices (a per-outcome item of its service code) and those the contract
    manager marks recorded but unpaid. One query."""
    priced = (
        select(RateCardItem.id)
        .where(
            RateCardItem.contract_id == referral.contract_id,
            RateCardItem.service_code == referral.service_code,
            RateCardItem.unit == Unit.PER_OUTCOME,
            RateCardItem.outcome_type_id == OutcomeType.id,
            RateCardItem.active.is_(True),
        )
        .exists()
    )
    rows = db.session.execute(
        select(OutcomeType, priced.label("priced"))
        .where(
            OutcomeType.contract_id == referral.contract_id,
            OutcomeType.active.is_(True),
            or_(priced, OutcomeType.recorded_unpaid.is_(True)),
        )
        .order_by(OutcomeType.name, OutcomeType.id)
    ).all()
    return [(row[0], bool(row[1])) for row in rows]


def rule_refusals(
    referral: Referral,
    outcome_type: OutcomeType,
    achieved: date | None,
    *,
    files: int,
    counted: tuple[OutcomeStatus, ...],
    editing: Outcome | None = None,
) -> dict[str, list[str]]:
    """What the outcome type's rule says against this outcome, by field: achieved outside its
    days, one too many for the referral (counting others in `counted` states), no evidence file."""
    rule = outcome_rules.Rule.of(outcome_type)
    errors: dict[str, list[str]] = {}
    refusal = outcome_rules.refusal(rule, outcome_rules.Facts.of(referral), achieved) if achieved else None
    if refusal:
        errors["achieved_on"] = [refusal]
    if rule.max_per_referral is not None:
        others = select(func.count(Outcome.id)).where(
            Outcome.referral_id == referral.id,
            Outcome.outcome_type_id == outcome_type.id,
            Outcome.status.in_(counted),
        )
        if editing is not None:
            others = others.where(Outcome.id != editing.id)
        if (db.session.scalar(others) or 0) >= rule.max_per_referral:
            many = "once" if rule.max_per_referral == 1 else f"{rule.max_per_referral} times"
            errors["outcome_type_id"] = [f"{outcome_type.name} can be claimed at most {many} for a referral"]
    if rule.evidence_required and files == 0:
        errors["evidence_files"] = [f"Attach an evidence file: {outcome_type.name} needs one"]
    return errors


def _check_outcome(
    referral: Referral, fields: dict[str, Any], *, editing: Outcome | None = None, files: int = 0
) -> dict[str, Any]:
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
        outcome_type = db.session.scalars(statement.where(OutcomeType.code == text_of(code).lower())).first()
    if outcome_type is None:
        errors["outcome_type_id"] = ["Select an outcome type on this referral's contract"]
    elif outcome_type.id not in {kind.id for kind, _ in claimable_outcome_types(referral)}:
        errors["outcome_type_id"] = [
            f"This referral's service does not pay for {outcome_type.name}: choose an outcome its service prices"
        ]
    achieved = fields.get("achieved_on")
    achieved = achieved if isinstance(achieved, date) else parse_user_date(text_of(achieved))
    accepted = accepted_on(referral)
    if achieved is None:
        errors["achieved_on"] = ["Enter the date the outcome was achieved, as a real date"]
    elif achieved > london_today():
        errors["achieved_on"] = ["The date achieved cannot be in the future"]
    elif accepted is not None and achieved < accepted:
        errors["achieved_on"] = [
            f"The outcome must be achieved on or after the referral was accepted ({format_date(accepted)})"
        ]
    text = text_of(fields.get("evidence"))
    if not text:
        errors["evidence"] = ["Describe the evidence for the outcome, for example a tenancy agreement seen"]
    elif len(text) > MAX_TEXT:
        errors["evidence"] = [f"The evidence description must be {MAX_TEXT} characters or fewer"]
    if outcome_type is not None and "outcome_type_id" not in errors:
        for field, messages in rule_refusals(
            referral,
            outcome_type,
            None if "achieved_on" in errors else achieved,
            files=files,
            counted=(OutcomeStatus.CLAIMED, OutcomeStatus.VERIFIED),
            editing=editing,
        ).items():
            errors.setdefault(field, messages)
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
    access.require(actor, "claim_outcomes", referral)
    lock(referral)  # claims of one referral one at a time, so a claim made twice at once is refused once
    if referral.status not in (*DELIVERING, ReferralStatus.COMPLETED):
        raise ValidationFailed.single("referral", "Outcomes are claimed on accepted referrals")
    errors: dict[str, list[str]] = {}
    try:
        data = _check_outcome(referral, fields, files=len(files or []))
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
            contract_id=referral.contract_id,
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
        notify(
            "outcome_claimed",
            referral,
            actor=actor,
            referral=referral,
            outcome=outcome,
            outcome_type=outcome_type,
            person=db.session.get(Person, referral.person_id),
            partner_name=actor.organisation.name,
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
    access.require(actor, "claim_outcomes", referral)
    check_version(outcome, version, "outcome")
    if outcome.status != OutcomeStatus.CLAIMED or outcome_is_locked(outcome):
        raise ValidationFailed.single("outcome", "Only a claimed outcome that has not been decided can be changed")
    attached = db.session.scalar(select(func.count(EvidenceFile.id)).where(EvidenceFile.outcome_id == outcome.id)) or 0
    data = _check_outcome(referral, fields, editing=outcome, files=attached + len(files or []))
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
    access.require(actor, "claim_outcomes", referral)
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
    access.require(actor, "decide", outcome)
    check_version(outcome, version, "outcome")
    OUTCOME_WORKFLOW.check(outcome, "verify")
    outcome_type = db.session.get(OutcomeType, outcome.outcome_type_id)
    # The rule is checked again: it may have changed since the claim, and a verified outcome is paid.
    files = db.session.scalar(select(func.count(EvidenceFile.id)).where(EvidenceFile.outcome_id == outcome.id)) or 0
    refused = rule_refusals(
        referral, outcome_type, outcome.achieved_on, files=files, counted=(OutcomeStatus.VERIFIED,), editing=outcome
    )
    if refused:
        raise ValidationFailed(
            {
                field: [f"{message}: this claim cannot be verified, so reject it and say why" for message in messages]
                for field, messages in refused.items()
            }
        )
    OUTCOME_WORKFLOW.apply(outcome, "verify", actor, details={"referral": referral.reference})
    timeline(referral, ReferralEventKind.OUTCOME, actor, f"Outcome verified: {outcome_type.name}")
    _tell_claimant(outcome, referral, "outcome_decided")
    commit("outcome")
    return outcome


@guards_versions("outcome")
def reject_outcome(actor: Any, outcome: Outcome, *, reason: str, version: int | None = None) -> Outcome:
    referral = db.session.get(Referral, outcome.referral_id)
    access.require(actor, "decide", outcome)
    check_version(outcome, version, "outcome")
    OUTCOME_WORKFLOW.check(outcome, "reject")
    reason = text_of(reason)
    if not reason:
        raise ValidationFailed.single("reason", "Say why the claim is rejected, so the partner can put it right")
    OUTCOME_WORKFLOW.apply(outcome, "reject", actor, details={"referral": referral.reference, "reason": reason})
    outcome.rejection_reason = reason
    outcome_type = db.session.get(OutcomeType, outcome.outcome_type_id)
    timeline(referral, ReferralEventKind.OUTCOME, actor, f"Outcome rejected: {outcome_type.name}", {"reason": reason})
    _tell_claimant(outcome, referral, "outcome_decided")
    commit("outcome")
    return outcome


def _tell_claimant(outcome: Outcome, referral: Referral, template: str) -> None:
    notify(template, referral, referral=referral, outcome=outcome)


def credit_outcomes(actor: Any, outcome_ids: list[int], *, credit_note: str) -> None:
    """An approved credit note that takes outcomes off an invoice (and does not bill them again)
    credits them: each becomes `credited`, never billed or counted as verified again. Part of the
    approval's transaction (the caller commits)."""
    if not outcome_ids:
        return
    for outcome in db.session.scalars(
        select(Outcome)
        .where(Outcome.id.in_(outcome_ids), Outcome.status == OutcomeStatus.VERIFIED)
        .order_by(Outcome.id)
    ):
        referral = db.session.get(Referral, outcome.referral_id)
        OUTCOME_WORKFLOW.apply(
            outcome, "credit", actor, details={"referral": referral.reference, "credit_note": credit_note}
        )
        outcome_type = db.session.get(OutcomeType, outcome.outcome_type_id)
        timeline(
            referral,
            ReferralEventKind.OUTCOME,
            actor,
            f"Outcome credited: {outcome_type.name} (credit note {credit_note})",
        )
