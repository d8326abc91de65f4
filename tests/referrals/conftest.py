"""Referrals in most stories: Nacro's Through the Gate accommodation service and a referral to it."""

import pytest

from portal.contracts.models import Unit
from portal.extensions import db
from tests.factories import RateCardItemFactory, ReferralFactory


@pytest.fixture
def ttg_service(nacro_contract):
    """Nacro's Through the Gate accommodation service: a referral fee and a per-session fee."""
    RateCardItemFactory(
        contract=nacro_contract,
        code="ACC-TTG-REF",
        service_code="ACC-TTG",
        name="Through the Gate accommodation",
        unit=Unit.PER_REFERRAL,
    )
    RateCardItemFactory(
        contract=nacro_contract,
        code="ACC-TTG-SESSION",
        service_code="ACC-TTG",
        name="Accommodation support session",
        unit=Unit.PER_SESSION,
    )
    RateCardItemFactory(
        contract=nacro_contract, code="GRANT", service_code="GRANT", name="Core grant", unit=Unit.MONTHLY_FIXED
    )
    RateCardItemFactory(contract=nacro_contract, code="OLD", service_code="OLD-SVC", name="Retired", active=False)
    nacro_contract.partner.referral_email = "referrals@nacro.example"
    db.session.commit()
    return nacro_contract


@pytest.fixture
def nacro_referral(ttg_service, referrer):
    """A referral sent to Nacro by the CRC's referrer, waiting for an answer."""
    return ReferralFactory(reference="NC2345AB", contract=ttg_service, service_code="ACC-TTG", referrer=referrer)
