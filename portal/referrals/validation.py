"""The rules a referral's details keep, one function per part of the form.

The web wizard checks one part per page; the API and the bulk import check them all at
once. Each function takes raw values (strings from forms and files, or JSON values) and
returns cleaned values, or raises ValidationFailed naming every bad field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date
from typing import Any

from sqlalchemy import select

from portal import access
from portal.contracts.eligibility import Candidate, broken_rules
from portal.contracts.models import Contract, ContractStatus, Service
from portal.dates import london_today, parse_user_date
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.people.models import ETHNICITY_CODES, Disability, Gender
from portal.referrals.models import (
    C2C,
    ColourBand,
    Complexity,
    LocationType,
    ReleaseType,
    Reoffending,
    RiskFlag,
    RoshLevel,
)

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
NEEDS_FIELDS = (
    "complexity",
    "desired_outcomes",
    "reason",
    "rar_days",
    "sentence_end_date",
    "urgent",
    "reoffending",
    "c2c",
    "colour_band",
    "colour_band_reason",
)
SERVICE_FIELDS = ("contract_id", "service_code")
FIELD_LABELS = {
    "rosh_level": "risk of serious harm",
    "risk_flags": "risk flags",
    "risk_summary": "risk summary",
    "desired_outcomes": "desired outcomes",
    "rar_days": "RAR days",
    "expected_release_date": "expected release date",
    "contact_details": "contact details",
    "reoffending": "likelihood of reoffending",
    "c2c": "C2C",
    "colour_band": "colour band",
    "colour_band_reason": "reason for the colour band",
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
    "reoffending",
    "c2c",
    "colour_band",
    "colour_band_reason",
)
# What the colour band is worked out from (portal.referrals.banding): an amendment to any of them,
# or to the band itself, works it out again.
BAND_INPUTS = ("rosh_level", "reoffending", "c2c")


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


@dataclass
class Lookups:
    """What the checks look up in the database, loaded once for many referrals: the bulk import
    checks thousands of rows, so its queries must not grow with them (one per table, not a row)."""

    places: Any  # portal.places.service.PlaceFinder of the referrer's CRC
    services: dict[tuple[int, str], Service] = dataclass_field(default_factory=dict)  # (contract id, code)

    @classmethod
    def load(cls, crc_id: int, contract_ids: list[int]) -> Lookups:
        from portal.places.service import PlaceFinder

        services = []
        if contract_ids:
            services = db.session.scalars(select(Service).where(Service.contract_id.in_(contract_ids))).all()
        return cls(PlaceFinder.of(crc_id), {(service.contract_id, service.code): service for service in services})


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
    """(code, name) of a contract's services open to referrals, by name."""
    return [
        (code, name)
        for code, name in db.session.execute(
            select(Service.code, Service.name)
            .where(Service.contract_id == contract.id, Service.open_to_referrals.is_(True))
            .order_by(Service.name)
        ).all()
    ]


def service_code_for(services: dict[str, str], fields: dict[str, Any], contract: Contract) -> str:
    """The code of the service `fields` name, by `service_code` or by `service` (its name), from
    `services` (code -> name, those open to referrals); ValidationFailed naming the field if none."""
    code = _text(fields.get("service_code")).upper()
    name = " ".join(_text(fields.get("service")).split())
    if name:
        by_name = {service_name.lower(): service_code for service_code, service_name in services.items()}
        named = by_name.get(name.lower())
        if named is None:
            raise ValidationFailed.single(
                "service", f"Contract {contract.reference} has no service open to referrals called {name}"
            )
        if code and code != named:
            raise ValidationFailed.single("service_code", f"Service code {code} is not the code of {name} ({named})")
        return named
    if not code:
        raise ValidationFailed.single("service_code", "Select the service to refer the person to")
    if code not in services:
        raise ValidationFailed.single(
            "service_code",
            f"Select a service this contract provides: {contract.reference} has no service {code} open to referrals",
        )
    return code


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
    code = service_code_for(dict(referrable_services(contract)), fields, contract)
    return {"contract_id": contract.id, "service_code": code}


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


