"""The rules a referral's details keep, one function per part of the form.

The web wizard checks one part per page; the API and the bulk import check them all at
once. Each function takes raw values (strings from forms and files, or JSON values) and
returns cleaned values, or raises ValidationFailed naming every bad field.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy import select

from portal import access
from portal.areas import PRISONS
from portal.contracts.models import Contract, ContractStatus, RateCardItem
from portal.dates import london_today, parse_user_date
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.people.models import ETHNICITY_CODES, Disability, Gender
from portal.referrals.models import ColourBand, Complexity, LocationType, ReleaseType, RiskFlag, RoshLevel

CRN = re.compile(r"^[A-Z]\d{6}$")
PRISON_NUMBER = re.compile(r"^[A-Z]\d{4}[A-Z]{2}$")
POSTCODE = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}$")
MAX_RAR_DAYS = 60
MAX_TEXT = 5000

PERSON_FIELDS = (
    "crn",
    "prison_number",
    "given_name",
    "family_name",
    "date_of_birth",
    "gender",
    "ethnicity",
    "disability",
    "interpreter_language",
)
LOCATION_FIELDS = (
    "location_type",
    "prison",
    "expected_release_date",
    "reception_date",
    "release_type",
    "community_office",
    "postcode",
    "contact_details",
)
RISK_FIELDS = ("rosh_level", "risk_flags", "risk_summary")
NEEDS_FIELDS = ("complexity", "desired_outcomes", "reason", "rar_days", "sentence_end_date", "urgent", "colour_band")
SERVICE_FIELDS = ("contract_id", "service_code")
FIELD_LABELS = {
    "rosh_level": "risk of serious harm",
    "risk_flags": "risk flags",
    "risk_summary": "risk summary",
    "desired_outcomes": "desired outcomes",
    "rar_days": "RAR days",
    "expected_release_date": "expected release date",
    "contact_details": "contact details",
}

# What a referrer may change after sending, each change with a reason.
AMENDABLE_FIELDS = (
    "rosh_level",
    "risk_flags",
    "risk_summary",
    "desired_outcomes",
    "rar_days",
    "expected_release_date",
    "contact_details",
)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ("" if value is None else str(value).strip())


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    text = _text(value)
    return parse_user_date(text) if text else None


def _enum(value: Any, enum: type) -> Any:
    try:
        return enum(_text(value))
    except ValueError:
        return None


def normalise_crn(value: Any) -> str:
    return _text(value).upper().replace(" ", "")


def check_crn(value: Any) -> str:
    crn = normalise_crn(value)
    if not crn:
        raise ValidationFailed.single("crn", "Enter the person's CRN")
    if not CRN.match(crn):
        raise ValidationFailed.single("crn", "Enter a CRN in the correct format, like X123456")
    return crn


# --- service --------------------------------------------------------------------------------


def referrable_contracts(actor: Any, today: date | None = None) -> list[Contract]:
    """Active contracts of the referrer's CRC that are running today."""
    today = today or london_today()
    return list(
        db.session.scalars(
            access.visible(Contract, actor)
            .where(Contract.status == ContractStatus.ACTIVE, Contract.start_date <= today, Contract.end_date >= today)
            .order_by(Contract.reference)
        ).all()
    )


def referrable_services(contract: Contract) -> list[tuple[str, str]]:
    """(service_code, name) of a contract's active services, excluding fixed monthly grants,
    which belong to the contract rather than to referrals."""
    rows = db.session.execute(
        select(RateCardItem.service_code, RateCardItem.name, RateCardItem.unit)
        .where(RateCardItem.contract_id == contract.id, RateCardItem.active.is_(True))
        .order_by(RateCardItem.service_code, RateCardItem.code)
    ).all()
    services: dict[str, str] = {}
    for service_code, name, unit in rows:
        if unit.value == "monthly_fixed":
            continue
        services.setdefault(service_code, name)
    return list(services.items())


