"""Recording a release: the pages and the API call `record_release`."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy import select

from portal import access
from portal.audit.service import record_event
from portal.dates import london_today, parse_user_date
from portal.db import utcnow
from portal.errors import InvalidTransition, ValidationFailed
from portal.extensions import db
from portal.persistence import check_version, commit, guards_versions, lock
from portal.places.service import find_office
from portal.referrals.models import LIVE_STATUSES, LocationType, Referral, ReferralEventKind, ReleaseType
from portal.ttg.models import CHECKLIST, FirstNight, ReleaseRecord

AREA = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]?( ?\d[A-Z]{2})?$")


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def release_of(referral: Referral) -> ReleaseRecord | None:
    return db.session.scalars(select(ReleaseRecord).where(ReleaseRecord.referral_id == referral.id)).first()


def check_release(referral: Referral, fields: dict[str, Any], today: date | None = None) -> dict[str, Any]:
    today = today or london_today()
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    released = fields.get("released_on")
    released = released if isinstance(released, date) else parse_user_date(_text(released))
    if released is None:
        errors["released_on"] = ["Enter the release date as a real date"]
    elif released > today:
        errors["released_on"] = [
            "The release date must be today or in the past: record the release once it has happened"
        ]
    elif referral.reception_date and released < referral.reception_date:
        errors["released_on"] = ["The release date must be on or after the reception date"]
    cleaned["released_on"] = released
    try:
        cleaned["release_type"] = ReleaseType(fields.get("release_type") or "")
    except ValueError:
        errors["release_type"] = ["Select how the person was released"]
    typed = _text(fields.get("community_office"))
    office = find_office(referral.crc_id, typed) if typed else None
    if not typed:
        errors["community_office"] = ["Select the probation office the person reports to now"]
    elif len(typed) > 100:
        errors["community_office"] = ["The probation office must be 100 characters or fewer"]
    elif office is None:
        errors["community_office"] = [f"{typed} is not one of the CRC's probation offices: select one from the list"]  # noqa: S608
    cleaned["community_office"] = office.name if office else typed
    cleaned["probation_office_id"] = office.id if office else None
    area = re.sub(r"\s+", " ", _text(fields.get("address_area")).upper())
    if area and not AREA.match(area):
        errors["address_area"] = ["Enter a postcode or its first half, like MK40 or MK40 1QJ"]
    cleaned["address_area"] = area or None
    try:
        cleaned["first_night"] = FirstNight(fields.get("first_night") or "")
    except ValueError:
        errors["first_night"] = ["Select where the person is sleeping on their first night out"]
    address = _text(fields.get("first_night_address"))
    if len(address) > 1000:
        errors["first_night_address"] = ["The first-night address must be 1,000 characters or fewer"]
    cleaned["first_night_address"] = address or None
    for name, _label in CHECKLIST:
        cleaned[name] = bool(fields.get(name))
    if errors:
        raise ValidationFailed(errors)
    return cleaned


@guards_versions("referral")
def record_release(
    actor: Any, referral: Referral, fields: dict[str, Any], *, version: int | str | None = None
) -> ReleaseRecord:
    """The person has been released: the referral (one case across the gate) moves to the community
    (its probation office and address area), and the release-day checklist is kept for the return's
    resettlement figures."""
    access.require(actor, "record_release", referral)
    lock(referral)
    check_version(referral, version, "referral")
    if referral.status not in LIVE_STATUSES:
        raise InvalidTransition("A release can be recorded only on a referral that is sent, accepted or in progress")
    if release_of(referral) is not None:
        raise InvalidTransition("This person's release has already been recorded")
    if referral.location_type != LocationType.CUSTODY:
        raise InvalidTransition("Only a referral for someone in custody can record a release")
    cleaned = check_release(referral, fields)
    probation_office_id = cleaned.pop("probation_office_id")
    record = ReleaseRecord(
        referral_id=referral.id,
        prison=referral.prison,
        recorded_at=utcnow(),
        recorded_by_id=actor.id,
        **cleaned,
    )
    db.session.add(record)
    before = {"location_type": referral.location_type, "community_office": referral.community_office}
    referral.location_type = LocationType.COMMUNITY
    referral.community_office = cleaned["community_office"]
    referral.probation_office_id = probation_office_id
    if cleaned["address_area"]:
        referral.postcode = cleaned["address_area"]
    referral.release_type = cleaned["release_type"]
    db.session.flush()
    record_event(
        "referral.released",
        actor=actor,
        record=referral,
        details={
            "released_on": cleaned["released_on"],
            "release_type": cleaned["release_type"].value,
            "first_night": cleaned["first_night"].value,
            "location": {
                "before": before,
                "after": {"location_type": "community", "community_office": cleaned["community_office"]},
            },
        },
    )
    from portal.formatting import format_date
    from portal.referrals.service import timeline

    timeline(
        referral,
        ReferralEventKind.NOTE,
        actor,
        f"Released from {referral.prison or 'custody'} on {format_date(cleaned['released_on'])}: now reports to "
        f"{cleaned['community_office']} (first night: {cleaned['first_night'].label.lower()})",
        {"release_id": record.id},
    )
    commit("referral")
    return record
