"""A priced contract with work recorded on it, for invoicing stories."""

from datetime import UTC, date, datetime, time

import pytest

from portal.contracts.models import Unit
from portal.delivery.models import Attendance
from portal.extensions import db
from portal.referrals.models import ReferralStatus
from tests.factories import (
    OutcomeFactory,
    OutcomeTypeFactory,
    PersonFactory,
    RateCardItemFactory,
    RateCardPriceFactory,
    ReferralFactory,
    SessionFactory,
)


class Work:
    """Records work on a contract the way the portal would hold it, tersely."""

    def __init__(self, contract, referrer, caseworker):
        self.contract, self.referrer, self.caseworker = contract, referrer, caseworker

    def referral(self, accepted_on: date, *, rar_days=None, reference=None):
        return (
            ReferralFactory(
                contract=self.contract,
                service_code="TTG",
                referrer=self.referrer,
                status=ReferralStatus.IN_PROGRESS,
                rar_days=rar_days,
                reference=reference or None,
                accepted_at=datetime.combine(accepted_on, time(10), tzinfo=UTC),
                person=PersonFactory(),
            )
            if reference
            else ReferralFactory(
                contract=self.contract,
                service_code="TTG",
                referrer=self.referrer,
                status=ReferralStatus.IN_PROGRESS,
                rar_days=rar_days,
                accepted_at=datetime.combine(accepted_on, time(10), tzinfo=UTC),
            )
        )

    def session(self, referral, day: date, minutes=60, *, rar=False, attendance=Attendance.ATTENDED):
        return SessionFactory(
            referral=referral,
            date=day,
            duration_minutes=minutes,
            attendance=attendance,
            counts_as_rar_day=rar,
            recorded_by=self.caseworker,
        )

    def outcome(self, referral, outcome_type, achieved_on: date, *, verified=True):
        return OutcomeFactory(
            referral=referral,
            outcome_type=outcome_type,
            achieved_on=achieved_on,
            evidence="Seen.",
            claimed_by=self.caseworker,
            verified=verified,
        )


@pytest.fixture
def priced(nacro_contract):
    """Nacro's contract with one item of every unit on service TTG (prices from April 2025), VAT 20%."""
    nacro_contract.vat_rate_bp = 2000
    nacro_contract.start_date = date(2025, 4, 1)
    first_night = OutcomeTypeFactory(
        contract=nacro_contract, code="accommodation_secured_first_night", name="Accommodation on the first night"
    )
    for code, unit, pence, extra in (
        ("TTG-REF", Unit.PER_REFERRAL, 15000, {}),
        ("TTG-SESSION", Unit.PER_SESSION, 4500, {"max_units_per_referral": 10}),
        ("TTG-HOUR", Unit.PER_HOUR, 3000, {}),
        ("TTG-RAR", Unit.PER_RAR_DAY, 11000, {}),
        ("TTG-NIGHT", Unit.PER_OUTCOME, 40000, {"outcome_type": first_night}),
    ):
        item = RateCardItemFactory(
            contract=nacro_contract, code=code, service_code="TTG", unit=unit, name=code, **extra
        )
        RateCardPriceFactory(item=item, unit_price_pence=pence, effective_from=date(2025, 4, 1))
    db.session.commit()
    nacro_contract.first_night = first_night
    return nacro_contract


@pytest.fixture
def work(priced, referrer, nacro_caseworker):
    return Work(priced, referrer, nacro_caseworker)
