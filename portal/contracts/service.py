"""Operations on contracts, outcome types, rate-card items and prices.

Every operation checks that the actor may manage the contract (portal.access; an `actor` of None
is an operator at the command line), validates, writes the change with an audit event holding
before/after values, and commits; or raises a domain error and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import select

from portal import access
from portal.audit.service import changes, record_event, snapshot
from portal.contracts.measures import (
    SESSION_KINDS,
    DoubleBilling,
    Period,
    clean_kinds,
    double_billing,
    kinds_label,
    priced_item,
)
from portal.contracts.models import (
    SESSION_UNITS,
    VAT_RATES_BASIS_POINTS,
    Contract,
    ContractStatus,
    ContractTier,
    OutcomeFrom,
    OutcomeType,
    Pathway,
    RateCardItem,
    RateCardPrice,
    Setting,
    Unit,
)
from portal.contracts.pricing import find_overlaps
from portal.db import utcnow
from portal.errors import StaleRecord, ValidationFailed
from portal.extensions import db
from portal.organisations.models import Organisation, OrganisationKind
from portal.persistence import guards_versions
from portal.workflow import StateMachine, Transition

REFERENCE = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,29}$")
ITEM_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,39}$")
OUTCOME_CODE = re.compile(r"^[a-z][a-z0-9_]{2,59}$")

CONTRACT_FIELDS = (
    "reference",
    "title",
    "partner_id",
    "tier",
    "start_date",
    "end_date",
    "value_cap_pence",
    "vat_rate_bp",
    "payment_terms_days",
    "accept_sla_working_days",
    "first_contact_sla_working_days",
    "counties",
    "prisons",
    "description",
)
ITEM_FIELDS = (
    "code",
    "service_code",
    "name",
    "pathway",
    "setting",
    "unit",
    "outcome_type_id",
    "max_units_per_referral",
    "session_kinds",
    "active",
)
PRICE_FIELDS = ("unit_price_pence", "effective_from", "effective_to")
OUTCOME_TYPE_FIELDS = (
    "code",
    "name",
    "pathway",
    "active",
    "outcome_from",
    "outcome_earliest_days",
    "outcome_latest_days",
    "max_per_referral",
    "evidence_required",
    "recorded_unpaid",
)
# The longest window a rule may name: ten years of days.
MAX_RULE_DAYS = 3660

CONTRACT_WORKFLOW = StateMachine(
    "contract",
    [
        Transition(
            "activate",
            frozenset({ContractStatus.DRAFT}),
            ContractStatus.ACTIVE,
            "Only a draft contract can be made active",
        ),
        Transition(
            "end", frozenset({ContractStatus.ACTIVE}), ContractStatus.ENDED, "Only an active contract can be ended"
        ),
    ],
)

# Invoicing registers a check here: a price used on a submitted invoice is locked. Kept
# as a hook so that contracts need not know about invoices.
price_usage_checks: list[Callable[[RateCardPrice], bool]] = []


def price_is_locked(price: RateCardPrice) -> bool:
    """True once the price has been used on a submitted invoice: then it can only be ended."""
    return price.id is not None and any(check(price) for check in price_usage_checks)


# Invoicing registers a function here giving a contract's spend in pence (its submitted and
# approved invoices); until it does, nothing has been spent.
spend_calculators: list[Callable[[Contract], int]] = []


def spend_to_date(contract: Contract) -> int:
    """Pence spent against the contract's value cap so far: submitted and approved invoices."""
    return sum(calculate(contract) for calculate in spend_calculators)


# --- editing ---------------------------------------------------------------------------------


def is_editable(contract: Contract) -> bool:
    """An ended contract, its rate card and its outcome types can no longer change."""
    return contract.status != ContractStatus.ENDED


def _require_editable(contract: Contract) -> None:
    if not is_editable(contract):
        raise ValidationFailed.single("contract", "This contract has ended and can no longer be changed")


def _check_version(record: Any, version: int | None, what: str) -> None:
    if version is not None and int(version) != record.version:
        raise StaleRecord(
            f"This {what} was changed by someone else while you were editing. Check the latest details and try again."
        )


# --- contracts --------------------------------------------------------------------------------


# The fields naming the places a contract covers: lists of the CRC's County and Prison records.
PLACE_FIELDS = {"counties": "county", "prisons": "prison"}


