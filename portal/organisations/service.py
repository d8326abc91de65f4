"""Operations on organisations."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from portal.audit.service import record_event, snapshot
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.organisations.models import Organisation, OrganisationKind, Tier

ORGANISATION_FIELDS = (
    "name",
    "kind",
    "tier",
    "charity_number",
    "company_number",
    "vat_number",
    "address_line_1",
    "address_line_2",
    "town",
    "postcode",
    "contact_name",
    "contact_email",
    "contact_phone",
    "active",
)

VAT_NUMBER = re.compile(r"^GB(\d{9}|\d{12})$")
CHARITY_NUMBER = re.compile(r"^(SC|NI)?\d{5,8}(-\d{1,2})?$")
COMPANY_NUMBER = re.compile(r"^([A-Z]{2}\d{6}|\d{8})$")


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def validate_organisation_fields(fields: dict[str, Any], *, existing: Organisation | None = None) -> dict[str, Any]:
    """Normalised fields, or ValidationFailed naming every bad field."""
    data = {key: _clean(value) for key, value in fields.items()}
    errors: dict[str, list[str]] = {}

    if not data.get("name"):
        errors["name"] = ["Enter the organisation's name"]
    else:
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

    if errors:
        raise ValidationFailed(errors)
    return data


def create_organisation(actor: Any, **fields: Any) -> Organisation:
    data = validate_organisation_fields(fields)
    organisation = Organisation(**{key: value for key, value in data.items() if key in ORGANISATION_FIELDS})
    db.session.add(organisation)
    db.session.flush()
    record_event(
        "organisation.created",
        actor=actor,
        record=organisation,
        details={**snapshot(organisation, ORGANISATION_FIELDS), "via": "web" if actor else "cli"},
    )
    db.session.commit()
    return organisation


def find_organisation_by_name(name: str) -> Organisation | None:
    return db.session.scalars(select(Organisation).where(func.lower(Organisation.name) == name.strip().lower())).first()
