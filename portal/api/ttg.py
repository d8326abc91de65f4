"""Through the Gate: a custody referral's release, by the operation the release page calls
(portal.ttg.service), which moves the case to the community and keeps the release-day checklist."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import ConfigDict, Field
from sqlalchemy.orm import joinedload

from portal import access
from portal.accounts.models import User
from portal.api import schemas
from portal.api.blueprint import api
from portal.api.referrals import load_referral
from portal.errors import NotFound
from portal.referrals.models import Referral, ReleaseType
from portal.ttg import service
from portal.ttg.models import FirstNight, ReleaseRecord


class NewRelease(schemas.Body):
    released_on: date
    release_type: ReleaseType
    community_office: str = Field(description="The probation office the person reports to now.")
    address_area: str | None = Field(None, description="The address's postcode, or its first half (MK40).")
    first_night: FirstNight = Field(description="Where they sleep on the first night out.")
    first_night_address: str | None = None
    id_held: bool = False
    bank_account: bool = False
    benefit_claim: bool = Field(False, description="A benefit claim has been made.")
    gp_registered: bool = False
    met_at_gate: bool = False
    version: schemas.Version = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "released_on": "2026-10-14",
                    "release_type": "conditional_release",
                    "community_office": "Bedford probation office",
                    "address_area": "MK40",
                    "first_night": "supported_housing",
                    "id_held": True,
                    "bank_account": True,
                    "benefit_claim": True,
                    "gp_registered": False,
                    "met_at_gate": True,
                }
            ]
        }
    )


class Release(schemas.Out):
    referral: str
    released_on: date
    release_type: ReleaseType
    prison: str | None = Field(description="Released from.")
    community_office: str
    address_area: str | None
    first_night: FirstNight
    first_night_settled: bool = Field(description="Settled accommodation on the first night (the return counts it).")
    first_night_address: str | None
    id_held: bool
    bank_account: bool
    benefit_claim: bool
    gp_registered: bool
    met_at_gate: bool
    recorded_at: schemas.Timestamp
    recorded_by: schemas.StaffMember


def present(referral: Referral, record: ReleaseRecord) -> Release:
    return Release(
        referral=referral.reference,
        first_night_settled=record.first_night.settled,
        recorded_by=schemas.StaffMember(name=record.recorded_by.name, email=record.recorded_by.email),
        **{
            name: getattr(record, name)
            for name in (
                "released_on",
                "release_type",
                "prison",
                "community_office",
                "address_area",
                "first_night",
                "first_night_address",
                "id_held",
                "bank_account",
                "benefit_claim",
                "gp_registered",
                "met_at_gate",
                "recorded_at",
            )
        },
    )


def _release_now(user: User, referral: Referral) -> Release:
    from portal.extensions import db

    record = db.session.scalars(
        access.visible(ReleaseRecord, user)
        .where(ReleaseRecord.referral_id == referral.id)
        .options(joinedload(ReleaseRecord.recorded_by))
    ).first()
    if record is None:
        raise NotFound("This person's release has not been recorded")
    return present(referral, record)


@api.route(
    "POST",
    "/referrals/<reference>/release",
    load=load_referral,
    body=NewRelease,
    response=Release,
    status=201,
    errors=(403, 409),
    who="Partner users, CRC referrer",
    tag="Through the Gate",
    summary="Record a release from custody",
    description="The referral (one case across the gate) moves to the community: its probation office and "
    "address area. Only for a custody referral that is sent, accepted or in progress, once (409 otherwise). "
    "The release-day checklist feeds the service return's resettlement figures.",
)
def record_release(user: User, record: Referral, body: NewRelease) -> Any:
    service.record_release(user, record, body.model_dump(exclude={"version"}), version=body.version)
    return _release_now(user, record)


@api.route(
    "GET",
    "/referrals/<reference>/release",
    load=load_referral,
    response=Release,
    who="Everyone",
    tag="Through the Gate",
    summary="Read a referral's release",
    description="404 until the release is recorded.",
)
def get_release(user: User, record: Referral) -> Any:
    return _release_now(user, record)
