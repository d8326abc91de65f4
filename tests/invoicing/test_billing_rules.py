"""The billing rules of API.md as worked examples on the database. Each example states the figures
by hand, and the portal's SQL and the independent row-by-row oracle must both give them."""

from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.contracts.models import Unit
from portal.dates import months_between
from portal.delivery.models import Attendance, OutcomeStatus, SessionKind
from portal.extensions import db
from portal.invoicing import billing
from portal.invoicing.models import InvoiceEvent
from portal.referrals.models import LocationType, ReferralStatus
from tests.factories import (
    ContractFactory,
    InvoiceEventFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    OutcomeFactory,
    OutcomeTypeFactory,
    PartnerFactory,
    RateCardItemFactory,
    RateCardPriceFactory,
    ReferralFactory,
    SessionFactory,
)
from tests.invoicing import oracle

MARCH = date(2026, 3, 1)


class Scenario:
    """A contract and the records on it, written tersely; `check` bills a month both ways."""

    def __init__(self, contract, referrer, caseworker):
        self.contract, self.referrer, self.caseworker = contract, referrer, caseworker
        self.codes = 0

    def item(self, unit, pence=10000, *, service="SVC", outcome_type=None, maximum=None, prices=None, kinds=()):
        self.codes += 1
        item = RateCardItemFactory(
            contract=self.contract,
            code=f"ITEM-{self.codes}",
            name=f"Item {self.codes}",
            service_code=service,
            unit=unit,
            outcome_type=outcome_type,
            max_units_per_referral=maximum,
            session_kinds=list(kinds),
        )
        for start, end, amount in prices or [(date(2025, 4, 1), None, pence)]:
            RateCardPriceFactory(item=item, unit_price_pence=amount, effective_from=start, effective_to=end)
        db.session.expire(item, ["prices"])
        return item

    def referral(self, accepted_on, *, service="SVC", rar_days=None, location=LocationType.COMMUNITY):
        return ReferralFactory(
            contract=self.contract,
            service_code=service,
            referrer=self.referrer,
            status=ReferralStatus.IN_PROGRESS,
            rar_days=rar_days,
            location_type=location,
            accepted_at=datetime.combine(accepted_on, time(11), tzinfo=UTC),
        )

    def session(
        self,
        referral,
        day,
        minutes=60,
        *,
        rar=False,
        attendance=Attendance.ATTENDED,
        kind=SessionKind.ONE_TO_ONE,
        at=10,
    ):
        return SessionFactory(
            referral=referral,
            date=day,
            start_time=time(at),
            duration_minutes=minutes,
            kind=kind,
            attendance=attendance,
            counts_as_rar_day=rar,
            recorded_by=self.caseworker,
        )

    def outcome(self, referral, outcome_type, day, *, status=OutcomeStatus.VERIFIED):
        return OutcomeFactory(
            referral=referral,
            outcome_type=outcome_type,
            achieved_on=day,
            evidence="x",
            claimed_by=self.caseworker,
            status=status,
        )

    def already_invoiced(self, item, event_key, referral=None, *, on=date(2026, 2, 1)):
        """A submitted invoice that bills `event_key` for `item`."""
        invoice = InvoiceFactory(
            contract=self.contract, submitted=True, vat_rate_bp=0, period_start=on.replace(day=1), lines=0
        )
        line = InvoiceLineFactory(invoice=invoice, item=item, price=None, unit_price_pence=1, description="earlier")
        InvoiceEventFactory(line=line, event_key=event_key, referral_id=getattr(referral, "id", None), event_date=on)
        db.session.commit()

    def check(self, period=MARCH):
        """The month's lines from the SQL, after checking the oracle agrees line for line."""
        bill = billing.bill_for(self.contract, period)
        by_sql = [
            (line.item.code, str(line.quantity), line.price.unit_price_pence, line.amount_pence) for line in bill.lines
        ]
        assert by_sql == oracle.summary(oracle.oracle_lines(self.contract, period)), "SQL and oracle disagree"
        return by_sql


@pytest.fixture
def scenario(nacro_contract, referrer, nacro_caseworker):
    nacro_contract.start_date = date(2025, 4, 1)
    db.session.commit()
    return Scenario(nacro_contract, referrer, nacro_caseworker)


# --- every unit --------------------------------------------------------------------------------


def test_per_referral_bills_each_referral_accepted_by_the_month_end_once(scenario):
    scenario.item(Unit.PER_REFERRAL, 15000)
    for accepted in (date(2026, 3, 2), date(2026, 3, 31), date(2026, 4, 1)):
        scenario.referral(accepted)
    scenario.referral(date(2026, 3, 5), service="OTHER")
    assert scenario.check() == [("ITEM-1", "2.00", 15000, 30000)]


