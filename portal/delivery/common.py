"""What every kind of delivery record shares: the referrals it is recorded on, the limits on its
text, and how an operation reports what it made. (Who may record it: portal.access.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from portal.dates import london_day
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


def ended_on(referral: Referral) -> date | None:
    """The day a completed or withdrawn referral ended (London's calendar); None while it is open."""
    return day_ended(referral.completed_at, referral.withdrawn_at)


def day_ended(completed_at: datetime | None, withdrawn_at: datetime | None) -> date | None:
    """ended_on, from the two columns as a query reads them (portal.integrity)."""
    ended_at = completed_at or withdrawn_at
    return london_day(ended_at) if ended_at else None
