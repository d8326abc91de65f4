"""Referrals: send (CRC), list and read (everyone), accept, decline and complete (partner), withdraw (CRC).

Each action is one call to the same operation the referral pages call (portal.referrals.service,
portal.delivery.end_of_service); this module only maps JSON to its arguments and back.
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
from portal.api.contracts import find_contract
from portal.api.registry import paginate
from portal.audit.service import record_read
from portal.contracts.models import Contract
from portal.delivery import end_of_service
from portal.delivery.models import EndOfServiceReport
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.referrals import service, validation
from portal.referrals.models import Referral, ReferralStatus

REFERRAL_OPTIONS = (
    joinedload(Referral.contract),
    joinedload(Referral.person),
    joinedload(Referral.referrer),
    joinedload(Referral.caseworker),
)
# The services' names for the body's fields, where the body nests or names them differently.
REFERRAL_FIELDS = {
    "contract_id": "contract",
    **{field: f"person.{field}" for field in validation.PERSON_FIELDS},
    "location_type": "location.type",
    **{field: f"location.{field}" for field in validation.LOCATION_FIELDS if field != "location_type"},
}


def load_referral(user: User, reference: str) -> Referral:
    """The sent referral with this reference, if the caller may see it; else 404."""
    return access.get_visible_or_404(
        Referral, reference.strip().upper(), user, column=Referral.reference, options=REFERRAL_OPTIONS
    )


def _staff(user: User | None) -> schemas.StaffMember | None:
    return schemas.StaffMember(name=user.name, email=user.email) if user is not None else None


def present(referral: Referral) -> dict[str, Any]:
    return {
        "reference": referral.reference,
        "status": referral.status,
        "version": referral.version,
        "contract": referral.contract.reference,
        "service_code": referral.service_code,
        "person": schemas.Person.model_validate(referral.person),
        "location": schemas.Location(
            type=referral.location_type,
            prison=referral.prison,
            expected_release_date=referral.expected_release_date,
            reception_date=referral.reception_date,
            release_type=referral.release_type,
            community_office=referral.community_office,
            postcode=referral.postcode,
            contact_details=referral.contact_details,
        ),
        "rosh_level": referral.rosh_level,
        "risk_flags": referral.risk_flags or [],
        "risk_summary": referral.risk_summary,
        "complexity": referral.complexity,
        "desired_outcomes": referral.desired_outcomes or [],
        "reason": referral.reason,
        "rar_days": referral.rar_days,
        "sentence_end_date": referral.sentence_end_date,
        "urgent": referral.urgent,
        "reoffending": referral.reoffending,
        "c2c": referral.c2c,
        "colour_band": referral.colour_band,
        "colour_band_reason": referral.colour_band_reason,
        "referrer": _staff(referral.referrer),
        "caseworker": _staff(referral.caseworker),
        "sent_at": referral.sent_at,
        "accept_due_on": referral.accept_due_on,
        "accepted_at": referral.accepted_at,
        "first_contact_due_on": referral.first_contact_due_on,
        "first_contact_at": referral.first_contact_at,
        "declined_at": referral.declined_at,
        "decline_reason_code": referral.decline_reason,
        "decline_detail": referral.decline_detail,
        "withdrawn_at": referral.withdrawn_at,
        "withdraw_reason_code": referral.withdraw_reason,
        "withdraw_detail": referral.withdraw_detail,
        "completed_at": referral.completed_at,
        "created_at": referral.created_at,
        "updated_at": referral.updated_at,
    }


def referral_with_report(user: User, reference: str) -> schemas.ReferralWithReport:
    """The referral as it is now (read again after a change), with its end-of-service report."""
    referral = load_referral(user, reference)
    report = db.session.scalars(
        access.visible(EndOfServiceReport, user).where(EndOfServiceReport.referral_id == referral.id)
    ).first()
    return schemas.ReferralWithReport(
        **present(referral),
        end_of_service_report=schemas.EndOfServiceReport.model_validate(report) if report else None,
    )


def _location(result: Any) -> str:
    return url_for("api.get_referral", reference=result.reference)


# --- sending, listing, reading ------------------------------------------------------------------------


@api.route(
    "POST",
    "/referrals",
    body=schemas.NewReferral,
    response=schemas.ReferralWithReport,
    status=201,
    location=_location,
    errors=(403,),
    rename=REFERRAL_FIELDS,
    who="CRC referrer (and contract managers, as with the bulk import)",
    tag="Referrals",
    summary="Send a referral",
    description="Every field is checked as the referral pages check it, all at once; the referral is sent "
    "to the partner, who is told, and its accept-by clock starts.",
)
def send_referral(user: User, body: schemas.NewReferral) -> Any:
    contract = find_contract(user, body.contract)
    location = body.location
    fields = {
        "contract_id": contract.id if contract else None,
        "service_code": body.service_code,
        "service": body.service,
        **body.person.model_dump(),
        "location_type": location.type,
        "prison": location.prison,
        "expected_release_date": location.expected_release_date,
        "reception_date": location.reception_date,
        "release_type": location.release_type,
        "community_office": location.community_office,
        "postcode": location.postcode,
        "contact_details": location.contact_details,
        **body.model_dump(exclude={"contract", "service_code", "service", "person", "location", "risk_details"}),
    }
    if body.risk_details is None:
        referral = service.create_and_send(user, fields)
        return referral_with_report(user, referral.reference)
    from portal.persistence import commit
    from portal.safeguarding import risk

    details = body.risk_details.model_dump()
    try:  # checked first, so a referral is never sent with a risk summary that fails
        risk.check_risk_details(details)
    except ValidationFailed as failure:
        raise ValidationFailed({f"risk_details.{key}": value for key, value in failure.errors.items()}) from None
    referral = service.create_and_send(user, fields, save=False)
    risk.record_risk_summary(user, referral, details, save=False)
    commit("referral")
    return referral_with_report(user, referral.reference)


@api.route(
    "GET",
    "/referrals",
    query=schemas.ReferralQuery,
    response=schemas.ReferralPage,
    who="Everyone",
    tag="Referrals",
    summary="List referrals",
    description="A partner sees the referrals sent on its contracts; the CRC sees those it sent.",
)
def list_referrals(user: User, query: schemas.ReferralQuery) -> Any:
    statement = access.visible(Referral, user).where(Referral.status != ReferralStatus.DRAFT)
    if query.status is not None:
        statement = statement.where(Referral.status == query.status)
    if query.contract is not None:
        statement = statement.where(
            Referral.contract_id.in_(select(Contract.id).where(Contract.reference == query.contract.strip().upper()))
        )
    if query.service_code is not None:
        statement = statement.where(Referral.service_code == query.service_code.strip().upper())
    if query.updated_since is not None:
        statement = statement.where(Referral.updated_at >= query.updated_since)
    # The page's ids are chosen first (from an index), then only those rows are read with what
    # they show joined: joined before the page was chosen, every matching referral was joined.
    statement = statement.options(*REFERRAL_OPTIONS).execution_options(seek_ids_first=True)
    page = paginate(statement.order_by(Referral.id), query)
    answer = schemas.ReferralPage(
        items=[schemas.Referral(**present(referral)) for referral in page.items],
        page=page.page,
        per_page=page.per_page,
        total=page.total,
        next=page.next,
    )
    # After the answer is built, so committing the audit event reloads nothing.
    record_read(user, "referrals.listed", details={"via": "api", "references": [r.reference for r in answer.items]})
    return answer


@api.route(
    "GET",
    "/referrals/<reference>",
    load=load_referral,
    response=schemas.ReferralWithReport,
    who="Everyone",
    tag="Referrals",
    summary="Get a referral",
    description="With its risk information, its `version` (send it back to guard against changes made "
    "since you read it) and, once complete, its end-of-service report.",
)
def get_referral(user: User, record: Referral) -> Any:
    referral_id = record.id
    answer = referral_with_report(user, record.reference)
    record_read(user, "referral.viewed", record_type="referral", record_id=referral_id, details={"via": "api"})
    return answer


# --- the partner's answer, withdrawing, completing ---------------------------------------------------------


@api.route(
    "POST",
    "/referrals/<reference>/accept",
    load=load_referral,
    body=schemas.AcceptReferral,
    response=schemas.ReferralWithReport,
    errors=(403, 409),
    rename={"caseworker": "caseworker_email"},
    who="Partner manager",
    tag="Referrals",
    summary="Accept a referral",
    description="Only with `risk_information_read: true`: you confirm you have read the risk information "
    "(recorded with your name). Optionally names the caseworker who will hold the case.",
)
def accept_referral(user: User, record: Referral, body: schemas.AcceptReferral) -> Any:
    service.accept_referral(
        user,
        record,
        risk_information_read=body.risk_information_read,
        caseworker=body.caseworker_email,
        version=body.version,
    )
    return referral_with_report(user, record.reference)


@api.route(
    "POST",
    "/referrals/<reference>/decline",
    load=load_referral,
    body=schemas.DeclineReferral,
    response=schemas.ReferralWithReport,
    errors=(403, 409),
    who="Partner manager",
    tag="Referrals",
    summary="Decline a referral",
)
def decline_referral(user: User, record: Referral, body: schemas.DeclineReferral) -> Any:
    service.decline_referral(user, record, reason_code=body.reason_code, detail=body.detail, version=body.version)
    return referral_with_report(user, record.reference)


@api.route(
    "POST",
    "/referrals/<reference>/withdraw",
    load=load_referral,
    body=schemas.WithdrawReferral,
    response=schemas.ReferralWithReport,
    errors=(403, 409),
    who="CRC referrer",
    tag="Referrals",
    summary="Withdraw a referral",
)
def withdraw_referral(user: User, record: Referral, body: schemas.WithdrawReferral) -> Any:
    service.withdraw_referral(user, record, reason_code=body.reason_code, detail=body.detail, version=body.version)
    return referral_with_report(user, record.reference)


@api.route(
    "POST",
    "/referrals/<reference>/complete",
    load=load_referral,
    body=schemas.CompleteReferral,
    response=schemas.ReferralWithReport,
    errors=(403, 409),
    who="Partner users (as on the end-of-service report page)",
    tag="Referrals",
    summary="Complete a referral with its end-of-service report",
    description="Say how each of the referral's desired outcomes went; the referral is then completed "
    "and the referrer told.",
)
def complete_referral(user: User, record: Referral, body: schemas.CompleteReferral) -> Any:
    end_of_service.complete_referral(
        user,
        record,
        summary=body.summary,
        outcomes=[outcome.model_dump() for outcome in body.outcomes],
        further_needs=body.further_needs,
        version=body.version,
    )
    return referral_with_report(user, record.reference)