def area_choices(crc_id: int | None, existing: Contract | None = None) -> dict[str, list[Any]]:
    """The counties and prisons a contract of this CRC may cover, by field: its places in use
    (portal.places), and any the contract already covers, kept though retired since."""
    from portal.places.models import County, Prison

    choices: dict[str, list[Any]] = {}
    for field, model in (("counties", County), ("prisons", Prison)):
        in_use = select(model).where(model.crc_id == crc_id, model.active.is_(True)).order_by(model.name)
        choices[field] = list(db.session.scalars(in_use).all()) if crc_id is not None else []
    if existing is not None:
        for field in PLACE_FIELDS:
            offered = {place.id for place in choices[field]}
            kept = [place for place in getattr(existing, field) if place.id not in offered]
            choices[field] = sorted([*choices[field], *kept], key=lambda place: place.name.lower())
    return choices


def _chosen_places(field: str, values: Any, allowed: list[Any], errors: dict[str, list[str]]) -> list[Any]:
    """The places `values` name: each a record, an id (the form's checkboxes) or a name, any case
    (the command line, the demo). A value naming none of `allowed` is an error naming it."""
    label = PLACE_FIELDS[field]
    by_id = {place.id: place for place in allowed}
    by_name = {place.name.lower(): place for place in allowed}
    chosen: dict[int, Any] = {}
    for value in values if isinstance(values, (list, tuple, set)) else [values]:
        if isinstance(value, str):
            place = by_name.get(" ".join(value.split()).lower())
            message = f"There is no {label} called {value} in use: select one from the list"  # noqa: S608 - words
        else:
            key = getattr(value, "id", value)
            place = by_id.get(key) if isinstance(key, int) and not isinstance(key, bool) else None
            message = f"Select a {label} from the list"  # noqa: S608 - a message, not SQL
        if place is None:
            if message not in errors.get(field, []):
                errors.setdefault(field, []).append(message)
            continue
        chosen[place.id] = place
    return sorted(chosen.values(), key=lambda place: place.name.lower())


def contract_snapshot(contract: Contract) -> dict[str, Any]:
    """The contract's fields for an audit event, its places by name (as they were named before
    they were records, so old and new events read alike)."""
    values = snapshot(contract, [name for name in CONTRACT_FIELDS if name not in PLACE_FIELDS])
    return values | {"counties": contract.county_names, "prisons": contract.prison_names}


def validate_contract(
    fields: dict[str, Any], *, existing: Contract | None = None, crc_id: int | None = None
) -> dict[str, Any]:
    data = dict(fields)
    errors: dict[str, list[str]] = {}

    reference = (data.get("reference") or "").strip().upper()
    data["reference"] = reference
    if not reference:
        errors["reference"] = ["Enter a contract reference"]
    elif not REFERENCE.match(reference):
        errors["reference"] = ["Enter a reference of 3 to 30 capital letters, numbers and hyphens, like BENCH-ACC-01"]
    else:
        clash = select(Contract.id).where(Contract.reference == reference)
        if existing is not None:
            clash = clash.where(Contract.id != existing.id)
        if db.session.scalar(clash) is not None:
            errors["reference"] = ["A contract with this reference already exists"]

    data["title"] = (data.get("title") or "").strip()
    if not data["title"]:
        errors["title"] = ["Enter the contract's title"]

    partner = db.session.get(Organisation, data.get("partner_id")) if data.get("partner_id") else None
    if partner is None or partner.kind != OrganisationKind.PARTNER:
        errors["partner_id"] = ["Select the partner organisation"]
    elif not partner.active and (existing is None or existing.partner_id != partner.id):
        errors["partner_id"] = ["This partner is no longer active"]

    try:
        data["tier"] = ContractTier(data.get("tier"))
    except ValueError:
        errors["tier"] = ["Select whether this is a subcontract or a grant"]

    start, end = data.get("start_date"), data.get("end_date")
    if not isinstance(start, date):
        errors["start_date"] = ["Enter the start date"]
    if not isinstance(end, date):
        errors["end_date"] = ["Enter the end date"]
    elif isinstance(start, date) and end < start:
        errors["end_date"] = ["The end date must be the same as or after the start date"]

    cap = data.get("value_cap_pence")
    if not isinstance(cap, int) or isinstance(cap, bool):
        errors["value_cap_pence"] = ["Enter the contract's value cap in pounds, like 250000"]
    elif cap <= 0:
        errors["value_cap_pence"] = ["The value cap must be more than £0"]

    if data.get("vat_rate_bp") not in VAT_RATES_BASIS_POINTS:
        errors["vat_rate_bp"] = ["Select a VAT rate of 0% or 20%"]

    for field, label, low, high in (
        ("payment_terms_days", "Payment terms", 0, 120),
        ("accept_sla_working_days", "Working days to accept or decline", 1, 30),
        ("first_contact_sla_working_days", "Working days to first contact", 1, 60),
    ):
        value = data.get(field)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            errors[field] = [f"{label} must be a whole number from {low} to {high}"]

    choices = area_choices(crc_id if crc_id is not None else getattr(existing, "crc_id", None), existing)
    for field in PLACE_FIELDS:
        data[field] = _chosen_places(field, data.get(field) or [], choices[field], errors)
    if "counties" not in errors and "prisons" not in errors and not data["counties"] and not data["prisons"]:
        errors["counties"] = ["Select at least one county or prison the contract serves"]

    data["description"] = (data.get("description") or "").strip() or None
    if errors:
        raise ValidationFailed(errors)
    return {key: data[key] for key in CONTRACT_FIELDS}