def check_location(
    fields: dict[str, Any], today: date | None = None, *, crc_id: int | None = None, places: Any = None
) -> dict[str, Any]:
    """Where the person is: a prison or probation office of the CRC's reference data (portal.places),
    named as the records name them (an office also by another spelling of its name). `places`, a
    PlaceFinder of the CRC, saves looking them up again for each of many referrals."""
    from portal.places.service import find_office, find_prison

    if places is not None:
        find_prison = lambda _crc_id, name: places.prison(name)  # noqa: E731
        find_office = lambda _crc_id, name: places.office(name)  # noqa: E731
    today = today or london_today()
    errors: dict[str, list[str]] = {}
    data: dict[str, Any] = dict.fromkeys(LOCATION_FIELDS)
    data["prison_id"] = data["probation_office_id"] = None
    data["location_type"] = _enum(fields.get("location_type"), LocationType)
    if data["location_type"] is None:
        errors["location_type"] = ["Select whether the person is in custody or in the community"]
    elif data["location_type"] == LocationType.CUSTODY:
        prison = find_prison(crc_id, _text(fields.get("prison"))) if crc_id is not None else None
        if prison is None:
            errors["prison"] = ["Select the prison the person is in"]
            data["prison"] = _text(fields.get("prison"))
        else:
            data["prison"], data["prison_id"] = prison.name, prison.id
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
        typed = _text(fields.get("community_office"))
        office = find_office(crc_id, typed) if crc_id is not None and typed else None
        if not typed:
            errors["community_office"] = ["Select the probation office the person reports to"]
        elif len(typed) > 100:
            errors["community_office"] = ["The probation office must be 100 characters or fewer"]
        elif office is None:
            errors["community_office"] = [
                f"{typed[:100]} is not one of the CRC's probation offices: select one from the list"  # noqa: S608
            ]
        data["community_office"] = office.name if office else typed
        data["probation_office_id"] = office.id if office else None
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
    likely = fields.get("reoffending")
    data["reoffending"] = _enum(likely, Reoffending) if likely not in (None, "") else None
    if likely not in (None, "") and data["reoffending"] is None:
        errors["reoffending"] = ["Select the likelihood of reoffending: low or high"]
    c2c = fields.get("c2c")
    data["c2c"] = _enum(c2c, C2C) if c2c not in (None, "") else None
    if c2c not in (None, "") and data["c2c"] is None:
        errors["c2c"] = ["Select C2C: low or high"]
    band_reason = _text(fields.get("colour_band_reason"))
    if len(band_reason) > 2000:
        errors["colour_band_reason"] = ["The reason for the band must be 2000 characters or fewer"]
    data["colour_band_reason"] = band_reason or None
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
    actor: Any,
    fields: dict[str, Any],
    today: date | None = None,
    *,
    service_check: Any = None,
    lookups: Lookups | None = None,
) -> dict[str, Any]:
    """All parts at once (the API and bulk import): every bad field is reported together.
    `service_check(fields)` may replace the database lookup of contract and service, and `lookups`
    those of places and services' rules (the bulk import loads them once for the file, not a row)."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    service_check = service_check or (lambda values: check_service(actor, values, today))
    for check in (
        lambda: service_check(fields),
        lambda: check_person(fields, today),
        lambda: check_location(
            fields, today, crc_id=getattr(actor, "organisation_id", None), places=lookups.places if lookups else None
        ),
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
    if not errors:
        errors.update(check_band(cleaned))
    if not errors:
        errors.update(check_eligibility(cleaned, today, lookups))
    if errors:
        raise ValidationFailed(errors)
    return cleaned


def check_band(cleaned: dict[str, Any]) -> dict[str, list[str]]:
    """The colour band: the one the risk of serious harm, likelihood of reoffending and C2C suggest
    (portal.referrals.banding, when the first two are known) unless the referrer chose another and said why.
    Fills in the suggested band when none was chosen; keeps a reason only for a band that differs."""
    from portal.referrals.banding import suggested_band

    suggested = suggested_band(cleaned.get("rosh_level"), cleaned.get("reoffending"), cleaned.get("c2c"))
    if suggested is None:
        return {}
    if cleaned.get("colour_band") is None:
        cleaned["colour_band"] = suggested
    if cleaned["colour_band"] == suggested:
        cleaned["colour_band_reason"] = None
        return {}
    if not cleaned.get("colour_band_reason"):
        factors = (
            "the risk, likelihood of reoffending and C2C"
            if cleaned.get("c2c")
            else ("the risk and likelihood of reoffending")
        )
        return {
            "colour_band_reason": [
                f"Say why the band is {cleaned['colour_band'].label}: {factors} suggest {suggested.label}"
            ]
        }
    return {}


def check_eligibility(
    cleaned: dict[str, Any], today: date | None = None, lookups: Lookups | None = None
) -> dict[str, list[str]]:
    """The rules of the chosen service that the referral breaks, by field ({} when eligible): the
    one check the form, the bulk import and the API all make when a referral is sent."""
    from portal.places.models import ProbationOffice
    from portal.places.service import names_of

    if lookups is not None:
        service = lookups.services.get((cleaned["contract_id"], cleaned["service_code"]))
    else:
        service = db.session.scalars(
            select(Service).where(
                Service.contract_id == cleaned["contract_id"], Service.code == cleaned["service_code"]
            )
        ).first()
    if service is None:
        return {"service_code": ["Select a service this contract provides"]}
    office_id = cleaned.get("probation_office_id")
    if lookups is not None:
        office = lookups.places.offices_by_id.get(office_id) if office_id else None
        county = lookups.places.county_of(office)
    else:
        office = db.session.get(ProbationOffice, office_id) if office_id else None
        county = office.county if office else None
    gender, location = cleaned.get("gender"), cleaned.get("location_type")
    candidate = Candidate(
        gender=getattr(gender, "value", gender),
        date_of_birth=cleaned.get("date_of_birth"),
        location_type=getattr(location, "value", location),
        prison_id=cleaned.get("prison_id"),
        prison_name=cleaned.get("prison"),
        probation_office_id=office.id if office else None,
        probation_office_name=office.name if office else None,
        county_id=office.county_id if office else None,
        county_name=county.name if county else None,
    )
    places = None
    if lookups is not None:
        places = lookups.places.names
    elif service.county_ids or service.prison_ids or service.probation_office_ids:
        crc_id = db.session.scalar(select(Contract.crc_id).where(Contract.id == service.contract_id))
        places = names_of(crc_id)
    return broken_rules(service, candidate, today or london_today(), places)
