"""Which price applies to work done on a given day. Pure functions: invoicing relies on them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from typing import Protocol


class PricePeriod(Protocol):
    unit_price_pence: int
    effective_from: date
    effective_to: date | None


class HasPrices(Protocol):
    prices: Sequence[PricePeriod]


def price_on(item: HasPrices, day: date) -> PricePeriod | None:
    """The price of `item` effective on `day` (the day the work happened), or None if the
    item had no price that day. Periods never overlap (see `find_overlaps`)."""
    for price in item.prices:
        if price.effective_from <= day and (price.effective_to is None or day <= price.effective_to):
            return price
    return None


@dataclass(frozen=True)
class Overlap:
    first: PricePeriod
    second: PricePeriod


def find_overlaps(periods: Iterable[PricePeriod]) -> list[Overlap]:
    """Pairs of neighbouring periods that share at least one day (an open end runs forever)."""
    ordered = sorted(periods, key=lambda period: period.effective_from)
    overlaps = []
    for earlier, later in pairwise(ordered):
        if earlier.effective_to is None or earlier.effective_to >= later.effective_from:
            overlaps.append(Overlap(earlier, later))
    return overlaps
