"""An independent calculation of the billing rules, row by row in Python, for the tests.

The portal bills with set-based SQL (portal/invoicing/billing.py). This oracle is written
differently, straight from API.md's words, so agreeing with it means something: the worked
examples and the random histories check the SQL against it.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select

from portal.contracts.models import Contract, OutcomeType, RateCardItem, Unit

# The tested helper that chooses a price by the day of the work (issue 3): the SQL's price join
# must choose exactly what it chooses.
from portal.contracts.pricing import price_on
from portal.delivery import outcome_rules
from portal.delivery.models import ATTENDED, EvidenceFile, Outcome, OutcomeStatus, Session
from portal.extensions import db
from portal.formatting import format_date
from portal.invoicing.models import InvoiceEvent
from portal.money import round_half_up
from portal.referrals.models import LocationType, Referral

HUNDRED = Decimal(100)


def month_end(period_start: date) -> date:
    return period_start.replace(day=calendar.monthrange(period_start.year, period_start.month)[1])


def months_between(first: date, last: date) -> list[date]:
    months, current = [], first.replace(day=1)
    while current <= last:
        months.append(current)
        current = date(current.year + current.month // 12, current.month % 12 + 1, 1)
    return months


def hours_hundredths(minutes: int) -> int:
    return int((Decimal(minutes) / Decimal(60)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) * HUNDRED)


# --- plain rows the rules work on ------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    id: int
    unit_price_pence: int
    effective_from: date
    effective_to: date | None


@dataclass(frozen=True)
class Item:
    id: int
    code: str
    service_code: str
    name: str
    unit: Unit
    outcome_type_id: int | None = None
    max_units_per_referral: int | None = None
    prices: tuple[Price, ...] = ()
    session_kinds: tuple[str, ...] = ()  # empty: every kind

    def prices_kind(self, kind: str) -> bool:
        return not self.session_kinds or kind in self.session_kinds


@dataclass(frozen=True)
class Event:
    """One piece of billable work for one item: at most one live invoice may ever bill it."""

    item_id: int
    event_key: str
    event_date: date
    referral_id: int | None = None
    session_id: int | None = None
    outcome_id: int | None = None
    minutes: int = 0


@dataclass(frozen=True)
class ReferralRow:
    id: int
    service_code: str
    accepted_on: date | None
    rar_days: int | None
    community: bool = True


@dataclass(frozen=True)
class SessionRow:
    id: int
    referral_id: int
    date: date
    duration_minutes: int
    counts_as_rar_day: bool
    kind: str = "one_to_one"


@dataclass(frozen=True)
class OutcomeRow:
    id: int
    referral_id: int
    outcome_type_id: int
    achieved_on: date


@dataclass(frozen=True)
class LiveEvent:
    item_id: int
    event_key: str
    referral_id: int | None
    event_date: date | None = None


@dataclass
class Line:
    item: Item
    price: Price
    events: list[Event]
    period_start: date
    quantity_hundredths: int = 0
    amount_pence: int = 0
    includes_earlier_work: bool = False

    @property
    def quantity(self) -> Decimal:
        return (Decimal(self.quantity_hundredths) / HUNDRED).quantize(Decimal("0.01"))

    @property
    def description(self) -> str:
        text = self.item.name
        if self.item.unit == Unit.MONTHLY_FIXED:
            months = sorted({event.event_date for event in self.events})
            text += ": " + ", ".join(f"{month:%B %Y}" for month in months)
        elif self.includes_earlier_work:
            text += f" (includes work before {format_date(self.period_start).split(' ', 1)[1]})"
        return text[:300]


@dataclass
class Bill:
    """A draft invoice's figures before they are saved."""

    lines: list[Line] = field(default_factory=list)
    unpriced: list[Event] = field(default_factory=list)
    subtotal_pence: int = 0
    vat_pence: int = 0
    total_pence: int = 0


