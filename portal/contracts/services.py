"""Operations on a contract's services (what referrers refer to), the list of services open to
referrals, and the rule that every rate-card item's service code names a service.

A rate-card item, however it is made (a form, a CSV import, the demo), prices a service of its
contract: an item naming a code the contract has no service for creates that service, open to
referrals with no limits beyond its setting (see API.md, "Billing rules"), for the contract
manager to name and describe.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session as OrmSession

from portal import access
from portal.audit.service import changes, record_event, snapshot
from portal.contracts.models import Contract, ContractStatus, Pathway, RateCardItem, Service, ServiceSex, Setting
from portal.dates import london_today
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.persistence import check_version, commit, guards_versions
from portal.places.models import County, Prison, ProbationOffice

SERVICE_FIELDS = (
    "code",
    "name",
    "description",
    "pathway",
    "setting",
    "sex",
    "min_age",
    "max_age",
    "county_ids",
    "prison_ids",
    "probation_office_ids",
    "open_to_referrals",
)
MIN_AGE, MAX_AGE = 18, 110


def _whole(value: Any) -> int | str | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        return "bad"
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.isascii() and text.isdigit() else "bad"


def _ids(value: Any, model: type, crc_id: int) -> list[int] | None:
    """Ids of the CRC's places of `model` (None when any is not one)."""
    wanted: set[int] = set()
    for each in value or []:
        try:
            wanted.add(int(each))
        except (TypeError, ValueError):
            return None
    if not wanted:
        return []
    found = set(db.session.scalars(select(model.id).where(model.id.in_(wanted), model.crc_id == crc_id)).all())
    return sorted(wanted) if found == wanted else None


def validate_service(fields: dict[str, Any], contract: Contract, *, existing: Service | None = None) -> dict[str, Any]:
    from portal.contracts.service import ITEM_CODE

    errors: dict[str, list[str]] = {}
    data = dict(fields)
    code = (existing.code if existing is not None else str(data.get("code") or "")).strip().upper()
    data["code"] = code
    if existing is None:
        if not ITEM_CODE.match(code):
            errors["code"] = ["Enter a service code of capital letters, numbers and hyphens, like ACC-TTG"]
        elif db.session.scalar(select(Service.id).where(Service.contract_id == contract.id, Service.code == code)):
            errors["code"] = ["This contract already has a service with this code"]
    name = " ".join(str(data.get("name") or "").split())
    data["name"] = name
    if not name:
        errors["name"] = ["Enter the service's name, as referrers will see it"]
    elif len(name) > 200:
        errors["name"] = ["The name must be 200 characters or fewer"]
    else:
        clash = select(Service.id).where(
            Service.contract_id == contract.id, db.func.lower(Service.name) == name.lower()
        )
        if existing is not None:
            clash = clash.where(Service.id != existing.id)
        if db.session.scalar(clash) is not None:
            errors["name"] = ["This contract already has a service with this name"]
    description = str(data.get("description") or "").strip()
    if len(description) > 5000:
        errors["description"] = ["The description must be 5000 characters or fewer"]
    data["description"] = description or None
    for field, enum, message in (
        ("pathway", Pathway, "Select the service's pathway"),
        ("setting", Setting, "Select whether the service works in custody, the community or both"),
    ):
        try:
            data[field] = enum(data.get(field))
        except ValueError:
            errors[field] = [message]
    sex = data.get("sex")
    if sex in (None, ""):
        data["sex"] = None
    else:
        try:
            data["sex"] = ServiceSex(sex)
        except ValueError:
            errors["sex"] = ["Select women, men or anyone"]
    for field, label in (("min_age", "youngest age"), ("max_age", "oldest age")):
        value = _whole(data.get(field))
        if value == "bad" or (isinstance(value, int) and not MIN_AGE <= value <= MAX_AGE):
            errors[field] = [f"The {label} must be a whole number from {MIN_AGE} to {MAX_AGE}, or empty"]
        data[field] = value if isinstance(value, int) else None
    if data["min_age"] is not None and data["max_age"] is not None and data["min_age"] > data["max_age"]:
        errors["max_age"] = ["The oldest age must be the same as or more than the youngest age"]
    for field, model, label in (
        ("county_ids", County, "county"),
        ("prison_ids", Prison, "prison"),
        ("probation_office_ids", ProbationOffice, "probation office"),
    ):
        ids = _ids(data.get(field), model, contract.crc_id)
        if ids is None:
            errors[field] = [f"Select each {label} from the list"]  # noqa: S608 - a message, not SQL
        data[field] = ids or []
    data["open_to_referrals"] = bool(data.get("open_to_referrals", True))
    if errors:
        raise ValidationFailed(errors)
    return {key: data[key] for key in SERVICE_FIELDS}


