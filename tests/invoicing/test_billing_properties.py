"""Issue 15's billing rules as properties (Hypothesis, on the real test database): for random rate
cards that the rate-card rules accept (session kinds, one measure per session) and random histories
(sessions of every kind, several on a day, community and custody referrals, work already billed),
no session is billed twice by one measure, no referral is billed more RAR days than the calendar
days with RAR activity (or than ordered, or any in custody), and the SQL billing equals the oracle."""

from collections import Counter
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal import integrity
from portal.contracts.measures import Period, PricedItem, double_billing
from portal.contracts.models import Unit
from portal.delivery.models import ATTENDED, Attendance, SessionKind
from portal.extensions import db
from portal.invoicing import billing
from portal.referrals.models import LocationType
from tests.factories import ContractFactory, PartnerFactory
from tests.invoicing.test_billing_rules import MARCH, Scenario

FEBRUARY = date(2026, 2, 1)
KINDS = [kind.value for kind in SessionKind]
STARTS = (date(2025, 4, 1), date(2026, 2, 15), date(2026, 3, 10))

item_spec = st.tuples(
    st.sampled_from([Unit.PER_SESSION, Unit.PER_HOUR, Unit.PER_RAR_DAY]),
    st.sampled_from(["SVC", "OTHER"]),
    st.lists(st.sampled_from(KINDS), max_size=3, unique=True),
    st.sampled_from(STARTS),
    st.sampled_from([None, date(2026, 3, 15)]),
    st.one_of(st.none(), st.integers(1, 4)),
)
referral_spec = st.tuples(
    st.sampled_from(["SVC", "OTHER"]), st.booleans(), st.one_of(st.none(), st.integers(0, 5))
)  # service, in custody, RAR days ordered
session_spec = st.tuples(
    st.integers(0, 2),  # which referral
    st.sampled_from([date(2026, 2, day) for day in (10, 20)] + [date(2026, 3, day) for day in (2, 9, 16, 23)]),
    st.integers(8, 18),  # the hour it starts
    st.integers(15, 180),
    st.sampled_from(list(SessionKind)),
    st.booleans(),  # counts as a RAR day
    st.sampled_from([Attendance.ATTENDED, Attendance.LATE, Attendance.DID_NOT_ATTEND]),
)


def acceptable_card(specs):
    """The items a contract manager could save: each in turn, unless it would bill a session twice."""
    kept, card = [], []
    for spec in specs:
        unit, service, kinds, start, end, _ = spec
        candidate = PricedItem(f"I{len(card)}", service, unit, tuple(kinds), (Period(start, end),))
        if not double_billing([*card, candidate]):
            card.append(candidate)
            kept.append(spec)
    return kept


def billed(contract, period_start):
    return db.session.execute(billing.billable_events(contract, billing.month_end(period_start))).all()


def check_events(events, referrals, sessions, units):
    """No session twice as a session; no day twice as a referral's RAR day; RAR days within the
    distinct days of RAR activity and the days ordered; none in custody."""
    as_sessions = Counter(e.session_id for e in events if units[e.item_id] in (Unit.PER_SESSION, Unit.PER_HOUR))
    assert all(count == 1 for count in as_sessions.values()), as_sessions
    rar_events = [e for e in events if units[e.item_id] == Unit.PER_RAR_DAY]
    as_days = Counter((e.referral_id, e.event_date) for e in rar_events)
    assert all(count == 1 for count in as_days.values()), as_days
    for referral in referrals:
        days = {
            s.date
            for s in sessions
            if s.referral_id == referral.id and s.counts_as_rar_day and s.attendance in ATTENDED
        }
        billed_days = sum(1 for e in rar_events if e.referral_id == referral.id)
        assert billed_days <= len(days)
        assert billed_days <= (referral.rar_days or 0)
        if referral.location_type == LocationType.CUSTODY:
            assert billed_days == 0


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    items=st.lists(item_spec, min_size=1, max_size=5),
    referral_specs=st.lists(referral_spec, min_size=3, max_size=3),
    session_specs=st.lists(session_spec, max_size=18),
    bill_february_first=st.booleans(),
)
def test_random_cards_and_histories_never_bill_a_session_twice_and_rar_days_are_days(
    crc, referrer, nacro_caseworker, items, referral_specs, session_specs, bill_february_first
):
    contract = ContractFactory(crc=crc, partner=PartnerFactory(), start_date=date(2025, 4, 1))
    scenario = Scenario(contract, referrer, nacro_caseworker)
    made = [
        scenario.item(
            unit, 1000 + 100 * index, service=service, kinds=kinds, maximum=maximum, prices=[(start, end, 1000)]
        )
        for index, (unit, service, kinds, start, end, maximum) in enumerate(acceptable_card(items))
    ]
    units = {item.id: item.unit for item in made}
    referrals = [
        scenario.referral(
            date(2026, 1, 5),
            service=service,
            rar_days=rar_days,
            location=LocationType.CUSTODY if custody else LocationType.COMMUNITY,
        )
        for service, custody, rar_days in referral_specs
    ]
    sessions = [
        scenario.session(referrals[who], day, minutes, rar=rar, attendance=attendance, kind=kind, at=hour)
        for who, day, hour, minutes, kind, rar, attendance in session_specs
    ]
    stored = []
    if bill_february_first:
        # February's events go on a submitted invoice, as its submission would store them.
        for event in billed(contract, FEBRUARY):
            if event.price_id is not None:
                item = next(item for item in made if item.id == event.item_id)
                referral = next((r for r in referrals if r.id == event.referral_id), None)
                scenario.already_invoiced(item, event.event_key, referral, on=event.event_date)
                stored.append(event)
        # As a submission leaves them: the sessions' billed marks set from the live events, which
        # the rules then trust to leave February's work out (the oracle reads no marks).
        billing.mark_every_billed_session()
        assert integrity.billed_marks_match() == []

    march = billed(contract, MARCH)
    assert not {(e.item_id, e.event_key) for e in march} & {(e.item_id, e.event_key) for e in stored}
    check_events([*stored, *march], referrals, sessions, units)
    scenario.check()  # the SQL and the oracle agree line for line
