"""Which sessions a rate-card item prices (its session kinds), and the rule that keeps one session
from being billed twice by one measure (API.md, "Billing rules"). Pure functions over plain rows:
the item form, the price form and the rate-card import all ask `double_billing`.

A session is measured either as a session (per_session, per_hour: one fee for the session or for
its time) or as RAR activity (per_rar_day: a fee for the day, which may stack on a session fee).
Within one service, two items of one measure may not share a session kind on a day both have a
price: the session would be billed by both. A RAR day is a calendar day, not a session, so two
RAR-day items of one service may not have prices on the same day whatever their kinds: a day with
a one-to-one and a group session would otherwise be billed as two RAR days.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import combinations
from typing import Any

from portal.contracts.models import SESSION_UNITS, Unit
from portal.formatting import format_date

# SessionKind's values and labels (portal.delivery.models), kept here in its order so that
# contracts need not import delivery; a test checks the two agree.
SESSION_KINDS = {
    "one_to_one": "One-to-one",
    "group": "Group",
    "phone": "Phone",
    "video": "Video",
    "in_custody": "In custody",
    "home_visit": "Home visit",
}
MEASURES = {Unit.PER_SESSION: "session", Unit.PER_HOUR: "session", Unit.PER_RAR_DAY: "rar_day"}


def kinds_label(kinds: Sequence[str]) -> str:
    """'Every kind of session', or 'One-to-one, phone'."""
    if not kinds:
        return "Every kind of session"
    labels = [SESSION_KINDS.get(kind, kind) for kind in kinds]
    return ", ".join([labels[0], *(label.lower() for label in labels[1:])])


def clean_kinds(values: Iterable[Any]) -> tuple[list[str], list[str]]:
    """(the known kinds in SessionKind's order, without repeats; the values that are not kinds)."""
    wanted = {str(getattr(value, "value", value)).strip().lower() for value in values if str(value).strip()}
    unknown = sorted(value for value in wanted if value not in SESSION_KINDS)
    return [kind for kind in SESSION_KINDS if kind in wanted], unknown


@dataclass(frozen=True)
class Period:
    effective_from: date
    effective_to: date | None
    row: int | None = None  # the CSV row the period came from


@dataclass(frozen=True)
class PricedItem:
    code: str
    service_code: str
    unit: Unit
    session_kinds: tuple[str, ...]
    periods: tuple[Period, ...]


@dataclass(frozen=True)
class DoubleBilling:
    """Two items that would bill the same session by one measure."""

    first: PricedItem
    second: PricedItem
    kinds: tuple[str, ...]  # the kinds both price (every kind when both are empty)
    first_period: Period
    second_period: Period

    @property
    def from_day(self) -> date:
        return max(self.first_period.effective_from, self.second_period.effective_from)

    @property
    def what(self) -> str:
        when = f"of service {self.first.service_code} from {format_date(self.from_day)}"
        if MEASURES[self.first.unit] == "rar_day":
            return (
                f"both price RAR days {when}, so one day could be billed twice as a RAR day. "
                "A service has one RAR-day price at a time: end one item's price before the other's starts"
            )
        kinds = "sessions of every kind" if not self.kinds else kinds_label(self.kinds).lower() + " sessions"
        return (
            f"both price {kinds} {when}, so one session would be billed twice. "
            "Give them session_kinds that do not overlap"
        )


def _shared_kinds(first: Sequence[str], second: Sequence[str]) -> tuple[str, ...] | None:
    """The kinds both price (() when both price every kind), or None when they share none."""
    if not first and not second:
        return ()
    if not first or not second:
        return tuple(second or first)
    shared = tuple(kind for kind in first if kind in second)
    return shared or None


def _overlapping(first: Sequence[Period], second: Sequence[Period]) -> tuple[Period, Period] | None:
    for a in first:
        for b in second:
            a_ends_after_b_starts = a.effective_to is None or a.effective_to >= b.effective_from
            b_ends_after_a_starts = b.effective_to is None or b.effective_to >= a.effective_from
            if a_ends_after_b_starts and b_ends_after_a_starts:
                return a, b
    return None


def double_billing(items: Iterable[PricedItem]) -> list[DoubleBilling]:
    """Every pair of items that would bill one session twice by one measure."""
    session_items = [item for item in items if item.unit in SESSION_UNITS]
    found = []
    for first, second in combinations(session_items, 2):
        if first.service_code != second.service_code or MEASURES[first.unit] != MEASURES[second.unit]:
            continue
        kinds = _shared_kinds(first.session_kinds, second.session_kinds)
        if kinds is None and MEASURES[first.unit] == "rar_day":
            kinds = ()  # one calendar day, whichever sessions made it a RAR day
        if kinds is None:
            continue
        periods = _overlapping(first.periods, second.periods)
        if periods is None:
            continue
        found.append(DoubleBilling(first, second, kinds, *periods))
    return found


def priced_item(item: Any, **changes: Any) -> PricedItem:
    """A RateCardItem (with its prices) as the rule reads it; `changes` overrides its fields."""
    values = {
        "code": item.code,
        "service_code": item.service_code,
        "unit": item.unit,
        "session_kinds": tuple(item.session_kinds or ()),
        "periods": tuple(Period(price.effective_from, price.effective_to) for price in item.prices),
    }
    values.update(changes)
    values["session_kinds"] = tuple(values["session_kinds"] or ())
    return PricedItem(**values)