def create_contract(actor: Any, *, crc: Organisation | None = None, **fields: Any) -> Contract:
    """A draft contract between the actor's CRC and a partner. An operator at the CLI (`actor`
    None) names the CRC instead."""
    if actor is not None:
        access.require(actor, "add", Contract)
    if actor is not None:
        crc_id = actor.organisation_id
    elif crc is None or crc.kind != OrganisationKind.CRC:
        raise ValidationFailed.single("crc", "Name the CRC that holds the contract")
    else:
        crc_id = crc.id
    data = validate_contract(fields, crc_id=crc_id)
    contract = Contract(crc_id=crc_id, status=ContractStatus.DRAFT, **data)
    db.session.add(contract)
    db.session.flush()
    record_event("contract.created", actor=actor, record=contract, details=contract_snapshot(contract))
    db.session.commit()
    return contract


def update_contract(actor: Any, contract: Contract, *, version: int | None = None, **fields: Any) -> Contract:
    if actor is not None:
        access.require(actor, "manage", contract)
    _check_version(contract, version, "contract")
    _require_editable(contract)
    data = validate_contract(fields, existing=contract)
    if contract.status != ContractStatus.DRAFT and data["reference"] != contract.reference:
        raise ValidationFailed.single("reference", "The reference cannot change once the contract is active")
    before = contract_snapshot(contract)
    for key, value in data.items():
        setattr(contract, key, value)
    difference = changes(before, contract_snapshot(contract))
    if difference:
        # Its places are rows of other tables: a change to them alone would not raise the version.
        contract.updated_at = utcnow()
        record_event("contract.updated", actor=actor, record=contract, details={"changes": difference})
    db.session.commit()
    return contract


def activate_contract(actor: Any, contract: Contract, *, version: int | None = None) -> None:
    if actor is not None:
        access.require(actor, "manage", contract)
    _check_version(contract, version, "contract")
    CONTRACT_WORKFLOW.apply(contract, "activate", actor)
    db.session.commit()


def end_contract(actor: Any, contract: Contract, *, end_date: date | None, version: int | None = None) -> None:
    """End an active contract, on `end_date` (today or its existing end date, or earlier)."""
    if actor is not None:
        access.require(actor, "manage", contract)
    _check_version(contract, version, "contract")
    CONTRACT_WORKFLOW.check(contract, "end")  # before anything changes, so a refusal leaves the contract as it was
    if not isinstance(end_date, date):
        raise ValidationFailed.single("end_date", "Enter the date the contract ends")
    if end_date < contract.start_date:
        raise ValidationFailed.single("end_date", "The end date must be on or after the contract's start date")
    before_end = contract.end_date
    contract.end_date = end_date
    CONTRACT_WORKFLOW.apply(contract, "end", actor, details={"end_date": {"before": before_end, "after": end_date}})
    db.session.commit()


# --- outcome types -------------------------------------------------------------------------------