def _require_manager(actor: Any, contract: Contract) -> None:
    from portal.contracts.service import _require_editable

    if actor is not None:
        access.require(actor, "manage", contract)
    _require_editable(contract)


def add_service(actor: Any, contract: Contract, **fields: Any) -> Service:
    _require_manager(actor, contract)
    data = validate_service(fields, contract)
    service = Service(contract_id=contract.id, **data)
    db.session.add(service)
    db.session.flush()
    record_event(
        "service.created",
        actor=actor,
        record=service,
        details={"contract": contract.reference, **snapshot(service, SERVICE_FIELDS)},
    )
    commit("service")
    return service


@guards_versions("service")
def update_service(actor: Any, service: Service, contract: Contract, *, version: Any = None, **fields: Any) -> Service:
    """Change a service (its code stays: rate-card items and referrals name it). Referrals already
    sent keep their service; the new eligibility applies to those sent from now on."""
    _require_manager(actor, contract)
    check_version(service, version, "service")
    data = validate_service(fields, contract, existing=service)
    before = snapshot(service, SERVICE_FIELDS)
    for key, value in data.items():
        setattr(service, key, value)
    difference = changes(before, snapshot(service, SERVICE_FIELDS))
    if difference:
        record_event(
            "service.updated",
            actor=actor,
            record=service,
            details={"contract": contract.reference, "code": service.code, "changes": difference},
        )
    commit("service")
    return service


def services_of(contract: Contract) -> list[Service]:
    return list(db.session.scalars(select(Service).where(Service.contract_id == contract.id).order_by(Service.name)))


# --- what referrers choose from -----------------------------------------------------------------------


def service_names(contract_id: int) -> dict[str, str]:
    """A contract's service names by code, in one query: pages that list invoice lines or work name
    each row's service by what people call it, not by its code."""
    return dict(db.session.execute(select(Service.code, Service.name).where(Service.contract_id == contract_id)).all())


def in_pathway(contract_id: Any, service_code: Any, pathway: str) -> Any:
    """A SQL condition: the service a row names (by its contract and service code) is on this
    pathway. The service record says, not its rate-card items: a grant's services have none."""
    return (
        select(Service.id)
        .where(Service.contract_id == contract_id, Service.code == service_code, Service.pathway == Pathway(pathway))
        .exists()
    )


def open_services(actor: Any, today: date | None = None, *, contract_ids: Any = None) -> list[Service]:
    """Services open to referrals on the actor's active contracts running today, by name, with
    their contracts (one query)."""
    from sqlalchemy.orm import joinedload

    today = today or london_today()
    statement = (
        access.visible(Service, actor)
        .join(Contract, Contract.id == Service.contract_id)
        .where(
            Service.open_to_referrals.is_(True),
            Contract.status == ContractStatus.ACTIVE,
            Contract.start_date <= today,
            Contract.end_date >= today,
        )
        .options(joinedload(Service.contract))  # with its partner: one query for the page
        .order_by(Service.name, Contract.reference)
    )
    if contract_ids is not None:
        statement = statement.where(Service.contract_id.in_(list(contract_ids)))
    return list(db.session.scalars(statement).unique().all())


# --- every item's service code names a service ------------------------------------------------------


def _value(enum_or_text: Any) -> str:
    return str(getattr(enum_or_text, "value", enum_or_text))


