"""Sessions and outcomes: partners record them at source; the CRC verifies or rejects outcome claims.

The operations are portal.delivery.sessions' and portal.delivery.outcomes', as on the referral pages.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal import access
from portal.accounts.models import User
from portal.api import schemas
from portal.api.blueprint import api
from portal.api.referrals import load_referral
from portal.api.registry import ID, paginate
from portal.contracts.models import Contract
from portal.delivery import outcomes, sessions
from portal.delivery.models import Outcome, Session
from portal.extensions import db
from portal.referrals.models import Referral

OUTCOME_OPTIONS = (joinedload(Outcome.referral), joinedload(Outcome.outcome_type))


def present_session(session: Session, reference: str) -> dict[str, Any]:
    return {
        "id": session.id,
        "referral": reference,
        "date": session.date,
        "start_time": session.start_time,
        "duration_minutes": session.duration_minutes,
        "kind": session.kind,
        "attendance": session.attendance,
        "non_attendance_reason": session.non_attendance_reason,
        "counts_as_rar_day": session.counts_as_rar_day,
        "summary": session.summary,
        "behaviour_concern": session.behaviour_concern,
        "concern_detail": session.concern_detail,
        "group_session": session.group_session_id is not None,
        "version": session.version,
        "created_at": session.created_at,
        "updated_at": session.updated_at,
    }


def present_outcome(outcome: Outcome) -> schemas.Outcome:
    return schemas.Outcome(
        id=outcome.id,
        referral=outcome.referral.reference,
        outcome_type=outcome.outcome_type.code,
        achieved_on=outcome.achieved_on,
        evidence=outcome.evidence,
        status=outcome.status,
        claimed_at=outcome.claimed_at,
        verified_at=outcome.verified_at,
        rejected_at=outcome.rejected_at,
        rejection_reason=outcome.rejection_reason,
        version=outcome.version,
        created_at=outcome.created_at,
        updated_at=outcome.updated_at,
    )


def load_outcome(user: User, outcome_id: int) -> Outcome:
    return access.get_visible_or_404(Outcome, outcome_id, user, options=OUTCOME_OPTIONS)


def outcome_now(user: User, outcome_id: int) -> schemas.Outcome:
    return present_outcome(load_outcome(user, outcome_id))


# --- sessions ------------------------------------------------------------------------------------------


@api.route(
    "POST",
    "/referrals/<reference>/sessions",
    load=load_referral,
    body=schemas.NewSession,
    response=schemas.RecordedSession,
    status=201,
    errors=(403, 409),
    who="Partner users",
    tag="Sessions",
    summary="Record a session (or schedule one)",
    description="Without `attendance` the session is scheduled; with it, the session has happened. The first "
    "attended session is the referral's first contact. An unacceptable absence or a behaviour concern alerts "
    "the referrer. A session that overlaps another session of the same person with your organisation is "
    "refused with 409 (`conflict`), naming the other session in `errors.start_time`.",
)
def record_session(user: User, record: Referral, body: schemas.NewSession) -> Any:
    reference = record.reference
    recorded = sessions.record_session(user, record, body.model_dump())
    session = db.session.get(Session, recorded.record.id)
    return schemas.RecordedSession(**present_session(session, reference), warnings=recorded.warnings)


@api.route(
    "GET",
    "/referrals/<reference>/sessions",
    load=load_referral,
    query=schemas.SyncQuery,
    response=schemas.SessionPage,
    who="Everyone",
    tag="Sessions",
    summary="List a referral's sessions",
    description="In the order they happen: by date and start time.",
)
def list_sessions(user: User, record: Referral, query: schemas.SyncQuery) -> Any:
    statement = access.visible(Session, user).where(Session.referral_id == record.id)
    if query.updated_since is not None:
        statement = statement.where(Session.updated_at >= query.updated_since)
    page = paginate(statement.order_by(Session.date, Session.start_time, Session.id), query)
    return schemas.SessionPage(
        items=[schemas.Session(**present_session(session, record.reference)) for session in page.items],
        page=page.page,
        per_page=page.per_page,
        total=page.total,
        next=page.next,
    )


# --- outcomes ----------------------------------------------------------------------------------------------


@api.route(
    "POST",
    "/referrals/<reference>/outcomes",
    load=load_referral,
    body=schemas.NewOutcome,
    response=schemas.Outcome,
    status=201,
    location=lambda result: url_for("api.get_outcome", outcome_id=result.id),
    errors=(403, 409),
    rename={"outcome_type_id": "outcome_type"},
    who="Partner users",
    tag="Outcomes",
    summary="Claim an outcome",
    description="The claim's status is `claimed` until the CRC verifies or rejects it. Only verified "
    "outcomes are billed.",
)
def claim_outcome(user: User, record: Referral, body: schemas.NewOutcome) -> Any:
    outcome = outcomes.claim_outcome(user, record, body.model_dump())
    return outcome_now(user, outcome.id)


@api.route(
    "GET",
    "/referrals/<reference>/outcomes",
    load=load_referral,
    query=schemas.SyncQuery,
    response=schemas.OutcomePage,
    who="Everyone",
    tag="Outcomes",
    summary="List a referral's outcome claims",
)
def list_referral_outcomes(user: User, record: Referral, query: schemas.SyncQuery) -> Any:
    statement = access.visible(Outcome, user).where(Outcome.referral_id == record.id)
    return _outcome_page(statement, query)


@api.route(
    "GET",
    "/outcomes",
    query=schemas.OutcomeQuery,
    response=schemas.OutcomePage,
    who="Everyone",
    tag="Outcomes",
    summary="List outcome claims",
    description="For example `?status=claimed`: the claims waiting for the CRC's decision.",
)
def list_outcomes(user: User, query: schemas.OutcomeQuery) -> Any:
    statement = access.visible(Outcome, user)
    if query.status is not None:
        statement = statement.where(Outcome.status == query.status)
    if query.referral is not None:
        statement = statement.where(
            Outcome.referral_id.in_(select(Referral.id).where(Referral.reference == query.referral.strip().upper()))
        )
    if query.contract is not None:
        statement = statement.where(
            Outcome.referral_id.in_(
                select(Referral.id)
                .join(Contract, Contract.id == Referral.contract_id)
                .where(Contract.reference == query.contract.strip().upper())
            )
        )
    return _outcome_page(statement, query)


def _outcome_page(statement: Any, query: schemas.SyncQuery) -> Any:
    if query.updated_since is not None:
        statement = statement.where(Outcome.updated_at >= query.updated_since)
    page = paginate(statement.options(*OUTCOME_OPTIONS).order_by(Outcome.id), query)
    return schemas.OutcomePage(
        items=[present_outcome(outcome) for outcome in page.items],
        page=page.page,
        per_page=page.per_page,
        total=page.total,
        next=page.next,
    )


@api.route(
    "GET",
    f"/outcomes/<{ID}:outcome_id>",
    load=load_outcome,
    response=schemas.Outcome,
    who="Everyone",
    tag="Outcomes",
    summary="Get an outcome claim",
)
def get_outcome(user: User, record: Outcome) -> Any:
    return present_outcome(record)


@api.route(
    "POST",
    f"/outcomes/<{ID}:outcome_id>/verify",
    load=load_outcome,
    body=schemas.VerifyOutcome,
    body_required=False,
    response=schemas.Outcome,
    errors=(403, 409),
    who="CRC referrer, contract manager",
    tag="Outcomes",
    summary="Verify an outcome claim",
    description='The body is optional: send `{"version": N}` to guard against changes since you read it.',
)
def verify_outcome(user: User, record: Outcome, body: schemas.VerifyOutcome) -> Any:
    outcomes.verify_outcome(user, record, version=body.version)
    return outcome_now(user, record.id)


@api.route(
    "POST",
    f"/outcomes/<{ID}:outcome_id>/reject",
    load=load_outcome,
    body=schemas.RejectOutcome,
    response=schemas.Outcome,
    errors=(403, 409),
    who="CRC referrer, contract manager",
    tag="Outcomes",
    summary="Reject an outcome claim",
    description="With the reason, which the partner is told, so they can put the claim right.",
)
def reject_outcome(user: User, record: Outcome, body: schemas.RejectOutcome) -> Any:
    outcomes.reject_outcome(user, record, reason=body.reason, version=body.version)
    return outcome_now(user, record.id)
