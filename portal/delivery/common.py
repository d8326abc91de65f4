"""What every kind of delivery record shares: who may record it, the referrals it is recorded on,
and how an operation reports what it made."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from portal.accounts.models import PARTNER_ROLES, Role
from portal.contracts.models import Contract
from portal.dates import london_day
from portal.errors import NotAllowed, NotFound
from portal.extensions import db
from portal.referrals.models import Referral, ReferralStatus

MAX_TEXT = 5000
DELIVERING = frozenset({ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS})


@dataclass
class Recorded:
    """What an operation made, and anything the user should be warned about."""

    record: Any
    warnings: list[str] = field(default_factory=list)


def text_of(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def accepted_on(referral: Referral) -> date | None:
    return london_day(referral.accepted_at) if referral.accepted_at else None


# --- who may act -------------------------------------------------------------------------------------


def contract_of(referral: Referral) -> Contract:
    return db.session.get(Contract, referral.contract_id)


def require_partner_user(actor: Any, referral: Referral) -> Contract:
    """Partner users of the referral's partner record delivery; the CRC reads it (403), others 404."""
    contract = contract_of(referral)
    if actor.is_crc_user and contract.crc_id == actor.organisation_id:
        raise NotAllowed("Only the partner records delivery")
    if (
        actor.role not in PARTNER_ROLES
        or contract.partner_id != actor.organisation_id
        or referral.status == ReferralStatus.DRAFT
    ):
        raise NotFound
    return contract


def require_crc_decider(actor: Any, referral: Referral) -> None:
    """CRC referrers and contract managers of the referral's CRC verify and reject outcomes."""
    if actor.is_partner_user:
        contract = contract_of(referral)
        if contract.partner_id == actor.organisation_id:
            raise NotAllowed("The CRC verifies outcomes")
        raise NotFound
    if referral.crc_id != actor.organisation_id:
        raise NotFound
    if actor.role not in (Role.CRC_REFERRER, Role.CONTRACT_MANAGER):
        raise NotAllowed("Only CRC referrers and contract managers verify outcomes")
