"""Operations on organisations: the CRC and its partners (create, edit), with their audit events."""

from __future__ import annotations

import re
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal import access
from portal.audit.service import changes, record_event, snapshot
from portal.errors import NotAllowed, ValidationFailed
from portal.extensions import db
from portal.organisations.models import Organisation, OrganisationKind, Tier
from portal.peppol import participant_id_error
from portal.persistence import check_version, guards_versions

ORGANISATION_FIELDS = (
    "name",
    "kind",
    "tier",
    "charity_number",
    "company_number",
    "vat_number",
    "peppol_id",
    "address_line_1",
    "address_line_2",
    "town",
    "postcode",
    "contact_name",
    "contact_email",
    "contact_phone",
    "active",
)
# What a contract manager may change on a partner's page; the kind never changes.
EDITABLE_FIELDS = tuple(field for field in ORGANISATION_FIELDS if field not in ("kind", "active"))

VAT_NUMBER = re.compile(r"^GB(\d{9}|\d{12})$")
CHARITY_NUMBER = re.compile(r"^(SC|NI)?\d{5,8}(-\d{1,2})?$")
COMPANY_NUMBER = re.compile(r"^([A-Z]{2}\d{6}|\d{8})$")
# The shape of a UK postcode (outward code, space, inward code), BFPO and GIR 0AA aside.
POSTCODE = re.compile(r"^([A-Z]{1,2}\d[A-Z\d]?) ?(\d[A-Z]{2})$")
PHONE = re.compile(r"^\+?[\d ()-]{7,25}$")

# Longest value each text column holds, and how the field is named in a message.
MAX_LENGTHS = {
    "name": (200, "The organisation's name"),
    "address_line_1": (200, "Address line 1"),
    "address_line_2": (200, "Address line 2"),
    "town": (100, "Town or city"),
    "contact_name": (200, "The main contact's name"),
    "contact_email": (254, "The main contact's email address"),
}

REQUIRED_CONTACT_DETAILS = {
    "address_line_1": "Enter address line 1, typically the building and street",
    "town": "Enter the town or city",
    "postcode": "Enter the postcode",
    "contact_name": "Enter the main contact's full name",
    "contact_email": "Enter the main contact's email address",
}


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def normalise_postcode(value: str) -> str:
    """Upper case with one space before the inward code: mk401qj and MK40  1QJ are both MK40 1QJ."""
    compact = re.sub(r"\s+", "", value).upper()
    return f"{compact[:-3]} {compact[-3:]}" if len(compact) > 3 else compact


