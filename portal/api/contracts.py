"""GET /contracts and /contracts/{reference}: what the caller's organisation has contracted, with rate cards."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from portal import access
from portal.accounts.models import User
from portal.api import schemas
from portal.api.blueprint import api
from portal.api.registry import paginate
from portal.contracts import service
from portal.contracts.eligibility import Places
from portal.contracts.models import Contract, OutcomeType, RateCardItem, Service
from portal.errors import NotFound
from portal.extensions import db
from portal.places.service import names_of


def contract_fields(contract: Contract) -> dict[str, Any]:
    return {
        "reference": contract.reference,
        "title": contract.title,
        "crc": contract.crc.name,
        "partner": contract.partner.name,
        "tier": contract.tier,
        "status": contract.status,
        "start_date": contract.start_date,
        "end_date": contract.end_date,
        "value_cap_pence": contract.value_cap_pence,
        "vat_rate": schemas.decimal_string(contract.vat_rate, "0.0001"),
        "payment_terms_days": contract.payment_terms_days,
        "version": contract.version,
        "updated_at": contract.updated_at,
    }


def find_contract(user: User, reference: Any) -> Contract | None:
    """The contract with this reference, if the user may see it."""
    if not isinstance(reference, str) or not reference.strip():
        return None
    return db.session.scalars(
        access.visible(Contract, user).where(Contract.reference == reference.strip().upper())
    ).first()


def load_contract(user: User, reference: str) -> Contract:
    return access.get_visible_or_404(Contract, reference.strip().upper(), user, column=Contract.reference)


@api.route(
    "GET",
    "/contracts",
    query=schemas.ContractQuery,
    response=schemas.ContractPage,
    who="Everyone",
    tag="Contracts",
    summary="List the contracts you can see",
    description="A partner sees its own contracts; the CRC sees all of its contracts.",
)
def list_contracts(user: User, query: schemas.ContractQuery) -> Any:
    statement = access.visible(Contract, user).order_by(Contract.id)
    if query.status is not None:
        statement = statement.where(Contract.status == query.status)
    if query.updated_since is not None:
        statement = statement.where(Contract.updated_at >= query.updated_since)
    page = paginate(statement, query)
    return schemas.ContractPage(
        items=[schemas.Contract(**contract_fields(contract)) for contract in page.items],
        page=page.page,
        per_page=page.per_page,
        total=page.total,
        next=page.next,
    )


@api.route(
    "GET",
    "/contracts/<reference>",
    load=load_contract,
    response=schemas.ContractWithRateCard,
    who="Everyone",
    tag="Contracts",
    summary="Get a contract with its rate card and outcome types",
    description="Each rate-card item has its prices, each effective from a date (to a date, or open-ended). "
    "Outcomes are claimed by an outcome type's code.",
)
def get_contract(user: User, record: Contract) -> Any:
    items = db.session.scalars(
        access.visible(RateCardItem, user).where(RateCardItem.contract_id == record.id).order_by(RateCardItem.code)
    ).all()
    outcome_types = db.session.scalars(
        select(OutcomeType).where(OutcomeType.contract_id == record.id).order_by(OutcomeType.code)
    ).all()
    return schemas.ContractWithRateCard(
        **contract_fields(record),
        rate_card=[
            schemas.RateCardItem(
                code=item.code,
                service_code=item.service_code,
                name=item.name,
                pathway=item.pathway,
                setting=item.setting,
                unit=item.unit,
                outcome_type=item.outcome_type.code if item.outcome_type else None,
                max_units_per_referral=item.max_units_per_referral,
                session_kinds=item.session_kinds,
                active=item.active,
                prices=[schemas.Price.model_validate(price) for price in item.prices],
            )
            for item in items
        ],
        outcome_types=[schemas.OutcomeType.model_validate(outcome_type) for outcome_type in outcome_types],
    )


def load_outcome_type(user: User, reference: str, code: str) -> OutcomeType:
    contract = load_contract(user, reference)
    outcome_type = db.session.scalars(
        access.visible(OutcomeType, user).where(
            OutcomeType.contract_id == contract.id, OutcomeType.code == code.strip().lower()
        )
    ).first()
    if outcome_type is None:
        raise NotFound
    return outcome_type


@api.route(
    "POST",
    "/contracts/<reference>/outcome-types/<code>",
    load=load_outcome_type,
    body=schemas.ChangeOutcomeRule,
    response=schemas.OutcomeType,
    errors=(403, 409),
    who="Contract manager",
    tag="Contracts",
    summary="Change an outcome type's rule",
    description="From which event (`outcome_from`) and within which days an outcome of the type can be "
    "achieved, at most how many per referral, whether a claim needs an evidence file, and whether it is "
    "recorded but unpaid. Only the fields sent change. Claims, verifications and drafts follow the new rule.",
)
def change_outcome_rule(user: User, record: OutcomeType, body: schemas.ChangeOutcomeRule) -> Any:
    fields = body.model_dump(exclude_unset=True, exclude={"version"})
    contract = db.session.get(Contract, record.contract_id)
    keep = {"name": record.name, "pathway": record.pathway.value, "active": record.active}
    service.update_outcome_type(user, record, contract, version=body.version, **keep, **fields)
    return schemas.OutcomeType.model_validate(record)


def service_fields(service: Service, places: Places) -> dict[str, Any]:
    return {
        "code": service.code,
        "name": service.name,
        "description": service.description,
        "pathway": service.pathway,
        "setting": service.setting,
        "open_to_referrals": service.open_to_referrals,
        "version": service.version,
        "eligibility": schemas.Eligibility(
            sex=service.sex.value if service.sex else None,
            min_age=service.min_age,
            max_age=service.max_age,
            setting=service.setting,
            counties=sorted(places.counties.get(i, "") for i in service.county_ids),
            prisons=sorted(places.prisons.get(i, "") for i in service.prison_ids),
            probation_offices=sorted(places.offices.get(i, "") for i in service.probation_office_ids),
        ),
    }


@api.route(
    "GET",
    "/contracts/<reference>/services",
    load=load_contract,
    response=schemas.ServiceList,
    who="Everyone",
    tag="Contracts",
    summary="List a contract's services, with who is eligible",
    description="What referrals are sent to: each service's code (the `service_code` of the rate-card items "
    "that price it), its name (a referral may name its service by it), what it offers and who is eligible. "
    "A referral that breaks a rule of its service's eligibility is refused (422) naming the field and the rule.",
)
def list_services(user: User, record: Contract) -> Any:
    services = db.session.scalars(
        access.visible(Service, user).where(Service.contract_id == record.id).order_by(Service.name)
    ).all()
    places = names_of(record.crc_id)
    return schemas.ServiceList(items=[schemas.Service(**service_fields(service, places)) for service in services])