def candidate_events(
    items: Sequence[Item],
    referrals: Iterable[ReferralRow],
    sessions: Iterable[SessionRow],
    outcomes: Iterable[OutcomeRow],
    *,
    contract_start: date,
    contract_end: date,
    period_end: date,
) -> dict[int, list[Event]]:
    """Every event each item could bill up to `period_end`, before exclusions and caps."""
    referrals = list(referrals)
    by_service: dict[str, list[ReferralRow]] = defaultdict(list)
    for referral in referrals:
        by_service[referral.service_code].append(referral)
    service_of = {referral.id: referral.service_code for referral in referrals}
    community = {referral.id for referral in referrals if referral.community}
    sessions_by_service: dict[str, list[SessionRow]] = defaultdict(list)
    for session in sessions:
        if session.date <= period_end and session.referral_id in service_of:
            sessions_by_service[service_of[session.referral_id]].append(session)
    outcomes_by_key: dict[tuple[str, int], list[OutcomeRow]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.achieved_on <= period_end and outcome.referral_id in service_of:
            outcomes_by_key[(service_of[outcome.referral_id], outcome.outcome_type_id)].append(outcome)

    events: dict[int, list[Event]] = {}
    for item in items:
        found: list[Event] = []
        if item.unit == Unit.PER_REFERRAL:
            found = [
                Event(item.id, f"referral:{r.id}", r.accepted_on, referral_id=r.id)
                for r in by_service[item.service_code]
                if r.accepted_on and r.accepted_on <= period_end
            ]
        elif item.unit == Unit.PER_RAR_DAY:
            # A RAR day is a calendar day of a community referral with RAR activity of a kind the
            # item prices: one event for the day, its first session standing for it.
            days: dict[tuple[int, date], int] = {}
            for s in sessions_by_service[item.service_code]:
                if s.counts_as_rar_day and s.referral_id in community and item.prices_kind(s.kind):
                    key = (s.referral_id, s.date)
                    days[key] = min(days.get(key, s.id), s.id)
            found = [
                Event(
                    item.id,
                    f"rarday:{referral_id}:{day.isoformat()}",
                    day,
                    referral_id=referral_id,
                    session_id=session_id,
                )
                for (referral_id, day), session_id in days.items()
            ]
        elif item.unit in (Unit.PER_SESSION, Unit.PER_HOUR):
            for s in sessions_by_service[item.service_code]:
                if not item.prices_kind(s.kind):
                    continue
                found.append(
                    Event(
                        item.id,
                        f"session:{s.id}",
                        s.date,
                        referral_id=s.referral_id,
                        session_id=s.id,
                        minutes=s.duration_minutes if item.unit == Unit.PER_HOUR else 0,
                    )
                )
        elif item.unit == Unit.PER_OUTCOME and item.outcome_type_id is not None:
            found = [
                Event(item.id, f"outcome:{o.id}", o.achieved_on, referral_id=o.referral_id, outcome_id=o.id)
                for o in outcomes_by_key[(item.service_code, item.outcome_type_id)]
            ]
        elif item.unit == Unit.MONTHLY_FIXED:
            last = min(period_end, contract_end)
            found = [
                Event(item.id, f"month:{month.isoformat()}", month) for month in months_between(contract_start, last)
            ]
        events[item.id] = found
    return events


def select_billable(
    items: Sequence[Item],
    candidates: dict[int, list[Event]],
    live: Iterable[LiveEvent],
    rar_days: dict[int, int | None],
) -> list[Event]:
    """Drop what a live invoice already bills, then apply the per-referral limits (the item's
    maximum units, and for RAR days the days ordered), counting what is already invoiced and
    billing the oldest work first."""
    live = list(live)
    taken = {(event.item_id, event.event_key) for event in live}
    # A RAR day billed under any key (older invoices billed RAR sessions as "session:<id>").
    days_taken = {(event.item_id, event.referral_id, event.event_date) for event in live}
    live_per_referral: dict[tuple[int, int], int] = defaultdict(int)
    for event in live:
        if event.referral_id is not None:
            live_per_referral[(event.item_id, event.referral_id)] += 1

    chosen: list[Event] = []
    for item in items:
        fresh = sorted(
            (
                e
                for e in candidates.get(item.id, [])
                if (item.id, e.event_key) not in taken
                and not (e.event_key.startswith("rarday:") and (item.id, e.referral_id, e.event_date) in days_taken)
            ),
            key=lambda e: (e.event_date, e.event_key),
        )
        used: dict[int, int] = defaultdict(int)
        for event in fresh:
            if event.referral_id is not None:
                limit = item.max_units_per_referral
                if item.unit == Unit.PER_RAR_DAY:
                    ordered = rar_days.get(event.referral_id) or 0
                    limit = ordered if limit is None else min(limit, ordered)
                if limit is not None:
                    already = live_per_referral[(item.id, event.referral_id)] + used[event.referral_id]
                    if already >= limit:
                        continue
                used[event.referral_id] += 1
            chosen.append(event)
    return chosen


def price_lines(items: Sequence[Item], events: Iterable[Event], period_start: date) -> tuple[list[Line], list[Event]]:
    """One line per (item, unit price), in rate-card order; and the events no price covers."""
    item_by_id = {item.id: item for item in items}
    grouped: dict[tuple[int, int], Line] = {}
    unpriced: list[Event] = []
    for event in events:
        item = item_by_id[event.item_id]
        price = price_on(item, event.event_date)
        if price is None:
            unpriced.append(event)
            continue
        line = grouped.setdefault(
            (item.id, price.id), Line(item=item, price=price, events=[], period_start=period_start)
        )
        line.events.append(event)
    lines = sorted(grouped.values(), key=lambda line: (line.item.code, line.price.effective_from))
    for line in lines:
        line.events.sort(key=lambda e: (e.event_date, e.event_key))
        if line.item.unit == Unit.PER_HOUR:
            line.quantity_hundredths = hours_hundredths(sum(event.minutes for event in line.events))
        else:
            line.quantity_hundredths = len(line.events) * 100
        line.amount_pence = round_half_up(line.quantity * line.price.unit_price_pence)
        line.includes_earlier_work = any(event.event_date < period_start for event in line.events)
    return lines, unpriced


def totals(line_amounts: Iterable[int], vat_rate_bp: int) -> tuple[int, int, int]:
    """(subtotal, VAT, total) in pence: VAT is the subtotal times the rate, rounded half up."""
    subtotal = sum(line_amounts)
    vat = round_half_up(Decimal(subtotal) * Decimal(vat_rate_bp) / Decimal(10000))
    return subtotal, vat, subtotal + vat


def keeping_their_rules(verified: list[Outcome]) -> list[Outcome]:
    """The verified outcomes their types' rules let be paid, one by one: inside the days (the
    plain functions of portal.delivery.outcome_rules), the earliest achieved up to the most per
    referral, with an evidence file where one is needed."""
    kinds = {kind.id: kind for kind in db.session.scalars(select(OutcomeType)).all()}
    with_files = set(db.session.scalars(select(EvidenceFile.outcome_id)).all())
    seen: dict[tuple[int, int], int] = defaultdict(int)
    kept = []
    for outcome in sorted(verified, key=lambda o: (o.achieved_on, o.id)):
        rule = outcome_rules.Rule.of(kinds[outcome.outcome_type_id])
        referral = db.session.get(Referral, outcome.referral_id)
        key = (outcome.referral_id, outcome.outcome_type_id)
        earlier = seen[key]
        seen[key] += 1
        if rule.max_per_referral is not None and earlier >= rule.max_per_referral:
            continue
        if rule.evidence_required and outcome.id not in with_files:
            continue
        if outcome_rules.allows(rule, outcome_rules.Facts.of(referral), outcome.achieved_on):
            kept.append(outcome)
    return kept


def oracle_lines(contract: Contract, period_start: date, *, exclude_invoice_id: int | None = None) -> list[Line]:
    """The lines the rules give, read row by row from the database."""
    period_end = month_end(period_start)
    items = [
        Item(
            id=item.id,
            code=item.code,
            service_code=item.service_code,
            name=item.name,
            unit=item.unit,
            outcome_type_id=item.outcome_type_id,
            max_units_per_referral=item.max_units_per_referral,
            session_kinds=tuple(item.session_kinds),
            prices=tuple(Price(p.id, p.unit_price_pence, p.effective_from, p.effective_to) for p in item.prices),
        )
        for item in db.session.scalars(
            select(RateCardItem).where(RateCardItem.contract_id == contract.id).order_by(RateCardItem.code)
        )
    ]
    referrals = [
        ReferralRow(r.id, r.service_code, r.accepted_on, r.rar_days, r.location_type == LocationType.COMMUNITY)
        for r in db.session.scalars(
            select(Referral).where(Referral.contract_id == contract.id, Referral.accepted_at.is_not(None))
        )
    ]
    ids = [r.id for r in referrals]
    sessions = [
        SessionRow(s.id, s.referral_id, s.date, s.duration_minutes, s.counts_as_rar_day, s.kind.value)
        for s in db.session.scalars(
            select(Session).where(Session.referral_id.in_(ids), Session.attendance.in_(ATTENDED))
        )
    ]
    outcomes = [
        OutcomeRow(o.id, o.referral_id, o.outcome_type_id, o.achieved_on)
        for o in keeping_their_rules(
            db.session.scalars(
                select(Outcome).where(Outcome.referral_id.in_(ids), Outcome.status == OutcomeStatus.VERIFIED)
            ).all()
        )
    ]
    live_query = select(InvoiceEvent).where(
        InvoiceEvent.live.is_(True), InvoiceEvent.item_id.in_([item.id for item in items])
    )
    if exclude_invoice_id is not None:
        live_query = live_query.where(InvoiceEvent.invoice_id != exclude_invoice_id)
    live = [LiveEvent(e.item_id, e.event_key, e.referral_id, e.event_date) for e in db.session.scalars(live_query)]
    candidates = candidate_events(
        items,
        referrals,
        sessions,
        outcomes,
        contract_start=contract.start_date,
        contract_end=contract.end_date,
        period_end=period_end,
    )
    events = select_billable(items, candidates, live, {r.id: r.rar_days for r in referrals})
    lines, _ = price_lines(items, events, period_start)
    return lines


def summary(lines) -> list[tuple[str, str, int, int]]:
    """(item code, quantity, unit price, amount) per line, in rate-card order."""
    return [(line.item.code, str(line.quantity), line.price.unit_price_pence, line.amount_pence) for line in lines]