def check_service(actor: Any, fields: dict[str, Any], today: date | None = None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    contracts = {contract.id: contract for contract in referrable_contracts(actor, today)}
    contract_id = fields.get("contract_id")
    try:
        contract = contracts.get(int(contract_id)) if contract_id not in (None, "") else None
    except (TypeError, ValueError):
        contract = None
    if contract is None:
        errors["contract_id"] = ["Select an active contract your CRC holds"]
        raise ValidationFailed(errors)
    service_code = _text(fields.get("service_code")).upper()
    if service_code not in dict(referrable_services(contract)):
        errors["service_code"] = ["Select a service this contract provides"]
    if errors:
        raise ValidationFailed(errors)
    return {"contract_id": contract.id, "service_code": service_code}


# --- person -----------------------------------------------------------------------------------


def check_person(fields: dict[str, Any], today: date | None = None) -> dict[str, Any]:
    today = today or london_today()
    errors: dict[str, list[str]] = {}
    data: dict[str, Any] = {}
    try:
        data["crn"] = check_crn(fields.get("crn"))
    except ValidationFailed as failure:
        errors.update(failure.errors)

    prison_number = _text(fields.get("prison_number")).upper().replace(" ", "")
    if prison_number and not PRISON_NUMBER.match(prison_number):
        errors["prison_number"] = ["Enter a prison number in the correct format, like A1234BC"]
    data["prison_number"] = prison_number or None

    for field, label in (("given_name", "first name"), ("family_name", "last name")):
        value = _text(fields.get(field))
        if not value:
            errors[field] = [f"Enter the person's {label}"]
        elif len(value) > 100:
            errors[field] = [f"The {label} must be 100 characters or fewer"]
        data[field] = value

    birth = _date(fields.get("date_of_birth"))
    if fields.get("date_of_birth") in (None, "") and birth is None:
        errors["date_of_birth"] = ["Enter the person's date of birth"]
    elif birth is None:
        errors["date_of_birth"] = ["Date of birth must be a real date"]
    elif birth > today:
        errors["date_of_birth"] = ["Date of birth must be in the past"]
    elif _age(birth, today) < 18:
        errors["date_of_birth"] = ["The person must be 18 or over: the CRC works with adults"]
    elif _age(birth, today) > 110:
        errors["date_of_birth"] = ["Check the date of birth: the person would be over 110"]
    data["date_of_birth"] = birth

    data["gender"] = _enum(fields.get("gender"), Gender)
    if data["gender"] is None:
        errors["gender"] = ["Select the person's gender, or 'not stated'"]
    ethnicity = _text(fields.get("ethnicity"))
    if ethnicity not in ETHNICITY_CODES:
        errors["ethnicity"] = ["Select the person's ethnic group, or 'not stated'"]
    data["ethnicity"] = ethnicity
    data["disability"] = _enum(fields.get("disability"), Disability)
    if data["disability"] is None:
        errors["disability"] = ["Select whether the person has a disability, or 'not stated'"]
    language = _text(fields.get("interpreter_language"))
    if len(language) > 60:
        errors["interpreter_language"] = ["The language must be 60 characters or fewer"]
    data["interpreter_language"] = language or None
    if errors:
        raise ValidationFailed(errors)
    return data


def _age(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


# --- location ------------------------------------------------------------------------------------


def check_location(fields: dict[str, Any], today: date | None = None) -> dict[str, Any]:
    today = today or london_today()
    errors: dict[str, list[str]] = {}
    data: dict[str, Any] = dict.fromkeys(LOCATION_FIELDS)
    data["location_type"] = _enum(fields.get("location_type"), LocationType)
    if data["location_type"] is None:
        errors["location_type"] = ["Select whether the person is in custody or in the community"]
    elif data["location_type"] == LocationType.CUSTODY:
        prison = _text(fields.get("prison"))
        if prison not in PRISONS:
            errors["prison"] = ["Select the prison the person is in"]
        data["prison"] = prison
        release = _date(fields.get("expected_release_date"))
        if release is None:
            errors["expected_release_date"] = ["Enter the expected release date, as a real date"]
        elif release < today:
            errors["expected_release_date"] = ["The expected release date must be today or in the future"]
        data["expected_release_date"] = release
        reception = fields.get("reception_date")
        if reception not in (None, ""):
            reception = _date(reception)
            if reception is None:
                errors["reception_date"] = ["Enter the reception date as a real date, or leave it empty"]
            elif reception > today:
                errors["reception_date"] = ["The reception date must be today or in the past"]
        data["reception_date"] = reception or None
        if fields.get("release_type") not in (None, ""):
            data["release_type"] = _enum(fields.get("release_type"), ReleaseType)
            if data["release_type"] is None:
                errors["release_type"] = ["Select how the person is to be released"]
    else:
        office = _text(fields.get("community_office"))
        if not office:
            errors["community_office"] = ["Enter the probation office the person reports to"]
        elif len(office) > 100:
            errors["community_office"] = ["The probation office must be 100 characters or fewer"]
        data["community_office"] = office
        postcode = _text(fields.get("postcode")).upper()
        postcode = re.sub(r"\s+", " ", postcode)
        if postcode and not POSTCODE.match(postcode):
            errors["postcode"] = ["Enter a real postcode, like PE29 3SJ"]
        data["postcode"] = postcode or None
    contact = _text(fields.get("contact_details"))
    if len(contact) > MAX_TEXT:
        errors["contact_details"] = [f"Contact details must be {MAX_TEXT} characters or fewer"]
    data["contact_details"] = contact or None
    if errors:
        raise ValidationFailed(errors)
    return data


# --- risk -------------------------------------------------------------------------------------------


def check_risk(fields: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    rosh = _enum(fields.get("rosh_level"), RoshLevel)
    if rosh is None:
        errors["rosh_level"] = ["Select the risk of serious harm level: low or medium (high-risk cases are the NPS's)"]
    flags = fields.get("risk_flags") or []
    if isinstance(flags, str):
        flags = [flag for flag in re.split(r"[;,|]", flags) if flag.strip()]
    cleaned = []
    for flag in flags:
        value = _enum(flag, RiskFlag)
        if value is None:
            errors["risk_flags"] = [f"Unknown risk flag '{_text(flag)}'"]
        elif value not in cleaned:
            cleaned.append(value)
    summary = _text(fields.get("risk_summary"))
    if not summary:
        errors["risk_summary"] = ["Enter a summary of the risk information the partner must read before accepting"]
    elif len(summary) > MAX_TEXT:
        errors["risk_summary"] = [f"The risk summary must be {MAX_TEXT} characters or fewer"]
    if errors:
        raise ValidationFailed(errors)
    order = list(RiskFlag)
    return {
        "rosh_level": rosh,
        "risk_flags": [flag.value for flag in sorted(cleaned, key=order.index)],
        "risk_summary": summary,
    }


# --- needs -----------------------------------------------------------------------------------------


def check_needs(fields: dict[str, Any], today: date | None = None) -> dict[str, Any]:
    today = today or london_today()
    errors: dict[str, list[str]] = {}
    data: dict[str, Any] = {}
    data["complexity"] = _enum(fields.get("complexity"), Complexity)
    if data["complexity"] is None:
        errors["complexity"] = ["Select how complex the person's needs are"]
    outcomes = fields.get("desired_outcomes") or []
    if isinstance(outcomes, str):
        outcomes = outcomes.splitlines()
    outcomes = [_text(outcome) for outcome in outcomes if _text(outcome)]
    if not outcomes:
        errors["desired_outcomes"] = ["Enter at least one outcome the person wants to achieve"]
    elif any(len(outcome) > 300 for outcome in outcomes) or len(outcomes) > 20:
        errors["desired_outcomes"] = ["Enter up to 20 outcomes, each 300 characters or fewer"]
    data["desired_outcomes"] = outcomes
    reason = _text(fields.get("reason"))
    if not reason:
        errors["reason"] = ["Enter why the person is being referred and what they need"]
    elif len(reason) > MAX_TEXT:
        errors["reason"] = [f"The reason must be {MAX_TEXT} characters or fewer"]
    data["reason"] = reason

    rar = fields.get("rar_days")
    if rar in (None, ""):
        data["rar_days"] = None
    else:
        try:
            rar_days = int(_text(rar)) if not isinstance(rar, int) or isinstance(rar, bool) else rar
        except ValueError:
            rar_days = None
        if rar_days is None or isinstance(rar, bool) or not 0 <= rar_days <= MAX_RAR_DAYS:
            errors["rar_days"] = [f"RAR days must be a whole number from 0 to {MAX_RAR_DAYS}"]
        data["rar_days"] = rar_days

    end = fields.get("sentence_end_date")
    data["sentence_end_date"] = _date(end)
    if end in (None, ""):
        errors["sentence_end_date"] = ["Enter the date the sentence ends"]
    elif data["sentence_end_date"] is None:
        errors["sentence_end_date"] = ["The sentence end date must be a real date"]
    elif data["sentence_end_date"] < today:
        errors["sentence_end_date"] = ["The sentence end date must be today or in the future"]

    urgent = fields.get("urgent")
    data["urgent"] = urgent is True or _text(urgent).lower() in {"true", "yes", "y", "1", "on"}
    band = fields.get("colour_band")
    data["colour_band"] = _enum(band, ColourBand) if band not in (None, "") else None
    if band not in (None, "") and data["colour_band"] is None:
        errors["colour_band"] = ["Select a colour band: green, yellow, blue or red"]
    if errors:
        raise ValidationFailed(errors)
    return data


RAR_DAYS_IN_CUSTODY = (
    "RAR days are for community orders: leave RAR days empty for someone in custody "
    "(a Rehabilitation Activity Requirement is part of a community sentence)"
)


def check_rar_days_setting(location_type: Any, rar_days: Any) -> None:
    """A custody referral has no RAR days: refuse any (API.md, "Billing rules")."""
    if rar_days and _text(getattr(location_type, "value", location_type)) == LocationType.CUSTODY.value:
        raise ValidationFailed.single("rar_days", RAR_DAYS_IN_CUSTODY)


def check_everything(
    actor: Any, fields: dict[str, Any], today: date | None = None, *, service_check: Any = None
) -> dict[str, Any]:
    """All parts at once (the API and bulk import): every bad field is reported together.
    `service_check(fields)` may replace the database lookup of contract and service (the bulk
    import looks its contracts up once, not once a row)."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    service_check = service_check or (lambda values: check_service(actor, values, today))
    for check in (
        lambda: service_check(fields),
        lambda: check_person(fields, today),
        lambda: check_location(fields, today),
        lambda: check_risk(fields),
        lambda: check_needs(fields, today),
    ):
        try:
            cleaned.update(check())
        except ValidationFailed as failure:
            errors.update(failure.errors)
    if (
        "expected_release_date" in cleaned
        and cleaned.get("sentence_end_date")
        and cleaned["expected_release_date"]
        and cleaned["sentence_end_date"] < cleaned["expected_release_date"]
    ):
        errors.setdefault("sentence_end_date", ["The sentence cannot end before the expected release date"])
    try:
        check_rar_days_setting(cleaned.get("location_type"), cleaned.get("rar_days"))
    except ValidationFailed as failure:
        errors.setdefault("rar_days", failure.errors["rar_days"])
    if errors:
        raise ValidationFailed(errors)
    return cleaned
