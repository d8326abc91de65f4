"""Service returns: the partner's manager starts one for a month or a quarter, writes its narrative
and submits it (its figures are then frozen); the CRC's contract managers accept it or return it
for changes. Each is the same operation the return pages call (portal.returns.service), and the
figures and the PDF are theirs too (figures_of, service_return_pdf).

As on the pages, only partner managers (their own contracts' returns) and contract managers (their
CRC's) work with returns: anyone else is refused (403), and another partner's return is not found.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy import select
from sqlalchemy.orm import defer, joinedload

from portal import access
from portal.accounts.models import User
from portal.api import schemas
from portal.api.blueprint import api
from portal.api.contracts import find_contract
from portal.api.registry import ID, file_response, paginate
from portal.contracts.models import Contract
from portal.dates import parse_period
from portal.problems import ApiProblem
from portal.returns import service
from portal.returns.documents import service_return_pdf
from portal.returns.models import NARRATIVE_FIELDS, ServiceReturn

RETURN_PEOPLE = (ServiceReturn.submitted_by, ServiceReturn.returned_by, ServiceReturn.accepted_by)
RETURN_OPTIONS = tuple(joinedload(person) for person in RETURN_PEOPLE)
LIST_OPTIONS = (
    defer(ServiceReturn.kpis, raiseload=True),
    joinedload(ServiceReturn.contract).raiseload(Contract.crc),
    joinedload(ServiceReturn.contract).raiseload(Contract.partner),
    *(joinedload(person).raiseload(User.organisation) for person in RETURN_PEOPLE),
)
PERIOD_FORMAT = "Enter the period as a month, like 2026-05, or a quarter, like 2026-Q2"
WHO_READS = "Partner manager (own contracts), contract manager"
# The submission's complaints are about the narrative, which GET shows as `narrative`.
NARRATIVE_NAMES = {name: f"narrative.{name}" for name in NARRATIVE_FIELDS}


def _staff(user: User | None) -> schemas.StaffMember | None:
    return schemas.StaffMember(name=user.name, email=user.email) if user is not None else None


def load_return(user: User, return_id: int) -> ServiceReturn:
    """The return, if the caller may see it (else 404), and if their role works with returns (else 403)."""
    record = access.get_visible_or_404(ServiceReturn, return_id, user, options=RETURN_OPTIONS)
    access.require(user, "see", record)
    return record


def summary_fields(service_return: ServiceReturn) -> dict[str, Any]:
    period = service_return.period
    return {
        "id": service_return.id,
        "contract": service_return.contract.reference,
        "period": period.code,
        "period_kind": period.kind,
        "period_label": period.label,
        "period_start": period.start,
        "period_end": period.end,
        "status": service_return.status,
        "version": service_return.version,
        "narrative": schemas.Narrative(
            **{name: getattr(service_return, name) for name in NARRATIVE_FIELDS},
            safeguarding_concerns=service_return.safeguarding_concerns,
        ),
        "missing_narrative": service.missing_narrative(service_return) if service_return.is_editable else {},
        "return_reason": service_return.return_reason,
        "submitted_at": service_return.submitted_at,
        "submitted_by": _staff(service_return.submitted_by),
        "returned_at": service_return.returned_at,
        "returned_by": _staff(service_return.returned_by),
        "accepted_at": service_return.accepted_at,
        "accepted_by": _staff(service_return.accepted_by),
        "created_at": service_return.created_at,
        "updated_at": service_return.updated_at,
    }


def present(service_return: ServiceReturn) -> schemas.ServiceReturn:
    return schemas.ServiceReturn(
        **summary_fields(service_return),
        figures_frozen=service_return.is_frozen,
        kpis=schemas.Figures.model_validate(service.figures_of(service_return)),
    )


def return_now(user: User, return_id: int) -> schemas.ServiceReturn:
    """The return as it is now (read again after a change), with its figures."""
    return present(load_return(user, return_id))


@api.route(
    "POST",
    "/service-returns",
    body=schemas.NewServiceReturn,
    response=schemas.ServiceReturn,
    status=201,
    location=lambda result: url_for("api.get_service_return", return_id=result.id),
    errors=(403,),
    who="Partner manager",
    tag="Service returns",
    summary="Start the service return for a month or a quarter",
    description="A draft whose `kpis` are worked out from the records as they are now, until it is submitted. "
    "One return a period: a month or a quarter that has started, within the contract, that no other return "
    "of the contract covers.",
)
def create_service_return(user: User, body: schemas.NewServiceReturn) -> Any:
    access.require(user, "start_returns", Contract)
    contract = find_contract(user, body.contract)
    if contract is None:
        raise ApiProblem("validation", errors={"contract": ["Enter the reference of a contract you can see"]})
    created = service.create_return(user, contract, body.period)
    return return_now(user, created.id)


@api.route(
    "GET",
    "/service-returns",
    query=schemas.ServiceReturnQuery,
    response=schemas.ServiceReturnPage,
    errors=(403,),
    who=WHO_READS,
    tag="Service returns",
    summary="List service returns",
    description="Each with its status and narrative; get a return for its figures (`kpis`).",
)
def list_service_returns(user: User, query: schemas.ServiceReturnQuery) -> Any:
    access.require(user, "see", ServiceReturn)
    statement = access.visible(ServiceReturn, user)
    if query.status is not None:
        statement = statement.where(ServiceReturn.status == query.status)
    if query.contract is not None:
        statement = statement.where(
            ServiceReturn.contract_id.in_(
                select(Contract.id).where(Contract.reference == query.contract.strip().upper())
            )
        )
    if query.period is not None:
        period = parse_period(query.period)
        if period is None:
            raise ApiProblem("validation", errors={"period": [PERIOD_FORMAT]})
        statement = statement.where(
            ServiceReturn.period_kind == period.kind, ServiceReturn.period_start == period.start
        )
    if query.updated_since is not None:
        statement = statement.where(ServiceReturn.updated_at >= query.updated_since)
    # The summaries show no frozen figures (about 25 kB of JSON a return), nor the organisations
    # the contract and the three people would join in by default: not read, so the query joins
    # five tables, not ten (planning it took longer than running it).
    listed = statement.options(*LIST_OPTIONS)
    page = paginate(listed.order_by(ServiceReturn.id), query)
    return schemas.ServiceReturnPage(
        items=[schemas.ServiceReturnSummary(**summary_fields(item)) for item in page.items],
        page=page.page,
        per_page=page.per_page,
        total=page.total,
        next=page.next,
    )


@api.route(
    "GET",
    f"/service-returns/<{ID}:return_id>",
    load=load_return,
    response=schemas.ServiceReturn,
    errors=(403,),
    who=WHO_READS,
    tag="Service returns",
    summary="Get a service return with its figures",
    description="`kpis` holds every figure the return's PDF shows. Once submitted they are frozen "
    "(`figures_frozen`): the same whenever you read them.",
)
def get_service_return(user: User, record: ServiceReturn) -> Any:
    return present(record)


@api.route(
    "GET",
    f"/service-returns/<{ID}:return_id>.pdf",
    load=load_return,
    response=None,
    media_type="application/pdf",
    errors=(403,),
    who=WHO_READS,
    tag="Service returns",
    summary="Get a service return as PDF",
    description="The document the contract manager signs off: a submitted return is drawn from its frozen "
    "figures only, so it is the same whenever it is downloaded.",
)
def get_service_return_pdf(user: User, record: ServiceReturn) -> Any:
    return file_response(service_return_pdf(record), record.filename)


@api.route(
    "POST",
    f"/service-returns/<{ID}:return_id>/narrative",
    load=load_return,
    body=schemas.WriteNarrative,
    response=schemas.ServiceReturn,
    errors=(403, 409),
    who="Partner manager",
    tag="Service returns",
    summary="Write a service return's narrative",
    description="While the return is a draft or returned for changes. Only the fields you send change (null "
    'or "" clears one), so it can be written a part at a time; it need only be complete to submit.',
)
def write_narrative(user: User, record: ServiceReturn, body: schemas.WriteNarrative) -> Any:
    fields = body.model_dump(exclude_unset=True, exclude={"version"})
    service.update_narrative(user, record, fields, version=body.version)
    return return_now(user, record.id)


def _action(name: str, summary: str, who: str, body: type, description: str = "", **options: Any) -> Any:
    return api.route(
        "POST",
        f"/service-returns/<{ID}:return_id>/{name}",
        load=load_return,
        body=body,
        response=schemas.ServiceReturn,
        errors=(403, 409),
        who=who,
        tag="Service returns",
        summary=summary,
        description=description,
        **options,
    )


@_action(
    "submit",
    "Submit a service return",
    "Partner manager",
    schemas.ReturnAction,
    "Once the period has ended (before that, 409) and the narrative is complete (else 422, naming each "
    "`narrative.…` field still to write). The figures are worked out one last time and frozen with it.",
    body_required=False,
    rename=NARRATIVE_NAMES,
)
def submit_service_return(user: User, record: ServiceReturn, body: schemas.ReturnAction) -> Any:
    service.submit_return(user, record, version=body.version)
    return return_now(user, record.id)


@_action("accept", "Accept a service return", "Contract manager", schemas.ReturnAction, body_required=False)
def accept_service_return(user: User, record: ServiceReturn, body: schemas.ReturnAction) -> Any:
    service.accept_return(user, record, version=body.version)
    return return_now(user, record.id)


@_action(
    "return",
    "Return a service return for changes",
    "Contract manager",
    schemas.ReturnReason,
    "With the reason, which the partner is shown; they change the narrative and submit it again, when its "
    "figures are frozen afresh.",
)
def return_service_return(user: User, record: ServiceReturn, body: schemas.ReturnReason) -> Any:
    service.return_return(user, record, reason=body.reason, version=body.version)
    return return_now(user, record.id)
