"""Safeguarding concerns: the partner raises them on a referral; the referrer acknowledges and closes
them. Each call is the operation the pages call (portal.safeguarding.service)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import url_for
from pydantic import AwareDatetime, ConfigDict, Field
from sqlalchemy.orm import joinedload

from portal import access
from portal.accounts.models import User
from portal.api import schemas
from portal.api.blueprint import api
from portal.api.referrals import load_referral
from portal.api.registry import ID, paginate
from portal.referrals.models import Referral
from portal.safeguarding import risk, service
from portal.safeguarding.models import (
    RISK_FIELDS,
    AtRisk,
    CheckStatus,
    ConcernCategory,
    ConcernOutcome,
    ConcernStatus,
    RiskSummary,
    SafeguardingConcern,
    Urgency,
)

CONCERN_OPTIONS = (
    joinedload(SafeguardingConcern.referral),
    joinedload(SafeguardingConcern.raised_by),
    joinedload(SafeguardingConcern.acknowledged_by),
    joinedload(SafeguardingConcern.closed_by),
    joinedload(SafeguardingConcern.escalated_to),
)

# A referral's list: each concern's referral is the one the route loaded, found in the session rather
# than joined again, and of the people only who raised it is shown (the other three users, each with
# their organisation, made the query join eleven tables).
LIST_OPTIONS = (joinedload(SafeguardingConcern.raised_by),)


class NewConcern(schemas.Body):
    category: ConcernCategory
    what_happened: str = Field(description="What happened, and who is at risk.")
    urgency: Urgency = Field(description="`urgent`: acknowledged within 4 working hours; `standard`: within 8.")
    told_mash: bool = False
    told_police: bool = False
    told_responsible_officer: bool = False
    told_at: AwareDatetime | None = Field(None, description="When you told them (needed if you told anyone).")
    rosh_high: bool = Field(
        False,
        description="The risk of serious harm is now high: the referral is withdrawn at once "
        "(reason `transferred_to_nps`) and its sessions booked ahead are cancelled.",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "category": "child_protection",
                    "what_happened": "Said a child was left alone overnight.",
                    "urgency": "urgent",
                    "told_mash": True,
                    "told_at": "2026-10-14T10:30:00+01:00",
                }
            ]
        }
    )


class AcknowledgeConcern(schemas.Body):
    version: schemas.Version = None


class CloseConcern(schemas.Body):
    outcome: ConcernOutcome
    outcome_detail: str = Field(description="What was done about the concern (the partner reads it).")
    version: schemas.Version = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"outcome": "risk_plan_updated", "outcome_detail": "Risk plan updated; MASH informed."}]
        }
    )


class Concern(schemas.Out):
    id: int
    referral: str
    status: ConcernStatus
    category: ConcernCategory
    urgency: Urgency
    what_happened: str
    told_mash: bool
    told_police: bool
    told_responsible_officer: bool
    told_at: schemas.Timestamp | None
    rosh_high: bool
    raised_at: schemas.Timestamp
    raised_by: schemas.StaffMember
    acknowledge_due_at: schemas.Timestamp = Field(description="The deadline, in working hours from raising.")
    acknowledged_at: schemas.Timestamp | None
    escalated_at: schemas.Timestamp | None
    closed_at: schemas.Timestamp | None
    outcome: ConcernOutcome | None
    outcome_detail: str | None
    version: int


ConcernPage = schemas.page_of(Concern, "SafeguardingConcernPage")


def _staff(user: User) -> schemas.StaffMember:
    return schemas.StaffMember(name=user.name, email=user.email)


def present(concern: SafeguardingConcern) -> Concern:
    return Concern(
        id=concern.id,
        referral=concern.referral.reference,
        status=concern.status,
        category=concern.category,
        urgency=concern.urgency,
        what_happened=concern.what_happened,
        told_mash=concern.told_mash,
        told_police=concern.told_police,
        told_responsible_officer=concern.told_responsible_officer,
        told_at=concern.told_at,
        rosh_high=concern.rosh_high,
        raised_at=concern.raised_at,
        raised_by=_staff(concern.raised_by),
        acknowledge_due_at=concern.acknowledge_due_at,
        acknowledged_at=concern.acknowledged_at,
        escalated_at=concern.escalated_at,
        closed_at=concern.closed_at,
        outcome=concern.outcome,
        outcome_detail=concern.outcome_detail,
        version=concern.version,
    )


def load_concern(user: User, concern_id: int) -> SafeguardingConcern:
    return access.get_visible_or_404(SafeguardingConcern, concern_id, user, options=CONCERN_OPTIONS)


def concern_now(user: User, concern_id: int) -> Concern:
    from portal.extensions import db

    db.session.expire_all()
    return present(load_concern(user, concern_id))


@api.route(
    "POST",
    "/referrals/<reference>/concerns",
    load=load_referral,
    body=NewConcern,
    response=Concern,
    status=201,
    errors=(403, 409),
    who="Partner users",
    tag="Safeguarding",
    summary="Raise a safeguarding concern",
    description="The referrer is told at once and must acknowledge it within the urgency's working hours "
    "(09:00 to 17:00, working days); if not, it is escalated to their team manager. The referral cannot be "
    "completed while a concern on it is not closed.",
    location=lambda concern: url_for("api.get_concern", concern_id=concern.id),
)
def raise_concern(user: User, record: Referral, body: NewConcern) -> Any:
    concern = service.raise_concern(user, record, body.model_dump())
    return concern_now(user, concern.id)


@api.route(
    "GET",
    "/referrals/<reference>/concerns",
    load=load_referral,
    query=schemas.PageQuery,
    response=ConcernPage,
    who="Everyone",
    tag="Safeguarding",
    summary="List a referral's safeguarding concerns",
)
def list_concerns(user: User, record: Referral, query: schemas.PageQuery) -> Any:
    statement = (
        access.visible(SafeguardingConcern, user)
        .where(SafeguardingConcern.referral_id == record.id)
        .options(*LIST_OPTIONS)
        .order_by(SafeguardingConcern.id)
    )
    page = paginate(statement, query)
    return ConcernPage(
        items=[present(concern) for concern in page.items],
        page=page.page,
        per_page=page.per_page,
        total=page.total,
        next=page.next,
    )


@api.route(
    "GET",
    f"/concerns/<{ID}:concern_id>",
    load=load_concern,
    response=Concern,
    who="Everyone",
    tag="Safeguarding",
    summary="Get a safeguarding concern",
)
def get_concern(user: User, record: SafeguardingConcern) -> Any:
    return present(record)


@api.route(
    "POST",
    f"/concerns/<{ID}:concern_id>/acknowledge",
    load=load_concern,
    body=AcknowledgeConcern,
    body_required=False,
    response=Concern,
    errors=(403, 409),
    who="CRC referrer",
    tag="Safeguarding",
    summary="Acknowledge a safeguarding concern",
)
def acknowledge_concern(user: User, record: SafeguardingConcern, body: AcknowledgeConcern) -> Any:
    service.acknowledge_concern(user, record, version=body.version)
    return concern_now(user, record.id)


@api.route(
    "POST",
    f"/concerns/<{ID}:concern_id>/close",
    load=load_concern,
    body=CloseConcern,
    response=Concern,
    errors=(403, 409),
    who="CRC referrer",
    tag="Safeguarding",
    summary="Close a safeguarding concern with its outcome",
    description="Only an acknowledged concern can be closed (409 otherwise).",
)
def close_concern(user: User, record: SafeguardingConcern, body: CloseConcern) -> Any:
    service.close_concern(user, record, outcome=body.outcome, detail=body.outcome_detail, version=body.version)
    return concern_now(user, record.id)


# --- risk that travels --------------------------------------------------------------------------------


class NewRiskSummary(schemas.RiskDetailsIn):
    reason: str | None = Field(None, description="Why it is amended: needed once a version exists.")
    based_on: int | None = Field(
        None, description="The `number` of the version you read: if it has been amended since, 409."
    )


class RiskSummaryOut(schemas.Out):
    number: int = Field(description="1 for the first version; the highest is the current one.")
    recorded_at: schemas.Timestamp
    recorded_by: schemas.StaffMember
    reason: str | None
    at_risk: list[AtRisk]
    nature: str
    when_greatest: str | None
    protective_factors: str | None
    police_da_check: CheckStatus
    police_da_check_on: date | None
    childrens_services_check: CheckStatus
    childrens_services_check_on: date | None
    mappa: bool
    iom: bool
    lone_working_restrictions: str | None


class RiskSummaryHistory(schemas.Out):
    referral: str
    current: RiskSummaryOut | None
    versions: list[RiskSummaryOut] = Field(description="Every version, newest first.")


def _risk_out(version: RiskSummary) -> RiskSummaryOut:
    return RiskSummaryOut(
        recorded_by=_staff(version.recorded_by),
        **{name: getattr(version, name) for name in ("number", "recorded_at", "reason", *RISK_FIELDS)},
    )


def _history(user: User, referral: Referral) -> RiskSummaryHistory:
    from portal.extensions import db

    db.session.expire_all()
    versions = db.session.scalars(
        access.visible(RiskSummary, user)
        .where(RiskSummary.referral_id == referral.id)
        .options(joinedload(RiskSummary.recorded_by))
        .order_by(RiskSummary.number.desc())
    ).all()
    out = [_risk_out(version) for version in versions]
    return RiskSummaryHistory(referral=referral.reference, current=out[0] if out else None, versions=out)


@api.route(
    "GET",
    "/referrals/<reference>/risk-summary",
    load=load_referral,
    response=RiskSummaryHistory,
    who="Everyone",
    tag="Safeguarding",
    summary="Read a referral's structured risk summary and its history",
)
def get_risk_summary(user: User, record: Referral) -> Any:
    return _history(user, record)


@api.route(
    "POST",
    "/referrals/<reference>/risk-summary",
    load=load_referral,
    body=NewRiskSummary,
    response=RiskSummaryHistory,
    status=201,
    errors=(403, 409),
    who="CRC referrer",
    tag="Safeguarding",
    summary="Record or amend a referral's structured risk summary",
    description="Each call records a new version (the earlier ones are kept); an amendment needs `reason`, "
    "and the partner is told.",
)
def record_risk_summary(user: User, record: Referral, body: NewRiskSummary) -> Any:
    fields = body.model_dump(exclude={"reason", "based_on"})
    risk.record_risk_summary(user, record, fields, reason=body.reason, based_on=body.based_on)
    return _history(user, record)