def test_the_acceptance_date_is_the_london_calendar_day(scenario):
    scenario.item(Unit.PER_REFERRAL, 15000)
    late_on_31_march = scenario.referral(date(2026, 3, 31))
    late_on_31_march.accepted_at = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)  # 00:30 on 1 April in London (BST)
    db.session.commit()
    assert late_on_31_march.accepted_on == date(2026, 4, 1)
    assert scenario.check() == []


def test_per_session_bills_attended_and_late_sessions_only(scenario):
    scenario.item(Unit.PER_SESSION, 4500)
    referral = scenario.referral(date(2026, 3, 1))
    scenario.session(referral, date(2026, 3, 3))
    scenario.session(referral, date(2026, 3, 4), attendance=Attendance.LATE)
    scenario.session(referral, date(2026, 3, 5), attendance=Attendance.DID_NOT_ATTEND)
    scenario.session(referral, date(2026, 3, 6), attendance=Attendance.SESSION_DID_NOT_HAPPEN)
    scenario.session(referral, date(2026, 3, 7), attendance=None)
    assert scenario.check() == [("ITEM-1", "2.00", 4500, 9000)]


def test_per_hour_is_total_minutes_rounded_to_hundredths_then_the_amount_rounded_half_up(scenario):
    scenario.item(Unit.PER_HOUR, 3125)
    referral = scenario.referral(date(2026, 3, 1))
    scenario.session(referral, date(2026, 3, 3), 50)
    scenario.session(referral, date(2026, 3, 10), 45)
    # 95 minutes = 1.5833 hours -> 1.58; 1.58 x £31.25 = £49.375 -> £49.38
    assert scenario.check() == [("ITEM-1", "1.58", 3125, 4938)]


@pytest.mark.parametrize(("minutes", "hours"), [(1, "0.02"), (30, "0.50"), (95, "1.58"), (125, "2.08"), (7, "0.12")])
def test_hours_are_rounded_half_up_to_two_places(minutes, hours):
    assert Decimal(billing.hours_hundredths(minutes)) / 100 == Decimal(hours)


def test_per_rar_day_never_bills_more_than_the_days_ordered_counting_those_already_billed(scenario):
    item = scenario.item(Unit.PER_RAR_DAY, 11000)
    referral = scenario.referral(date(2026, 2, 1), rar_days=3)
    for day in (10, 11, 12, 13):
        scenario.session(referral, date(2026, 3, day), rar=True)
    scenario.session(referral, date(2026, 3, 20), rar=False)
    scenario.already_invoiced(item, "session:999999", referral)
    assert scenario.check() == [("ITEM-1", "2.00", 11000, 22000)]


def test_no_rar_days_ordered_means_no_rar_day_is_billed(scenario):
    scenario.item(Unit.PER_RAR_DAY, 11000)
    referral = scenario.referral(date(2026, 2, 1), rar_days=None)
    scenario.session(referral, date(2026, 3, 10), rar=True)
    assert scenario.check() == []


def test_per_outcome_bills_verified_outcomes_of_the_items_type(scenario):
    housed = OutcomeTypeFactory(contract=scenario.contract, code="accommodation_secured_first_night")
    employed = OutcomeTypeFactory(contract=scenario.contract, code="entered_employment")
    scenario.item(Unit.PER_OUTCOME, 40000, outcome_type=housed)
    referral = scenario.referral(date(2026, 2, 1))
    scenario.outcome(referral, housed, date(2026, 3, 5))
    scenario.outcome(referral, housed, date(2026, 3, 6), status=OutcomeStatus.CLAIMED)
    scenario.outcome(referral, housed, date(2026, 3, 7), status=OutcomeStatus.REJECTED)
    scenario.outcome(referral, employed, date(2026, 3, 8))
    scenario.outcome(referral, housed, date(2026, 4, 2))
    assert scenario.check() == [("ITEM-1", "1.00", 40000, 40000)]


def test_monthly_fixed_bills_every_unbilled_month_up_to_this_one_and_names_them(scenario):
    scenario.contract.start_date = date(2026, 1, 1)
    item = scenario.item(Unit.MONTHLY_FIXED, 250000)
    scenario.already_invoiced(item, "month:2026-01-01")
    assert scenario.check() == [("ITEM-1", "2.00", 250000, 500000)]
    assert billing.bill_for(scenario.contract, MARCH).lines[0].description == "Item 1: February 2026, March 2026"


def test_monthly_fixed_stops_when_the_contract_ends(scenario):
    scenario.contract.start_date, scenario.contract.end_date = date(2026, 1, 1), date(2026, 2, 15)
    scenario.item(Unit.MONTHLY_FIXED, 100)
    assert scenario.check() == [("ITEM-1", "2.00", 100, 200)]


# --- prices by the date of the work ------------------------------------------------------------------


