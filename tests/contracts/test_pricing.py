"""price_on(item, day): the price is chosen by the day the work happened, never the invoice date."""

from dataclasses import dataclass
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from portal.contracts.pricing import find_overlaps, price_on


@dataclass
class Price:
    unit_price_pence: int
    effective_from: date
    effective_to: date | None = None


@dataclass
class Item:
    prices: list[Price]


UPLIFT = Item([Price(15000, date(2025, 4, 1), date(2026, 3, 31)), Price(16500, date(2026, 4, 1))])


def test_work_on_the_last_day_of_the_old_price_is_priced_at_the_old_price():
    assert price_on(UPLIFT, date(2026, 3, 31)).unit_price_pence == 15000


def test_work_on_the_first_day_of_the_new_price_is_priced_at_the_new_price():
    assert price_on(UPLIFT, date(2026, 4, 1)).unit_price_pence == 16500


def test_an_open_ended_price_applies_for_ever_after():
    assert price_on(UPLIFT, date(2031, 1, 1)).unit_price_pence == 16500


def test_work_before_any_price_has_no_price():
    assert price_on(UPLIFT, date(2025, 3, 31)) is None


def test_a_gap_between_prices_has_no_price():
    gap = Item([Price(100, date(2026, 1, 1), date(2026, 1, 31)), Price(200, date(2026, 3, 1))])
    assert price_on(gap, date(2026, 2, 14)) is None


def test_neighbouring_periods_do_not_overlap_but_a_shared_day_does():
    assert find_overlaps(UPLIFT.prices) == []
    shared_day = [Price(1, date(2026, 1, 1), date(2026, 4, 1)), Price(2, date(2026, 4, 1))]
    assert len(find_overlaps(shared_day)) == 1


def test_an_open_ended_period_overlaps_any_later_one():
    assert len(find_overlaps([Price(1, date(2026, 1, 1)), Price(2, date(2027, 1, 1))])) == 1


periods = st.lists(
    st.tuples(st.integers(0, 800), st.integers(0, 120) | st.none(), st.integers(0, 99999)), min_size=1, max_size=6
)


@given(periods, st.integers(0, 1000))
def test_when_periods_do_not_overlap_every_day_has_at_most_one_price_and_price_on_finds_it(raw, day_offset):
    base = date(2026, 1, 1)
    prices = [
        Price(amount, base + timedelta(days=start), None if length is None else base + timedelta(days=start + length))
        for start, length, amount in raw
    ]
    overlaps = find_overlaps(prices)
    if overlaps:
        # Then some day really is priced twice: the later period's first day.
        clash = overlaps[0].second.effective_from
        assert (
            sum(p.effective_from <= clash and (p.effective_to is None or clash <= p.effective_to) for p in prices) >= 2
        )
        return
    day = base + timedelta(days=day_offset)
    covering = [p for p in prices if p.effective_from <= day and (p.effective_to is None or day <= p.effective_to)]
    assert len(covering) <= 1
    assert price_on(Item(prices), day) is (covering[0] if covering else None)
