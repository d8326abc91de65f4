"""Grants and expected volumes: a grant's schedule (read by all who see the contract, added to by
the contract manager), its grant payments (raised by the partner's manager, decided and paid by the
contract manager, with the PDF), grant-funded activity recorded without a referral, and a
contract's expected starts and spend profile with where it stands to date (read-only). The same
service functions as the pages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from portal import access
from portal.accounts.models import User
from portal.api import grant_schemas as schemas
from portal.api.blueprint import api
from portal.api.contracts import load_contract
from portal.api.registry import ID, file_response, paginate
from portal.contracts.models import Contract, ContractTier
from portal.dates import london_today
from portal.errors import NotFound
from portal.extensions import db
from portal.grants import activity as activity_service
from portal.grants import service, volumes
from portal.grants.models import GrantActivity, GrantInstalment, GrantPaymentStatus
from portal.grants.views import grant_payment_pdf, pdf_filename
from portal.grants.volume_views import to_date
from portal.invoicing import einvoice


def load_payment(user: User, payment_id: int) -> GrantInstalment:
    return access.get_visible_or_404(GrantInstalment, payment_id, user)


def load_grant(user: User, reference: str) -> Contract:
    contract = load_contract(user, reference)
    if contract.tier != ContractTier.GRANT:
        raise NotFound
    return contract


def present(
    instalment: GrantInstalment, contract: Contract | None = None, returns: service.Returns | None = None
) -> schemas.GrantPayment:
    contract = contract or db.session.get(Contract, instalment.contract_id)
    reason = None if instalment.is_raised else service.why_not_released(contract, instalment, london_today(), returns)
    return schemas.GrantPayment(
        id=instalment.id,
        contract=contract.reference,
        number=instalment.number,
        status=instalment.status,
        period_start=instalment.period_start,
        period_end=instalment.period_end,
        timing=instalment.timing,
        needs_accepted_return=instalment.needs_accepted_return,
        amount_pence=instalment.amount_pence,
        due_on=instalment.due_on,
        raise_from=service.raise_from(contract, instalment),
        released=not instalment.is_raised and reason is None,
        not_released_because=reason,
        payment_due_on=instalment.payment_due_on,
        submitted_at=instalment.submitted_at,
        approved_at=instalment.approved_at,
        paid_on=instalment.paid_on,
        payment_reference=instalment.payment_reference,
        query_reason=instalment.query_reason,
        rejection_reason=instalment.rejection_reason,
        replaces_id=instalment.replaces_id,
        version=instalment.version,
        created_at=instalment.created_at,
        updated_at=instalment.updated_at,
    )


def _schedule(contract: Contract) -> schemas.GrantSchedule:
    instalments = service.schedule_of(contract)
    returns = service.accepted_returns([contract.id])[contract.id]
    return schemas.GrantSchedule(
        contract=contract.reference,
        value_cap_pence=contract.value_cap_pence,
        scheduled_pence=sum(i.amount_pence for i in instalments if i.status != GrantPaymentStatus.REJECTED),
        paid_pence=service.paid_to_date_pence(contract),
        instalments=[present(i, contract, returns) for i in instalments],
    )


@api.route(
    "GET",
    "/contracts/<reference>/grant-schedule",
    load=load_grant,
    response=schemas.GrantSchedule,
    who="All who see the contract (a grant)",
    tag="Grants",
    summary="Read a grant's schedule of instalments",
    description="Each instalment with its state: scheduled (with the day it may be raised, and whether it is "
    "released), or the grant payment it was raised as. A contract that is not a grant is not found.",
)
def get_grant_schedule(user: User, record: Contract) -> Any:
    return _schedule(record)


@api.route(
    "POST",
    "/contracts/<reference>/grant-schedule",
    load=load_grant,
    body=schemas.NewInstalment,
    response=schemas.GrantPayment,
    status=201,
    errors=(403, 409),
    who="Contract manager",
    tag="Grants",
    summary="Add an instalment to a grant's schedule",
    description="In advance: due on or before the period's first day; in arrears: after its last day. Periods "
    "may not overlap, must be within the contract, and the schedule may not pass the value cap. A grant already "
    "invoiced from its rate card cannot take a schedule.",
)
def add_grant_instalment(user: User, record: Contract, body: schemas.NewInstalment) -> Any:
    instalment = service.add_instalment(
        user,
        record,
        service.InstalmentFields(
            body.period_start,
            body.period_end,
            body.due_on,
            body.amount_pence,
            body.timing.value,
            body.needs_accepted_return,
        ),
    )
    return present(instalment, record)


@api.route(
    "GET",
    "/grant-payments",
    query=schemas.GrantPaymentQuery,
    response=schemas.GrantPaymentPage,
    who="Partner (own), CRC",
    tag="Grants",
    summary="List grant instalments and payments",
)
def list_grant_payments(user: User, query: schemas.GrantPaymentQuery) -> Any:
    statement = access.visible(GrantInstalment, user)
    if query.status is not None:
        statement = statement.where(GrantInstalment.status == query.status)
    if query.contract is not None:
        statement = statement.where(
            GrantInstalment.contract_id.in_(
                select(Contract.id).where(Contract.reference == query.contract.strip().upper())
            )
        )
    if query.updated_since is not None:
        statement = statement.where(GrantInstalment.updated_at >= query.updated_since)
    page = paginate(statement.order_by(GrantInstalment.id), query)
    contracts = {
        c.id: c
        for c in db.session.scalars(select(Contract).where(Contract.id.in_({i.contract_id for i in page.items})))
    }
    returns = service.accepted_returns(list(contracts))
    return schemas.GrantPaymentPage(
        items=[present(i, contracts[i.contract_id], returns[i.contract_id]) for i in page.items],
        page=page.page,
        per_page=page.per_page,
        total=page.total,
        next=page.next,
    )


@api.route(
    "GET",
    f"/grant-payments/<{ID}:payment_id>",
    load=load_payment,
    response=schemas.GrantPayment,
    who="Partner (own), CRC",
    tag="Grants",
    summary="Get a grant instalment or payment",
)
def get_grant_payment(user: User, record: GrantInstalment) -> Any:
    return present(record)


@api.route(
    "GET",
    f"/grant-payments/<{ID}:payment_id>.pdf",
    load=load_payment,
    response=None,
    media_type="application/pdf",
    who="Partner (own), CRC",
    tag="Grants",
    summary="Get a grant payment as PDF",
)
def get_grant_payment_pdf(user: User, record: GrantInstalment) -> Any:
    return file_response(grant_payment_pdf(record), pdf_filename(record))


@api.route(
    "GET",
    f"/grant-payments/<{ID}:payment_id>.xml",
    load=load_payment,
    response=None,
    media_type="application/xml",
    errors=(409,),
    who="Partner (own), CRC",
    tag="Grants",
    summary="Get a grant payment as a UBL 2.1 e-invoice",
    description="A raised grant payment as a UBL 2.1 Invoice (type 380) following PEPPOL BIS Billing 3.0, so "
    "accounts payable takes it as it takes invoices: one line, the instalment, outside the scope of VAT (category "
    "O), with the bank account it was raised with. An instalment not yet raised has none (409), nor has one whose "
    "partner or CRC has no VAT number or PEPPOL participant ID (409 saying which).",
)
def get_grant_payment_xml(user: User, record: GrantInstalment) -> Any:
    return file_response(einvoice.grant_payment_document(record), f"{record.number}.xml", "application/xml")


def _action(name: str, summary: str, who: str, body: type, description: str = "", **options: Any) -> Any:
    return api.route(
        "POST",
        f"/grant-payments/<{ID}:payment_id>/{name}",
        load=load_payment,
        body=body,
        response=schemas.GrantPayment,
        errors=(403, 409),
        who=who,
        tag="Grants",
        summary=summary,
        description=description,
        **options,
    )


@_action(
    "submit",
    "Raise an instalment as a grant payment, or resubmit a queried one",
    "Partner manager",
    schemas.GrantPaymentAction,
    "Raising takes the partner's next invoice number. An instalment not yet released is refused (409).",
    body_required=False,
)
def submit_grant_payment(user: User, record: GrantInstalment, body: schemas.GrantPaymentAction) -> Any:
    return present(service.submit_payment(user, record, version=body.version))


@_action("approve", "Approve a grant payment", "Contract manager", schemas.GrantPaymentAction, body_required=False)
def approve_grant_payment(user: User, record: GrantInstalment, body: schemas.GrantPaymentAction) -> Any:
    return present(service.approve_payment(user, record, version=body.version))


@_action("query", "Query a grant payment", "Contract manager", schemas.GrantPaymentReason)
def query_grant_payment(user: User, record: GrantInstalment, body: schemas.GrantPaymentReason) -> Any:
    return present(service.query_payment(user, record, reason=body.reason, version=body.version))


@_action("reject", "Reject a grant payment", "Contract manager", schemas.GrantPaymentReason)
def reject_grant_payment(user: User, record: GrantInstalment, body: schemas.GrantPaymentReason) -> Any:
    return present(service.reject_payment(user, record, reason=body.reason, version=body.version))


@_action("mark-paid", "Mark a grant payment paid", "Contract manager", schemas.GrantPaymentPaid)
def mark_grant_payment_paid(user: User, record: GrantInstalment, body: schemas.GrantPaymentPaid) -> Any:
    return present(
        service.mark_paid(
            user, record, paid_on=body.paid_on, payment_reference=body.payment_reference, version=body.version
        )
    )


@api.route(
    "POST",
    f"/grant-payments/<{ID}:payment_id>/replace",
    load=load_payment,
    body=schemas.GrantPaymentReplacement,
    response=schemas.GrantPayment,
    status=201,
    errors=(403, 409),
    rename={"amount": "amount_pence"},
    who="Contract manager, partner manager",
    tag="Grants",
    summary="Replace a rejected grant payment",
    description="Puts a new instalment on the schedule for the rejected payment's period; the rejected one "
    "is kept as it was. The contract manager may give another amount or due date; the partner's manager "
    "replaces it as scheduled (an amount or due date is then a 422). Not rejected, or already replaced: 409.",
    body_required=False,
)
def replace_grant_payment(user: User, record: GrantInstalment, body: schemas.GrantPaymentReplacement) -> Any:
    return present(
        service.replace_rejected(user, record, amount_pence=body.amount_pence, due_on=body.due_on, version=body.version)
    )


def _activity(record: GrantActivity, contract: Contract) -> schemas.Activity:
    return schemas.Activity(
        id=record.id,
        contract=contract.reference,
        date=record.day,
        kind=record.kind,
        attendees=record.attendees,
        duration_minutes=record.duration_minutes,
        description=record.description,
        created_at=record.created_at,
    )


@api.route(
    "GET",
    "/contracts/<reference>/grant-activity",
    load=load_grant,
    response=schemas.Activities,
    who="All who see the contract (a grant)",
    tag="Grants",
    summary="List grant-funded activity (drop-ins and group work without a referral)",
)
def list_grant_activity(user: User, record: Contract) -> Any:
    return schemas.Activities(items=[_activity(a, record) for a in activity_service.activity_of(record)])


@api.route(
    "POST",
    "/contracts/<reference>/grant-activity",
    load=load_grant,
    body=schemas.NewActivity,
    response=schemas.Activity,
    status=201,
    errors=(403,),
    who="Partner users",
    tag="Grants",
    summary="Record grant-funded activity without a referral",
    description="A drop-in or group work on a day, with how many came; counted in the service return.",
)
def record_grant_activity(user: User, record: Contract, body: schemas.NewActivity) -> Any:
    made = activity_service.record_activity(
        user,
        record,
        day=body.date,
        kind=body.kind.value,
        attendees=body.attendees,
        duration_minutes=body.duration_minutes,
        description=body.description,
    )
    return _activity(made, record)


@api.route(
    "GET",
    "/contracts/<reference>/volumes",
    load=load_contract,
    response=schemas.ContractExpectations,
    who="All who see the contract",
    tag="Grants",
    summary="Read a contract's expected volumes and where it stands",
    description="Starts expected a month by service, the spend profile, and the contract to date against "
    "them, with straight-line forecasts to its end and the under-delivery flags. The contract manager sets "
    "expected starts one month and service at a time (PUT), or from CSV files on the contract's page.",
)
def get_contract_volumes(user: User, record: Contract) -> Any:
    summary = to_date(record)
    flags = [flag for flag in ("crc_under_referral", "partner_under_delivery") if summary[flag]]
    return schemas.ContractExpectations(
        contract=record.reference,
        expected_starts=[_starts_row(row) for row in volumes.expected_starts_of(record)],
        spend_profile=[
            schemas.SpendProfileRow(month=row.month.strftime("%Y-%m"), expected_spend_pence=row.expected_pence)
            for row in volumes.spend_profile_of(record)
        ],
        to_date=summary,
        flags=flags,
    )


def _starts_row(row: Any) -> schemas.ExpectedStartsRow:
    return schemas.ExpectedStartsRow(
        month=row.month.strftime("%Y-%m"),
        service_code=row.service_code,
        expected_starts=row.starts,
        version=row.version,
    )


@api.route(
    "PUT",
    "/contracts/<reference>/volumes/expected-starts",
    load=load_contract,
    body=schemas.SetExpectedStarts,
    response=schemas.ExpectedStartsRow,
    errors=(403, 409),
    who="Contract manager",
    tag="Grants",
    summary="Set the starts a contract expects of one service in one month",
    description="Adds the figure or changes it (audited), as the page does. Errors name `month`, "
    "`service_code` or `expected_starts`; a stale `version` (or 0 for a figure set meanwhile) is a 409.",
)
def put_expected_starts(user: User, record: Contract, body: schemas.SetExpectedStarts) -> Any:
    return _starts_row(
        volumes.set_expected_starts(
            user,
            record,
            service_code=body.service_code,
            month=body.month,
            starts=body.expected_starts,
            version=body.version,
        )
    )