def test_a_mid_month_price_change_makes_a_line_for_each_price(scenario):
    scenario.item(
        Unit.PER_SESSION, prices=[(date(2025, 4, 1), date(2026, 3, 14), 4500), (date(2026, 3, 15), None, 5000)]
    )
    referral = scenario.referral(date(2026, 3, 1))
    for day in (14, 15, 30):
        scenario.session(referral, date(2026, 3, day))
    assert scenario.check() == [("ITEM-1", "1.00", 4500, 4500), ("ITEM-1", "2.00", 5000, 10000)]


def test_work_no_price_covers_is_left_out_and_reported(scenario):
    scenario.item(Unit.PER_SESSION, prices=[(date(2026, 3, 15), None, 4500)])
    referral = scenario.referral(date(2026, 3, 1))
    session = scenario.session(referral, date(2026, 3, 10))
    assert scenario.check() == []
    assert [u.event_key for u in billing.bill_for(scenario.contract, MARCH).unpriced] == [f"session:{session.id}"]


# --- limits, earlier work, exclusions ------------------------------------------------------------------


def test_max_units_per_referral_counts_what_is_already_invoiced_oldest_first(scenario):
    item = scenario.item(Unit.PER_SESSION, maximum=3)
    first, second = scenario.referral(date(2026, 1, 1)), scenario.referral(date(2026, 1, 1))
    for day in (1, 2, 3, 4):
        scenario.session(first, date(2026, 3, day))
        scenario.session(second, date(2026, 3, day))
    scenario.already_invoiced(item, "session:999991", first)
    scenario.already_invoiced(item, "session:999992", first)
    assert scenario.check() == [("ITEM-1", "4.00", 10000, 40000)]  # one for the first, three for the second


def test_earlier_unbilled_work_is_included_and_the_line_says_so(scenario):
    scenario.item(Unit.PER_SESSION)
    referral = scenario.referral(date(2026, 1, 1))
    scenario.session(referral, date(2026, 2, 20))
    scenario.session(referral, date(2026, 3, 2))
    assert scenario.check() == [("ITEM-1", "2.00", 10000, 20000)]
    [line] = billing.bill_for(scenario.contract, MARCH).lines
    assert line.includes_earlier_work and line.description == "Item 1 (includes work before March 2026)"


def test_nothing_on_a_live_invoice_is_billed_again_but_a_rejected_ones_is(scenario):
    item = scenario.item(Unit.PER_SESSION)
    referral = scenario.referral(date(2026, 3, 1))
    billed = scenario.session(referral, date(2026, 3, 2))
    scenario.session(referral, date(2026, 3, 3))
    scenario.already_invoiced(item, f"session:{billed.id}", referral)
    assert scenario.check() == [("ITEM-1", "1.00", 10000, 10000)]
    db.session.execute(InvoiceEvent.__table__.update().values(live=False))  # that invoice is rejected
    db.session.commit()
    assert scenario.check() == [("ITEM-1", "2.00", 10000, 20000)]


def test_a_rar_day_fee_stacks_on_a_session_fee_and_each_prices_only_its_kinds(scenario):
    scenario.item(Unit.PER_SESSION, 2000, kinds=[SessionKind.ONE_TO_ONE])
    scenario.item(Unit.PER_HOUR, 3000, kinds=[SessionKind.GROUP, SessionKind.VIDEO])
    scenario.item(Unit.PER_RAR_DAY, 5000, kinds=[SessionKind.ONE_TO_ONE, SessionKind.GROUP])
    referral = scenario.referral(date(2026, 3, 1), rar_days=5)
    scenario.session(referral, date(2026, 3, 2), 90, rar=True)
    scenario.session(referral, date(2026, 3, 3), 30, rar=True, kind=SessionKind.GROUP)
    scenario.session(referral, date(2026, 3, 4), 60, rar=True, kind=SessionKind.PHONE)  # no item prices phone
    scenario.session(referral, date(2026, 3, 5), 45, kind=SessionKind.VIDEO)
    assert scenario.check() == [
        ("ITEM-1", "1.00", 2000, 2000),  # the one-to-one
        ("ITEM-2", "1.25", 3000, 3750),  # the group's 30 minutes and the video's 45
        ("ITEM-3", "2.00", 5000, 10000),  # the RAR days of the one-to-one and the group
    ]


def test_an_item_without_session_kinds_prices_every_kind(scenario):
    scenario.item(Unit.PER_SESSION, 2000)
    referral = scenario.referral(date(2026, 3, 1))
    for day, kind in enumerate(SessionKind, start=2):
        scenario.session(referral, date(2026, 3, day), kind=kind)
    assert scenario.check() == [("ITEM-1", f"{len(SessionKind)}.00", 2000, 2000 * len(SessionKind))]


# --- RAR days are days ------------------------------------------------------------------------------


