"""The billing rules of API.md as worked examples over plain rows, and as properties (Hypothesis)."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.contracts.models import Unit
from portal.invoicing.billing import (
    Event,
    Item,
    LiveEvent,
    OutcomeRow,
    Price,
    ReferralRow,
    SessionRow,
    candidate_events,
    hours_hundredths,
    months_between,
    price_lines,
    select_billable,
    totals,
)

MARCH = date(2026, 3, 1)
MARCH_END = date(2026, 3, 31)


def item(id_, unit, price_pence=10000, *, code=None, service="SVC", outcome_type_id=None, maximum=None, prices=None):
    prices = prices or (Price(id_ * 100, price_pence, date(2025, 4, 1), None),)
    return Item(
        id=id_,
        code=code or f"ITEM-{id_}",
        service_code=service,
        name=f"Item {id_}",
        unit=unit,
        outcome_type_id=outcome_type_id,
        max_units_per_referral=maximum,
        prices=tuple(prices),
    )


def bill(
    items,
    referrals=(),
    sessions=(),
    outcomes=(),
    live=(),
    rar=None,
    period=MARCH,
    contract_start=date(2025, 4, 1),
    contract_end=date(2027, 3, 31),
):
    candidates = candidate_events(
        items,
        referrals,
        sessions,
        outcomes,
        contract_start=contract_start,
        contract_end=contract_end,
        period_end=date(period.year, period.month, 28)
        if period.month == 2
        else MARCH_END
        if period == MARCH
        else period,
    )
    events = select_billable(items, candidates, live, rar or {r.id: r.rar_days for r in referrals})
    return price_lines(items, events, period)


def amounts(lines):
    return [(line.item.code, str(line.quantity), line.price.unit_price_pence, line.amount_pence) for line in lines]


# --- every unit --------------------------------------------------------------------------------


def test_per_referral_bills_each_referral_accepted_by_the_month_end_once():
    referrals = [
        ReferralRow(1, "SVC", date(2026, 3, 2), None),
        ReferralRow(2, "SVC", date(2026, 3, 31), None),
        ReferralRow(3, "SVC", date(2026, 4, 1), None),
        ReferralRow(4, "OTHER", date(2026, 3, 5), None),
    ]
    lines, _ = bill([item(1, Unit.PER_REFERRAL, 15000)], referrals=referrals)
    assert amounts(lines) == [("ITEM-1", "2.00", 15000, 30000)]


def test_per_session_bills_each_attended_session():
    referrals = [ReferralRow(1, "SVC", date(2026, 3, 1), None)]
    sessions = [SessionRow(10, 1, date(2026, 3, 3), 60, False), SessionRow(11, 1, date(2026, 3, 10), 60, False)]
    lines, _ = bill([item(1, Unit.PER_SESSION, 4500)], referrals=referrals, sessions=sessions)
    assert amounts(lines) == [("ITEM-1", "2.00", 4500, 9000)]


def test_per_hour_bills_total_minutes_in_hours_rounded_half_up_then_the_amount_rounded_half_up():
    referrals = [ReferralRow(1, "SVC", date(2026, 3, 1), None)]
    sessions = [SessionRow(10, 1, date(2026, 3, 3), 50, False), SessionRow(11, 1, date(2026, 3, 10), 45, False)]
    lines, _ = bill([item(1, Unit.PER_HOUR, 3125)], referrals=referrals, sessions=sessions)
    # 95 minutes = 1.5833… hours -> 1.58; 1.58 x £31.25 = £49.375 -> £49.38
    assert amounts(lines) == [("ITEM-1", "1.58", 3125, 4938)]


@pytest.mark.parametrize(("minutes", "hours"), [(1, "0.02"), (30, "0.50"), (95, "1.58"), (125, "2.08"), (7, "0.12")])
def test_hours_are_rounded_half_up_to_two_places(minutes, hours):
    assert Decimal(hours_hundredths(minutes)) / 100 == Decimal(hours)


def test_per_rar_day_never_bills_more_than_the_days_ordered_over_the_referrals_life():
    referrals = [ReferralRow(1, "SVC", date(2026, 2, 1), 3)]
    sessions = [SessionRow(n, 1, date(2026, 3, n), 60, True) for n in range(10, 14)]  # four RAR-day sessions
    sessions.append(SessionRow(99, 1, date(2026, 3, 20), 60, False))  # not a RAR day
    live = [LiveEvent(1, "session:1", 1)]  # one RAR day already invoiced in February
    lines, _ = bill([item(1, Unit.PER_RAR_DAY, 11000)], referrals=referrals, sessions=sessions, live=live)
    assert amounts(lines) == [("ITEM-1", "2.00", 11000, 22000)]
    assert [event.session_id for event in lines[0].events] == [10, 11]  # the oldest first


def test_per_outcome_bills_outcomes_of_the_items_type_achieved_by_the_month_end():
    referrals = [ReferralRow(1, "SVC", date(2026, 2, 1), None)]
    outcomes = [
        OutcomeRow(1, 1, 7, date(2026, 3, 5)),
        OutcomeRow(2, 1, 8, date(2026, 3, 6)),
        OutcomeRow(3, 1, 7, date(2026, 4, 2)),
    ]
    lines, _ = bill([item(1, Unit.PER_OUTCOME, 40000, outcome_type_id=7)], referrals=referrals, outcomes=outcomes)
    assert amounts(lines) == [("ITEM-1", "1.00", 40000, 40000)]


def test_monthly_fixed_bills_every_unbilled_month_of_the_contract_up_to_this_one_and_labels_them():
    live = [LiveEvent(1, "month:2026-01-01", None)]
    lines, _ = bill([item(1, Unit.MONTHLY_FIXED, 250000)], live=live, contract_start=date(2026, 1, 1))
    assert amounts(lines) == [("ITEM-1", "2.00", 250000, 500000)]
    assert lines[0].description == "Item 1: February 2026, March 2026"


def test_monthly_fixed_stops_when_the_contract_ends():
    lines, _ = bill([item(1, Unit.MONTHLY_FIXED, 100)], contract_start=date(2026, 1, 1), contract_end=date(2026, 2, 15))
    assert [event.event_date for event in lines[0].events] == [date(2026, 1, 1), date(2026, 2, 1)]


# --- prices by the date of the work ---------------------------------------------------------------


def test_a_mid_month_price_change_makes_a_line_for_each_price():
    prices = (Price(1, 4500, date(2025, 4, 1), date(2026, 3, 14)), Price(2, 5000, date(2026, 3, 15), None))
    referrals = [ReferralRow(1, "SVC", date(2026, 3, 1), None)]
    sessions = [
        SessionRow(10, 1, date(2026, 3, 14), 60, False),
        SessionRow(11, 1, date(2026, 3, 15), 60, False),
        SessionRow(12, 1, date(2026, 3, 30), 60, False),
    ]
    lines, _ = bill([item(1, Unit.PER_SESSION, prices=prices)], referrals=referrals, sessions=sessions)
    assert amounts(lines) == [("ITEM-1", "1.00", 4500, 4500), ("ITEM-1", "2.00", 5000, 10000)]


def test_work_no_price_covers_is_left_out_and_reported():
    prices = (Price(1, 4500, date(2026, 3, 15), None),)
    referrals = [ReferralRow(1, "SVC", date(2026, 3, 1), None)]
    sessions = [SessionRow(10, 1, date(2026, 3, 10), 60, False)]
    lines, unpriced = bill([item(1, Unit.PER_SESSION, prices=prices)], referrals=referrals, sessions=sessions)
    assert lines == [] and [event.session_id for event in unpriced] == [10]


# --- limits, earlier work, exclusions ---------------------------------------------------------------


def test_max_units_per_referral_counts_what_is_already_invoiced():
    referrals = [ReferralRow(1, "SVC", date(2026, 1, 1), None), ReferralRow(2, "SVC", date(2026, 1, 1), None)]
    sessions = [SessionRow(n, 1, date(2026, 3, n), 60, False) for n in range(1, 5)]
    sessions += [SessionRow(10 + n, 2, date(2026, 3, n), 60, False) for n in range(1, 5)]
    live = [LiveEvent(1, "session:91", 1), LiveEvent(1, "session:92", 1)]  # two already billed for referral 1
    lines, _ = bill([item(1, Unit.PER_SESSION, maximum=3)], referrals=referrals, sessions=sessions, live=live)
    billed = sorted(event.session_id for event in lines[0].events)
    assert billed == [1, 11, 12, 13]


def test_earlier_unbilled_work_is_included_and_the_line_says_so():
    referrals = [ReferralRow(1, "SVC", date(2026, 1, 1), None)]
    sessions = [SessionRow(10, 1, date(2026, 2, 20), 60, False), SessionRow(11, 1, date(2026, 3, 2), 60, False)]
    lines, _ = bill([item(1, Unit.PER_SESSION)], referrals=referrals, sessions=sessions)
    assert lines[0].includes_earlier_work
    assert lines[0].description == "Item 1 (includes work before March 2026)"


def test_nothing_on_a_live_invoice_is_billed_again():
    referrals = [ReferralRow(1, "SVC", date(2026, 3, 1), None)]
    sessions = [SessionRow(10, 1, date(2026, 3, 2), 60, False), SessionRow(11, 1, date(2026, 3, 3), 60, False)]
    live = [LiveEvent(1, "session:10", 1), LiveEvent(2, "referral:1", 1)]
    items = [item(1, Unit.PER_SESSION), item(2, Unit.PER_REFERRAL, service="SVC")]
    lines, _ = bill(items, referrals=referrals, sessions=sessions, live=live)
    assert [(line.item.id, [e.event_key for e in line.events]) for line in lines] == [(1, ["session:11"])]


def test_one_session_can_be_billed_by_several_items_of_its_service():
    referrals = [ReferralRow(1, "SVC", date(2026, 3, 1), 2)]
    sessions = [SessionRow(10, 1, date(2026, 3, 2), 90, True)]
    items = [item(1, Unit.PER_SESSION, 2000), item(2, Unit.PER_HOUR, 3000), item(3, Unit.PER_RAR_DAY, 5000)]
    lines, _ = bill(items, referrals=referrals, sessions=sessions)
    assert amounts(lines) == [
        ("ITEM-1", "1.00", 2000, 2000),
        ("ITEM-2", "1.50", 3000, 4500),
        ("ITEM-3", "1.00", 5000, 5000),
    ]


# --- VAT ---------------------------------------------------------------------------------------------


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
    assert totals(amounts_pence, vat_bp) == expected


def test_months_between_spans_years():
    assert months_between(date(2025, 11, 15), date(2026, 2, 1)) == [
        date(2025, 11, 1),
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]


# --- properties ----------------------------------------------------------------------------------------


session_rows = st.lists(
    st.tuples(st.integers(1, 5), st.integers(1, 31), st.integers(1, 300), st.booleans()), max_size=40
)


@given(session_rows, st.integers(0, 5), st.one_of(st.none(), st.integers(1, 6)), st.sets(st.integers(0, 39)))
def test_limits_hold_and_nothing_is_billed_twice(rows, rar_days, maximum, live_indexes):
    referrals = [ReferralRow(r, "SVC", date(2026, 1, 1), rar_days) for r in range(1, 6)]
    sessions = [
        SessionRow(n, referral, date(2026, 3, day), minutes, rar)
        for n, (referral, day, minutes, rar) in enumerate(rows)
    ]
    items = [item(1, Unit.PER_SESSION, maximum=maximum), item(2, Unit.PER_RAR_DAY), item(3, Unit.PER_HOUR)]
    live = [LiveEvent(1, f"session:{i}", sessions[i].referral_id) for i in live_indexes if i < len(sessions)]
    lines, _ = bill(items, referrals=referrals, sessions=sessions, live=live)
    billed = [(line.item.id, event.event_key) for line in lines for event in line.events]
    assert len(billed) == len(set(billed)), "an event billed twice on one draft"
    assert not set(billed) & {(e.item_id, e.event_key) for e in live}, "an event already live billed again"
    for referral in referrals:
        per_session = [e for line in lines if line.item.id == 1 for e in line.events if e.referral_id == referral.id]
        already = sum(1 for e in live if e.referral_id == referral.id)
        if maximum is not None:
            assert len(per_session) + already <= max(maximum, already)
        rar = [e for line in lines if line.item.id == 2 for e in line.events if e.referral_id == referral.id]
        assert len(rar) <= rar_days
    for line in lines:
        assert line.amount_pence == int(
            (line.quantity * line.price.unit_price_pence).quantize(Decimal("1"), rounding="ROUND_HALF_UP")
        )


def test_event_keys_name_the_work():
    assert Event(1, "session:4", date(2026, 3, 1), session_id=4).event_key == "session:4"