@event.listens_for(OrmSession, "before_flush")
def _services_for_new_items(session: OrmSession, flush_context: Any, instances: Any) -> None:
    groups: dict[tuple[int, str], list[RateCardItem]] = {}
    for item in (*session.new, *session.dirty):  # a new item, or one moved to another service code
        if not isinstance(item, RateCardItem):
            continue
        contract = item.__dict__.get("contract")  # set by relationship, before the flush fills contract_id
        contract_id = item.contract_id or (contract.id if contract is not None else None)
        if contract_id is not None and item.service_code:
            groups.setdefault((contract_id, item.service_code), []).append(item)
    if not groups:
        return
    pending = [s for s in session.new if isinstance(s, Service)]
    with session.no_autoflush:
        for (contract_id, code), items in sorted(groups.items()):
            if any((s.contract_id, s.code) == (contract_id, code) for s in pending):
                continue
            existing = session.scalars(
                select(Service).where(Service.contract_id == contract_id, Service.code == code)
            ).first()
            if existing is not None:
                _open_on_first_priced_item(session, existing, items)
                continue
            # Named after the item that best says what the service is: its referral fee, else
            # anything but a grant's monthly amount.
            items.sort(key=lambda i: (_value(i.unit) != "per_referral", _value(i.unit) == "monthly_fixed", i.code))
            name = items[0].name[:190]
            taken = session.scalar(
                select(Service.id).where(Service.contract_id == contract_id, Service.name == name)
            ) is not None or any(s.contract_id == contract_id and s.name == name for s in pending)
            settings = {Setting(i.setting) for i in items}
            # A grant's monthly amount belongs to the contract: no one is referred to it.
            referrable = any(i.active is not False and _value(i.unit) != "monthly_fixed" for i in items)
            service = Service(
                contract_id=contract_id,
                code=code,
                name=f"{name} ({code})" if taken else name,
                pathway=Pathway(items[0].pathway),
                setting=settings.pop() if len(settings) == 1 else Setting.BOTH,
                county_ids=[],
                prison_ids=[],
                probation_office_ids=[],
                open_to_referrals=referrable,
            )
            session.add(service)
            pending.append(service)


def _referrable(item: RateCardItem) -> bool:
    """An item someone can be referred for: in use, and not a grant's monthly amount."""
    return item.active is not False and _value(item.unit) != "monthly_fixed"


def _open_on_first_priced_item(session: OrmSession, service: Service, items: list[RateCardItem]) -> None:
    """A service made closed because its first item was a grant's monthly amount opens when its
    first item a person can be referred for arrives: it was closed only for want of one. One a
    contract manager closed (the audit log records each change of `open_to_referrals`) stays closed."""
    from portal.audit.service import record_event

    if service.open_to_referrals or not any(_referrable(item) for item in items):
        return
    new_ids = {item.id for item in items if item.id is not None}
    if _closed_on_purpose(session, service, ignore=lambda item: item.id in new_ids or item in items, added=False):
        return
    service.open_to_referrals = True
    record_event(
        "service.opened",
        actor=_acting_user(),
        record=service,
        details={
            "code": service.code,
            "why": "its first item a person can be referred for was added",
            "items": sorted(item.code for item in items if _referrable(item)),
        },
    )


def _closed_on_purpose(
    session: OrmSession, service: Service, ignore: Any = lambda item: False, *, added: bool = True
) -> bool:
    """Whether someone closed the service, rather than the portal for want of an item to refer to:
    it had such an item (other than those `ignore` picks) and is closed all the same, or a person
    changed `open_to_referrals` (or, with `added`, added the service closed): the audit log
    records each."""
    from portal.audit.models import AuditEvent

    priced_before = [
        item
        for item in session.scalars(
            select(RateCardItem).where(
                RateCardItem.contract_id == service.contract_id, RateCardItem.service_code == service.code
            )
        ).all()
        if not ignore(item) and _referrable(item)
    ]
    if priced_before:
        return True
    decisions = session.execute(
        select(AuditEvent.action, AuditEvent.details).where(
            AuditEvent.action.in_(("service.created", "service.updated") if added else ("service.updated",)),
            AuditEvent.record_type == "service",
            AuditEvent.record_id == str(service.id),
        )
    ).all()
    return any(
        action == "service.created" or "open_to_referrals" in (details or {}).get("changes", {})
        for action, details in decisions
    )


def open_for_a_schedule(actor: Any, contract: Contract) -> list[Service]:
    """A grant paid by its schedule of instalments needs no unit price for people to be referred
    to its services (the schedule pays for their work), so when its schedule is set a service the
    portal closed for want of an item to refer to (its only item was the grant's monthly amount)
    opens, audited. One a contract manager closed, or added closed, stays closed. The caller commits."""
    session = db.session()
    opened = []
    for service in session.scalars(
        select(Service).where(Service.contract_id == contract.id, Service.open_to_referrals.is_(False))
    ).all():
        if _closed_on_purpose(session, service):
            continue
        service.open_to_referrals = True
        record_event(
            "service.opened",
            actor=actor,
            record=service,
            details={
                "code": service.code,
                "why": "its grant is paid by a schedule of instalments, which needs no item to refer to",
            },
        )
        opened.append(service)
    return opened


def _acting_user() -> Any:
    """Who added the item, when a page or the API did (the rule opened the service on their
    action); None at the command line, where the audit log names no one."""
    from flask import has_request_context
    from flask_login import current_user

    if has_request_context() and current_user.is_authenticated:
        return current_user._get_current_object()
    return None