def test_two_rar_sessions_on_one_day_bill_one_rar_day(scenario):
    scenario.item(Unit.PER_RAR_DAY, 11000)
    referral = scenario.referral(date(2026, 2, 1), rar_days=6)
    for day in (10, 11, 12):
        scenario.session(referral, date(2026, 3, day), rar=True, at=9)
        scenario.session(referral, date(2026, 3, day), rar=True, at=14, kind=SessionKind.GROUP)
    assert scenario.check() == [("ITEM-1", "3.00", 11000, 33000)]
    events = db.session.execute(billing.billable_events(scenario.contract, date(2026, 3, 31))).all()
    assert sorted(row.event_key for row in events) == [f"rarday:{referral.id}:2026-03-{day}" for day in (10, 11, 12)]


def test_a_day_billed_before_under_a_session_key_is_not_billed_again(scenario):
    item = scenario.item(Unit.PER_RAR_DAY, 11000)
    referral = scenario.referral(date(2026, 2, 1), rar_days=6)
    first = scenario.session(referral, date(2026, 3, 10), rar=True, at=9)
    scenario.session(referral, date(2026, 3, 10), rar=True, at=14)
    scenario.session(referral, date(2026, 3, 11), rar=True)
    # Before RAR days were days, each RAR session was billed under its own key.
    scenario.already_invoiced(item, f"session:{first.id}", referral, on=date(2026, 3, 10))
    assert scenario.check() == [("ITEM-1", "1.00", 11000, 11000)]


def test_rar_days_are_never_billed_on_a_custody_referral(scenario):
    scenario.item(Unit.PER_RAR_DAY, 11000)
    referral = scenario.referral(date(2026, 2, 1), rar_days=4, location=LocationType.CUSTODY)
    scenario.session(referral, date(2026, 3, 10), rar=True)
    assert scenario.check() == []


# --- VAT ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amounts_pence", "vat_bp", "expected"),
    [
        ([30000, 4938], 0, (34938, 0, 34938)),
        ([30000, 4938], 2000, (34938, 6988, 41926)),  # 6987.6 -> 6988
        ([1062], 2000, (1062, 212, 1274)),  # 212.4 -> 212
        ([1063], 2000, (1063, 213, 1276)),  # 212.6 -> 213
        ([], 2000, (0, 0, 0)),
    ],
)
def test_vat_is_the_subtotal_times_the_rate_rounded_half_up(amounts_pence, vat_bp, expected):
    assert billing.totals(amounts_pence, vat_bp) == expected


def test_months_between_spans_years():
    assert months_between(date(2025, 11, 15), date(2026, 2, 1)) == [
        date(2025, 11, 1),
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]


# --- the SQL and the oracle agree on random months ---------------------------------------------------------

months_of_work = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.integers(1, 28),
        st.integers(1, 300),
        st.booleans(),
        st.sampled_from([Attendance.ATTENDED, Attendance.LATE, Attendance.DID_NOT_ATTEND]),
    ),
    max_size=30,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    sessions=months_of_work,
    rar_days=st.one_of(st.none(), st.integers(0, 5)),
    maximum=st.one_of(st.none(), st.integers(1, 5)),
    already=st.sets(st.integers(0, 29), max_size=6),
    outcome_days=st.lists(st.integers(1, 28), max_size=4),
)
def test_the_sql_and_the_oracle_agree(
    crc, referrer, nacro_caseworker, sessions, rar_days, maximum, already, outcome_days
):
    contract = ContractFactory(crc=crc, partner=PartnerFactory(), start_date=date(2025, 4, 1))
    scenario = Scenario(contract, referrer, nacro_caseworker)
    housed = OutcomeTypeFactory(contract=contract)
    items = [
        scenario.item(Unit.PER_SESSION, 4550, maximum=maximum),
        scenario.item(Unit.PER_HOUR, 3125),
        scenario.item(Unit.PER_RAR_DAY, 11000, maximum=maximum),
        scenario.item(Unit.PER_REFERRAL, 15000),
        scenario.item(Unit.PER_OUTCOME, 40000, outcome_type=housed),
        scenario.item(
            Unit.PER_SESSION, prices=[(date(2025, 4, 1), date(2026, 3, 15), 100), (date(2026, 3, 16), None, 200)]
        ),
    ]
    referrals = [scenario.referral(date(2026, 2, 1), rar_days=rar_days) for _ in range(4)]
    recorded = [
        scenario.session(referrals[r], date(2026, 3, day), minutes, rar=rar, attendance=attendance)
        for r, day, minutes, rar, attendance in sessions
    ]
    for index, day in enumerate(outcome_days):
        scenario.outcome(referrals[index % 4], housed, date(2026, 3, day))
    for index in already:
        if index < len(recorded):
            scenario.already_invoiced(items[index % 3], f"session:{recorded[index].id}", referrals[0])
    scenario.check()