def _outcome_type_data(fields: dict[str, Any], contract: Contract, existing: OutcomeType | None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    data = dict(fields)
    code = (data.get("code") or "").strip().lower()
    data["code"] = code
    if not OUTCOME_CODE.match(code):
        errors["code"] = ["Enter a code of lower-case letters, numbers and underscores, like entered_employment"]
    else:
        clash = select(OutcomeType.id).where(OutcomeType.contract_id == contract.id, OutcomeType.code == code)
        if existing is not None:
            clash = clash.where(OutcomeType.id != existing.id)
        if db.session.scalar(clash) is not None:
            errors["code"] = ["This contract already has an outcome type with this code"]
    data["name"] = (data.get("name") or "").strip() or code.replace("_", " ").capitalize()
    try:
        data["pathway"] = Pathway(data.get("pathway"))
    except ValueError:
        errors["pathway"] = ["Select the pathway this outcome belongs to"]
    data["active"] = bool(data.get("active", True))
    _outcome_rule_data(data, existing, errors)
    if errors:
        raise ValidationFailed(errors)
    return {key: data[key] for key in OUTCOME_TYPE_FIELDS}


def _whole_days(value: Any, field: str, label: str, errors: dict[str, list[str]], *, upper: int) -> int | None:
    """A whole number from 0 (1 for a count) to `upper`, or None when left empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    lowest = 1 if field == "max_per_referral" else 0
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()) or not lowest <= int(text) <= upper:
        errors[field] = [f"Enter {label} as a whole number from {lowest} to {upper}"]
        return None
    return int(text)


def _outcome_rule_data(data: dict[str, Any], existing: OutcomeType | None, errors: dict[str, list[str]]) -> None:
    """The rule's fields, each kept as it was when not given (a new type: from acceptance, no limits)."""

    def given(key: str, default: Any) -> Any:
        if key in data:
            return data[key]
        return getattr(existing, key) if existing is not None else default

    source = given("outcome_from", None)
    if source in (None, ""):
        data["outcome_from"] = None
    else:
        try:
            data["outcome_from"] = OutcomeFrom(source)
        except ValueError:
            errors["outcome_from"] = [
                "Select the event the days are counted from: acceptance, first contact or release"
            ]
    earliest = _whole_days(
        given("outcome_earliest_days", 0), "outcome_earliest_days", "the earliest day", errors, upper=MAX_RULE_DAYS
    )
    data["outcome_earliest_days"] = earliest or 0
    latest = _whole_days(
        given("outcome_latest_days", None), "outcome_latest_days", "the latest day", errors, upper=MAX_RULE_DAYS
    )
    if latest is not None and "outcome_latest_days" not in errors and latest < data["outcome_earliest_days"]:
        errors["outcome_latest_days"] = ["The latest day must be the same as the earliest day or after it"]
    data["outcome_latest_days"] = latest
    data["max_per_referral"] = _whole_days(
        given("max_per_referral", None), "max_per_referral", "the most per referral", errors, upper=1000
    )
    data["evidence_required"] = bool(given("evidence_required", False))
    data["recorded_unpaid"] = bool(given("recorded_unpaid", False))


def add_outcome_type(actor: Any, contract: Contract, *, commit: bool = True, **fields: Any) -> OutcomeType:
    if actor is not None:
        access.require(actor, "manage", contract)
    _require_editable(contract)
    data = _outcome_type_data(fields, contract, None)
    outcome_type = OutcomeType(contract_id=contract.id, **data)
    db.session.add(outcome_type)
    db.session.flush()
    record_event(
        "outcome_type.created",
        actor=actor,
        record=outcome_type,
        details={"contract": contract.reference, **snapshot(outcome_type, OUTCOME_TYPE_FIELDS)},
    )
    if commit:
        db.session.commit()
    return outcome_type


@guards_versions("outcome type")
def update_outcome_type(
    actor: Any, outcome_type: OutcomeType, contract: Contract, *, version: int | None = None, **fields: Any
) -> OutcomeType:
    """Change an outcome type's name, pathway, whether it is in use, and its rule. A changed rule
    applies to claims and verifications from now on, and to what drafts bill."""
    if actor is not None:
        access.require(actor, "manage", contract)
    _require_editable(contract)
    _check_version(outcome_type, version, "outcome type")
    fields["code"] = outcome_type.code  # the code is what files and the API use: it never changes
    data = _outcome_type_data(fields, contract, outcome_type)
    before = snapshot(outcome_type, OUTCOME_TYPE_FIELDS)
    for key, value in data.items():
        setattr(outcome_type, key, value)
    difference = changes(before, snapshot(outcome_type, OUTCOME_TYPE_FIELDS))
    if difference:
        record_event(
            "outcome_type.updated",
            actor=actor,
            record=outcome_type,
            details={"contract": contract.reference, "changes": difference},
        )
    db.session.commit()
    return outcome_type


# --- rate-card items --------------------------------------------------------------------------------


def validate_item(
    fields: dict[str, Any], contract: Contract, *, existing: RateCardItem | None = None
) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    data = dict(fields)
    for field, label, example in (
        ("code", "an item code", "ACC-TTG-REF"),
        ("service_code", "a service code", "ACC-TTG"),
    ):
        value = (data.get(field) or "").strip().upper()
        data[field] = value
        if not ITEM_CODE.match(value):
            errors[field] = [f"Enter {label} of capital letters, numbers and hyphens, like {example}"]
    if "code" not in errors:
        clash = select(RateCardItem.id).where(
            RateCardItem.contract_id == contract.id, RateCardItem.code == data["code"]
        )
        if existing is not None:
            clash = clash.where(RateCardItem.id != existing.id)
        if db.session.scalar(clash) is not None:
            errors["code"] = ["This rate card already has an item with this code"]
    data["name"] = (data.get("name") or "").strip()
    if not data["name"]:
        errors["name"] = ["Enter the service's name"]
    for field, enum, message in (
        ("pathway", Pathway, "Select a pathway"),
        ("setting", Setting, "Select a setting"),
        ("unit", Unit, "Select how the service is billed"),
    ):
        try:
            data[field] = enum(data.get(field))
        except ValueError:
            errors[field] = [message]

    outcome_type_id = data.get("outcome_type_id")
    if data.get("unit") == Unit.PER_OUTCOME:
        outcome_type = db.session.get(OutcomeType, outcome_type_id) if outcome_type_id else None
        if outcome_type is None or outcome_type.contract_id != contract.id:
            errors["outcome_type_id"] = ["Select the outcome type this item pays for"]
    elif outcome_type_id:
        errors["outcome_type_id"] = ["Only items billed per verified outcome have an outcome type"]
    else:
        data["outcome_type_id"] = None

    maximum = data.get("max_units_per_referral")
    if maximum is not None and (not isinstance(maximum, int) or isinstance(maximum, bool) or maximum < 1):
        errors["max_units_per_referral"] = ["The most units per referral must be a whole number, 1 or more"]
    elif maximum is not None and data.get("unit") == Unit.MONTHLY_FIXED:
        errors["max_units_per_referral"] = ["A fixed monthly amount belongs to the contract, not to referrals"]

    wanted_kinds = data.get("session_kinds") or []
    if isinstance(wanted_kinds, str):
        wanted_kinds = re.split(r"[|,;]", wanted_kinds)
    kinds, unknown = clean_kinds(wanted_kinds)
    data["session_kinds"] = kinds
    if unknown:
        errors["session_kinds"] = [
            f"Unknown session kind {', '.join(unknown)}: use {', '.join(SESSION_KINDS)} (or none, for every kind)"
        ]
    elif kinds and isinstance(data.get("unit"), Unit) and data["unit"] not in SESSION_UNITS:
        errors["session_kinds"] = [
            "Only items billed per session, per hour or per RAR day price session kinds: select none"
        ]
    data["active"] = bool(data.get("active", True))
    if not errors:
        _refuse_double_billing(contract, existing, data, None, field="session_kinds")
    if errors:
        raise ValidationFailed(errors)
    return {key: data.get(key) for key in ITEM_FIELDS}


def _refuse_double_billing(
    contract: Contract,
    item: RateCardItem | None,
    item_fields: dict[str, Any] | None,
    periods: list[Period] | None,
    *,
    field: str,
) -> None:
    """Refuse a change to `item` (new fields, or new price periods) that would let one session
    be billed twice by one measure, naming the other item."""
    others = [
        priced_item(other)
        for other in db.session.scalars(select(RateCardItem).where(RateCardItem.contract_id == contract.id))
        if item is None or other.id != item.id
    ]
    changed: dict[str, Any] = {}
    if item_fields is not None:
        changed = {key: item_fields[key] for key in ("code", "service_code", "unit", "session_kinds")}
    if periods is not None:
        changed["periods"] = tuple(periods)
    if item is None:
        changed.setdefault("periods", ())
        proposed = priced_item(_Blank(), **changed)
    else:
        proposed = priced_item(item, **changed)
    for clash in double_billing([proposed, *others]):
        other = clash.second if clash.first is proposed else clash.first
        if other.unit == Unit.PER_RAR_DAY:
            raise ValidationFailed.single(
                field,
                f"Item {other.code} already prices RAR days of service {proposed.service_code} from "
                f"{_day(clash.from_day)}: a RAR day is a calendar day, so a service has one RAR-day price at a "
                "time. End that item's price first, or choose other dates",
            )
        kinds = "sessions of every kind" if not clash.kinds else kinds_label(clash.kinds).lower() + " sessions"
        raise ValidationFailed.single(
            field,
            f"Item {other.code} already prices {kinds} of service {proposed.service_code} "
            f"({other.unit.label.lower()}) from {_day(clash.from_day)}: one session would be billed twice. "
            "Choose session kinds the two items do not share",
        )


class _Blank:
    """A new item's missing fields, for priced_item."""

    code = service_code = ""
    unit = Unit.PER_SESSION
    session_kinds: list[str] = []
    prices: list[Any] = []


def add_item(actor: Any, contract: Contract, **fields: Any) -> RateCardItem:
    if actor is not None:
        access.require(actor, "manage", contract)
    _require_editable(contract)
    data = validate_item(fields, contract)
    item = RateCardItem(contract_id=contract.id, **data)
    db.session.add(item)
    db.session.flush()
    record_event(
        "rate_card_item.created",
        actor=actor,
        record=item,
        details={"contract": contract.reference, **snapshot(item, ITEM_FIELDS)},
    )
    db.session.commit()
    return item


def update_item(
    actor: Any, item: RateCardItem, contract: Contract, *, version: int | None = None, **fields: Any
) -> RateCardItem:
    if actor is not None:
        access.require(actor, "manage", contract)
    _check_version(item, version, "rate card item")
    _require_editable(contract)
    data = validate_item(fields, contract, existing=item)
    before = snapshot(item, ITEM_FIELDS)
    for key, value in data.items():
        setattr(item, key, value)
    difference = changes(before, snapshot(item, ITEM_FIELDS))
    if difference:
        record_event(
            "rate_card_item.updated",
            actor=actor,
            record=item,
            details={"contract": contract.reference, "code": item.code, "changes": difference},
        )
    db.session.commit()
    return item


# --- prices -------------------------------------------------------------------------------------------


def validate_price(
    fields: dict[str, Any], item: RateCardItem, *, existing: RateCardPrice | None = None
) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    amount = fields.get("unit_price_pence")
    if not isinstance(amount, int) or isinstance(amount, bool):
        errors["unit_price_pence"] = ["Enter the unit price in pounds, like 125.00"]
    elif amount < 0:
        errors["unit_price_pence"] = ["The unit price cannot be negative"]
    start, end = fields.get("effective_from"), fields.get("effective_to")
    if not isinstance(start, date):
        errors["effective_from"] = ["Enter the date the price applies from"]
    if end is not None and not isinstance(end, date):
        errors["effective_to"] = ["Enter a real date the price applies until, or leave it empty"]
    elif isinstance(start, date) and isinstance(end, date) and end < start:
        errors["effective_to"] = ["The price must end on or after the day it starts"]
    if not errors:
        proposed = RateCardPrice(unit_price_pence=amount, effective_from=start, effective_to=end)
        others = [price for price in item.prices if existing is None or price.id != existing.id]
        contract = db.session.get(Contract, item.contract_id)
        _refuse_double_billing(
            contract,
            item,
            None,
            [Period(price.effective_from, price.effective_to) for price in [*others, proposed]],
            field="effective_from",
        )
        for overlap in find_overlaps([*others, proposed]):
            other = overlap.second if overlap.first is proposed else overlap.first
            errors["effective_from"] = [
                f"This price overlaps the price from {_day(other.effective_from)}"
                + (f" to {_day(other.effective_to)}" if other.effective_to else " with no end date")
                + ". End that price first, or choose other dates"
            ]
            break
    if errors:
        raise ValidationFailed(errors)
    return {"unit_price_pence": amount, "effective_from": start, "effective_to": end}


def _day(value: date) -> str:
    from portal.formatting import format_date

    return format_date(value)


def _price_details(price: RateCardPrice, item: RateCardItem, contract: Contract) -> dict[str, Any]:
    return {"contract": contract.reference, "item": item.code, **snapshot(price, PRICE_FIELDS)}


def add_price(actor: Any, item: RateCardItem, contract: Contract, **fields: Any) -> RateCardPrice:
    if actor is not None:
        access.require(actor, "manage", contract)
    _require_editable(contract)
    data = validate_price(fields, item)
    price = RateCardPrice(item_id=item.id, **data)
    db.session.add(price)
    db.session.flush()
    record_event("rate_card_price.created", actor=actor, record=price, details=_price_details(price, item, contract))
    db.session.commit()
    return price


def update_price(
    actor: Any,
    price: RateCardPrice,
    item: RateCardItem,
    contract: Contract,
    *,
    version: int | None = None,
    **fields: Any,
) -> RateCardPrice:
    if actor is not None:
        access.require(actor, "manage", contract)
    _check_version(price, version, "price")
    _require_editable(contract)
    if price_is_locked(price):
        raise ValidationFailed.single(
            "unit_price_pence",
            "This price has been used on a submitted invoice, so it cannot be changed. "
            "End it and add a new price instead",
        )
    data = validate_price(fields, item, existing=price)
    before = snapshot(price, PRICE_FIELDS)
    for key, value in data.items():
        setattr(price, key, value)
    difference = changes(before, snapshot(price, PRICE_FIELDS))
    if difference:
        record_event(
            "rate_card_price.updated",
            actor=actor,
            record=price,
            details={"contract": contract.reference, "item": item.code, "changes": difference},
        )
    db.session.commit()
    return price


def end_price(
    actor: Any,
    price: RateCardPrice,
    item: RateCardItem,
    contract: Contract,
    *,
    effective_to: date | None,
    version: int | None = None,
) -> RateCardPrice:
    """Give an open-ended (or later-ending) price its last day; allowed even once invoiced."""
    if actor is not None:
        access.require(actor, "manage", contract)
    _check_version(price, version, "price")
    _require_editable(contract)
    if not isinstance(effective_to, date):
        raise ValidationFailed.single("effective_to", "Enter the last day the price applies")
    if effective_to < price.effective_from:
        raise ValidationFailed.single("effective_to", "The price must end on or after the day it starts")
    if price.effective_to is not None and effective_to > price.effective_to:
        raise ValidationFailed.single("effective_to", "Ending a price can only bring its last day forward")
    before = snapshot(price, PRICE_FIELDS)
    price.effective_to = effective_to
    record_event(
        "rate_card_price.ended",
        actor=actor,
        record=price,
        details={
            "contract": contract.reference,
            "item": item.code,
            "changes": changes(before, snapshot(price, PRICE_FIELDS)),
        },
    )
    db.session.commit()
    return price


def delete_price(actor: Any, price: RateCardPrice, item: RateCardItem, contract: Contract) -> None:
    if actor is not None:
        access.require(actor, "manage", contract)
    _require_editable(contract)
    if price_is_locked(price):
        raise ValidationFailed.single(
            "price", "This price has been used on a submitted invoice, so it cannot be deleted. End it instead"
        )
    record_event("rate_card_price.deleted", actor=actor, record=price, details=_price_details(price, item, contract))
    db.session.delete(price)
    db.session.commit()


# --- reading ---------------------------------------------------------------------------------------


def items_with_prices(contract: Contract) -> list[RateCardItem]:
    return list(
        db.session.scalars(
            select(RateCardItem).where(RateCardItem.contract_id == contract.id).order_by(RateCardItem.code)
        ).all()
    )


def double_billing_on(items: list[RateCardItem]) -> list[DoubleBilling]:
    """Pairs of a rate card's items that could bill one session twice by one measure: none on a
    card saved since the rule, but a card saved before it (every item pricing every kind) may have
    some until its session kinds are set."""
    return double_billing([priced_item(item) for item in items])


def outcome_types_of(contract: Contract) -> list[OutcomeType]:
    return list(
        db.session.scalars(
            select(OutcomeType)
            .where(OutcomeType.contract_id == contract.id)
            .order_by(OutcomeType.pathway, OutcomeType.code)
        ).all()
    )