def validate_organisation_fields(
    fields: dict[str, Any], *, existing: Organisation | None = None, require_contact_details: bool = False
) -> dict[str, Any]:
    """Normalised fields, or ValidationFailed naming every bad field.

    `require_contact_details`: an address and a main contact must be given (partners added or
    changed in the portal: invoices and service returns need them).
    """
    data = {key: _clean(value) for key, value in fields.items()}
    errors: dict[str, list[str]] = {}

    if require_contact_details:
        for field, message in REQUIRED_CONTACT_DETAILS.items():
            if not data.get(field):
                errors[field] = [message]

    for field, (limit, label) in MAX_LENGTHS.items():
        if data.get(field) and len(data[field]) > limit:
            errors[field] = [f"{label} must be {limit} characters or fewer"]

    if not data.get("name"):
        errors["name"] = ["Enter the organisation's name"]
    elif "name" not in errors:
        clash = select(Organisation.id).where(func.lower(Organisation.name) == data["name"].lower())
        if existing is not None:
            clash = clash.where(Organisation.id != existing.id)
        if db.session.scalar(clash) is not None:
            errors["name"] = ["An organisation with this name already exists"]

    try:
        data["kind"] = OrganisationKind(data.get("kind"))
    except ValueError:
        errors["kind"] = ["Select whether this is a CRC or a partner"]

    tier = data.get("tier")
    if data.get("kind") == OrganisationKind.PARTNER:
        try:
            data["tier"] = Tier(str(tier).upper() if tier else tier)
        except ValueError:
            errors["tier"] = ["Select the partner's tier: II (subcontract) or III (grant)"]
    elif tier:
        errors["tier"] = ["Only partners have a tier"]
    else:
        data["tier"] = None

    for field, pattern, example in (
        ("vat_number", VAT_NUMBER, "GB123456789"),
        ("charity_number", CHARITY_NUMBER, "1123456"),
        ("company_number", COMPANY_NUMBER, "01234567"),
    ):
        value = data.get(field)
        if value:
            value = value.replace(" ", "").upper()
            data[field] = value
            if not pattern.match(value):
                label = field.replace("_", " ").replace("vat", "VAT")
                errors[field] = [f"Enter a {label} in the correct format, like {example}"]

    if data.get("peppol_id"):
        data["peppol_id"] = data["peppol_id"].replace(" ", "")
        if reason := participant_id_error(data["peppol_id"]):
            errors["peppol_id"] = [reason]

    postcode = data.get("postcode")
    if postcode:
        postcode = normalise_postcode(postcode)
        data["postcode"] = postcode
        if not POSTCODE.match(postcode):
            errors["postcode"] = ["Enter a full UK postcode, like MK40 1QJ"]

    email = data.get("contact_email")
    if email and "contact_email" not in errors:
        try:
            data["contact_email"] = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            errors["contact_email"] = [
                "Enter the main contact's email address in the correct format, like name@example.org"
            ]

    phone = data.get("contact_phone")
    if phone and not PHONE.match(phone):
        errors["contact_phone"] = ["Enter the main contact's phone number in the correct format, like 01632 960 001"]

    if errors:
        raise ValidationFailed(errors)
    return data


def _flush_checking_name() -> None:
    """Write the change now; of two people saving the same name at once, the second gets a field error."""
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ValidationFailed.single("name", "An organisation with this name already exists") from None


def create_organisation(actor: Any, **fields: Any) -> Organisation:
    """Add an organisation. From the web (an `actor`) only partners are added, by contract managers."""
    if actor is not None:  # None: an operator at the command line, who may add any organisation
        access.require(actor, "add", Organisation)
        kind = fields.setdefault("kind", OrganisationKind.PARTNER)
        if kind != OrganisationKind.PARTNER:
            raise NotAllowed("Only partner organisations can be added in the portal")
    data = validate_organisation_fields(fields, require_contact_details=actor is not None)
    organisation = Organisation(**{key: value for key, value in data.items() if key in ORGANISATION_FIELDS})
    db.session.add(organisation)
    _flush_checking_name()
    record_event(
        "organisation.created",
        actor=actor,
        record=organisation,
        details={**snapshot(organisation, ORGANISATION_FIELDS), "via": "web" if actor else "cli"},
    )
    db.session.commit()
    return organisation


@guards_versions("organisation")
def update_organisation(actor: Any, organisation: Organisation, *, version: int | None, **fields: Any) -> Organisation:
    """Change a partner's details. Fields not given keep their values; the kind never changes.

    `version` is the one the editor read (None: don't check); an older one raises StaleRecord.
    """
    if actor is not None:  # None: an operator at the command line
        access.require(actor, "edit", organisation)
    check_version(organisation, version, "organisation")
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    before = snapshot(organisation, ORGANISATION_FIELDS)
    proposed = {**{field: before[field] for field in EDITABLE_FIELDS}, **fields, "kind": organisation.kind}
    data = validate_organisation_fields(proposed, existing=organisation, require_contact_details=actor is not None)
    for field in EDITABLE_FIELDS:
        setattr(organisation, field, data.get(field))
    difference = changes(before, snapshot(organisation, ORGANISATION_FIELDS))
    if difference:
        _flush_checking_name()
        record_event("organisation.updated", actor=actor, record=organisation, details={"changes": difference})
    db.session.commit()
    return organisation


def find_organisation_by_name(name: str) -> Organisation | None:
    return db.session.scalars(select(Organisation).where(func.lower(Organisation.name) == name.strip().lower())).first()
