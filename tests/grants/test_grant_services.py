"""A grant's services take referrals with no rate-card item: the grant's schedule of instalments pays
for their work, so people are referred to them from the start, their sessions count in the return,
and nothing of it is ever invoiced (issue 18)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
import time_machine
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.contracts import services
from portal.contracts.models import ContractTier, RateCardItem, Unit
from portal.dates import Period, PeriodKind
from portal.delivery import sessions
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.formatting import LONDON
from portal.grants import service
from portal.invoicing import queries
from portal.invoicing import service as invoicing
from portal.referrals import service as referrals
from portal.returns.kpis import figure
from portal.returns.records import figures_for
from tests.factories import ContractFactory, RateCardItemFactory
from tests.helpers import STORY_DAY, text_of

pytestmark = pytest.mark.on_day(STORY_DAY)  # 7 December 2026; the grant runs from 1 April 2026

QUARTERLY_IN_ADVANCE = (
    b"period_start,period_end,due_on,amount,timing,needs_accepted_return\n"
    b"2026-04-01,2026-06-30,2026-04-01,8000.00,advance,no\n"
    b"2026-07-01,2026-09-30,2026-07-01,8000.00,advance,no\n"
    b"2026-10-01,2026-12-31,2026-10-01,8000.00,advance,no\n"
)


@pytest.fixture
def grant(crc, nacro):
    return ContractFactory(
        reference="BENCH-WOM-02",
        title="Women's services: Bedford area",
        crc=crc,
        partner=nacro,
        tier=ContractTier.GRANT,
        value_cap_pence=100_000_00,
        payment_terms_days=14,
    )


def a_woman_on_a_community_order(contract, service_code):
    return {
        "contract_id": contract.id,
        "service_code": service_code,
        "crn": "x654321",
        "given_name": "Jo",
        "family_name": "Brown",
        "date_of_birth": date(1988, 6, 1),
        "gender": "female",
        "ethnicity": "white_british",
        "disability": "no",
        "location_type": "community",
        "community_office": "Bedford probation office",
        "postcode": "MK40 1AA",
        "contact_details": "Mobile 07700 900123",
        "rosh_level": "low",
        "risk_flags": [],
        "risk_summary": "No current risk concerns recorded in OASys.",
        "complexity": "medium",
        "desired_outcomes": ["Feel safe at home"],
        "reason": "Referred to the women's centre for one-to-one support and groups.",
        "rar_days": 10,
        "sentence_end_date": STORY_DAY + timedelta(days=300),
        "urgent": False,
        "colour_band": "",
    }


def on(day: date, hour: int = 10):
    return time_machine.travel(datetime.combine(day, time(hour), tzinfo=LONDON), tick=False)


def test_a_grants_service_takes_referrals_from_the_start_counted_in_the_return_and_never_invoiced(
    grant, contract_manager, referrer, nacro_manager, portal
):
    # The contract manager adds the grant's service: no rate-card item prices it, and none is needed.
    womens = services.add_service(
        contract_manager,
        grant,
        code="WOM-BED",
        name="Women's services (Bedford)",
        pathway="women_abuse",
        setting="community",
    )
    service.import_schedule(contract_manager, grant, QUARTERLY_IN_ADVANCE)
    assert womens.open_to_referrals
    assert not db.session.scalar(select(RateCardItem.id).where(RateCardItem.contract_id == grant.id))
    assert womens in services.open_services(referrer)

    # A referrer sends a woman to it; the partner accepts her and records her sessions.
    with on(date(2026, 11, 2)):
        referral = referrals.create_and_send(referrer, a_woman_on_a_community_order(grant, "WOM-BED"))
        referrals.accept_referral(nacro_manager, referral, risk_information_read=True)
    with on(date(2026, 11, 9), 15):
        sessions.record_session(
            nacro_manager,
            referral,
            {
                "date": date(2026, 11, 9),
                "start_time": "11:00",
                "duration_minutes": 60,
                "kind": "one_to_one",
                "counts_as_rar_day": True,
                "summary": "Safety plan agreed.",
                "attendance": "attended",
                "non_attendance_reason": "",
                "behaviour_concern": False,
                "concern_detail": "",
            },
        )

    # November's return counts the referral and the session, with the grant's instalments paid by schedule.
    figures = figures_for(grant, Period(PeriodKind.MONTH, date(2026, 11, 1)), today=STORY_DAY)
    assert figure(figures, "received") == 1 and figure(figures, "held") == 1
    assert figure(figures, "rar_days_delivered") == 1

    # Its work is never invoiced: the grant is not offered to invoice, and a draft is refused.
    assert grant not in queries.contract_choices(nacro_manager, billable_only=True)
    with pytest.raises(ValidationFailed) as refused:
        invoicing.generate_draft(nacro_manager, grant, "2026-11")
    assert "schedule of instalments" in refused.value.errors["contract"][0]
    db.session.rollback()  # as the page does on a refusal (it had locked the contract)
    portal.sign_in(nacro_manager.email)
    page = text_of(portal.get("/invoices/new"))
    assert "BENCH-WOM-02" not in page and "A grant paid by its schedule of instalments is not invoiced" in page


def test_setting_a_schedule_opens_a_service_closed_only_for_want_of_an_item_to_refer_to(
    grant, contract_manager, nacro_manager
):
    # Set up before schedules: the grant's monthly amount was its only item, so the portal made its
    # service closed (no one is referred to a monthly amount), and nothing would ever have opened it.
    RateCardItemFactory(
        contract=grant, code="WOM-BED-GRANT", service_code="WOM-BED", name="Women's grant", unit=Unit.MONTHLY_FIXED
    )
    db.session.commit()
    # A service the contract manager added closed (its members are invited, not referred) stays closed.
    council = services.add_service(
        contract_manager,
        grant,
        code="WOM-COUNCIL",
        name="Women's council",
        pathway="women_abuse",
        setting="community",
        open_to_referrals=False,
    )
    (womens,) = [s for s in services.services_of(grant) if s.code == "WOM-BED"]
    assert not womens.open_to_referrals

    service.add_instalment(
        contract_manager,
        grant,
        service.InstalmentFields(date(2026, 10, 1), date(2026, 12, 31), date(2026, 10, 1), 8_000_00, "advance", False),
    )

    assert womens.open_to_referrals is True
    assert council.open_to_referrals is False
    opened = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "service.opened")).all()
    assert [(e.actor_id, e.details["code"]) for e in opened] == [(contract_manager.id, "WOM-BED")]
    assert "schedule of instalments" in opened[0].details["why"]
