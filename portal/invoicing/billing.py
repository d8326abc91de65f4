"""The billing rules of API.md, in one place, as set-based queries over the database.

`billable_events` is the rules: one SELECT naming every event the draft for a month bills, with
its price. The figures (`bill_for`) aggregate it; a draft stores only its lines, and a submission
checks their signature has not moved (`stored_signature`) and freezes the events in one
INSERT … SELECT (`store_events`).
Keeping the rules in SQL keeps a 50,000-event month as fast as the database (see
bench/invoice.py). The tests check it against an independent, row-by-row calculation
(tests/invoicing/oracle.py) over worked examples and random histories.

The rules: an event is billable if it is dated on or before the month's last day and is not on a
live invoice (submitted, queried, approved or paid) of the contract. A referral's events are
priced by the items of its service code, each by its unit: per_referral (the acceptance date),
per_session and per_hour (attended or late sessions of a kind the item prices: its session_kinds,
or every kind), per_rar_day (each calendar day on which a community referral had such a session
that counts as a RAR day, once however many sessions that day, never more per referral than the
days ordered), per_outcome (verified outcomes of the item's type that keep its rule, by the date
achieved), monthly_fixed (each month the contract runs, the month's first
day). An item's max_units_per_referral caps a referral's events, counting those already invoiced,
oldest first. The price is the one effective on the event's date (the SQL twin of
portal.contracts.pricing.price_on, which the oracle uses). One line per (item, price);
quantity is the event count, or for per_hour total minutes / 60 rounded half up to 2 places;
amount = round half up (quantity x price); VAT = round half up (subtotal x rate).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    true,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.orm import aliased

from portal.contracts.models import Contract, ContractStatus, OutcomeType, RateCardItem, RateCardPrice, Unit
from portal.dates import month_end, months_between
from portal.delivery import outcome_rules
from portal.delivery.models import ATTENDED, EvidenceFile, Outcome, OutcomeStatus, Session, SessionKind
from portal.extensions import db
from portal.formatting import format_date
from portal.invoicing.models import Invoice, InvoiceEvent, InvoiceLine, InvoiceStatus
from portal.money import round_half_up
from portal.referrals.models import LocationType, Referral

HUNDRED = Decimal(100)
SESSION_MEASURES = (Unit.PER_SESSION, Unit.PER_HOUR)
EVENT_COLUMNS = ("item_id", "event_key", "event_date", "referral_id", "session_id", "outcome_id", "minutes")


# --- plain arithmetic -------------------------------------------------------------------------------


def hours_hundredths(minutes: int) -> int:
    """Total minutes as hours to 2 decimal places, rounded half up, in hundredths: 95 -> 158."""
    hours = (Decimal(minutes) / Decimal(60)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return int(hours * HUNDRED)


def line_amount(quantity_hundredths: int, unit_price_pence: int) -> int:
    return round_half_up(Decimal(quantity_hundredths) / HUNDRED * unit_price_pence)


def totals(line_amounts: Iterable[int], vat_rate_bp: int) -> tuple[int, int, int]:
    """(subtotal, VAT, total) in pence: VAT is the subtotal times the rate, rounded half up."""
    subtotal = sum(line_amounts)
    vat = round_half_up(Decimal(subtotal) * Decimal(vat_rate_bp) / Decimal(10000))
    return subtotal, vat, subtotal + vat


# --- the rules as one query ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    id: int
    code: str
    service_code: str
    name: str
    unit: Unit
    max_units_per_referral: int | None = None

    @property
    def limited_per_referral(self) -> bool:
        """Whether a referral's events of this item are capped (so they must be counted in order)."""
        return self.unit == Unit.PER_RAR_DAY or self.max_units_per_referral is not None


def contract_items(contract: Contract) -> dict[int, Item]:
    return {
        row.id: Item(row.id, row.code, row.service_code, row.name, row.unit, row.max_units_per_referral)
        for row in db.session.execute(
            select(
                RateCardItem.id,
                RateCardItem.code,
                RateCardItem.service_code,
                RateCardItem.name,
                RateCardItem.unit,
                RateCardItem.max_units_per_referral,
            ).where(RateCardItem.contract_id == contract.id)
        )
    }


def _event_columns(
    item_id: Any,
    event_key: Any,
    event_date: Any,
    referral_id: Any = None,
    session_id: Any = None,
    outcome_id: Any = None,
    minutes: Any = None,
) -> list[Any]:
    """One candidate event's columns, labelled alike in every part of the union."""
    values = (item_id, event_key, event_date, referral_id, session_id, outcome_id, minutes)
    defaults = (None, None, None, cast(null(), Integer), cast(null(), Integer), cast(null(), Integer), literal(0))
    return [
        (default if value is None else value).label(name)
        for name, value, default in zip(EVENT_COLUMNS, values, defaults, strict=True)
    ]


def _prices_kind(item: Any, session: Any) -> ColumnElement[bool]:
    """The item prices the session's kind: its session_kinds name it, or are empty (every kind)."""
    kinds = type_coerce(item.session_kinds, String)
    return or_(kinds == "", (literal("|") + kinds + literal("|")).like("%|" + cast(session.kind, String) + "|%"))


def _day_text(column: Any) -> Any:
    """A date as YYYY-MM-DD text, whatever the database's date style."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM-DD")
    return cast(column, String)


def _unpriced_on(item_ids: list[int], period_end: date, s: Any, i: Any) -> ColumnElement[bool] | None:
    """True where no price of item `i` covers session `s`'s date (up to `period_end`); None if
    every item is priced on every day. From the items' price periods, read once, as date ranges
    (the gaps), so that an index on the date can serve them."""
    periods: dict[int, list[tuple[date, date | None]]] = {item_id: [] for item_id in item_ids}
    for item_id, start, end in db.session.execute(
        select(RateCardPrice.item_id, RateCardPrice.effective_from, RateCardPrice.effective_to).where(
            RateCardPrice.item_id.in_(item_ids)
        )
    ):
        periods[item_id].append((_as_date(start), None if end is None else _as_date(end)))
    conditions = []
    for item_id, item_periods in periods.items():
        gaps, cursor = [], date.min
        for start, end in sorted(item_periods):
            if start > cursor:
                gaps.append((cursor, start - timedelta(days=1)))
            if end is None or end >= period_end:
                cursor = date.max
                break
            cursor = max(cursor, end + timedelta(days=1))
        if cursor <= period_end:
            gaps.append((cursor, period_end))
        for low, high in gaps:
            within = s.date <= high if low == date.min else and_(s.date >= low, s.date <= high)
            conditions.append(and_(i.id == item_id, within))
    return or_(*conditions) if conditions else None


def _split_by_mark(statement: Select, mark: Any, unpriced: ColumnElement[bool] | None) -> list[Select]:
    """The sessions the billed mark leaves (by the partial index of unmarked sessions), and of the
    marked ones only those on a day the item has no price for: a marked session can give that
    item no event to bill (one session, one bill per measure), but the draft still lists it as
    work no price covers, as it always has."""
    # `= false`, which both databases read as the partial indexes' own condition.
    parts = [statement.where(mark == false())]
    if unpriced is not None:
        parts.append(statement.where(mark == true(), unpriced))
    return parts


def _session_events(item_ids: list[int], period_end: date, *, unbilled_only: bool = False) -> list[Select]:
    """per_session and per_hour: each attended session of a kind the item prices. `unbilled_only`:
    leaving out sessions a live invoice bills by a session measure (Session.billed), where the
    item has a price (_split_by_mark)."""
    r, s, i = Referral, Session, RateCardItem
    statement = (
        select(
            *_event_columns(
                i.id,
                literal("session:") + cast(s.id, String),
                s.date,
                referral_id=s.referral_id,
                session_id=s.id,
                minutes=case((i.unit == Unit.PER_HOUR, s.duration_minutes), else_=0),
            )
        )
        .select_from(s)
        .join(r, r.id == s.referral_id)
        .join(i, and_(i.contract_id == r.contract_id, i.service_code == r.service_code))
        .where(
            i.id.in_(item_ids),
            s.attendance.in_(ATTENDED),
            s.date <= period_end,
            i.unit.in_((Unit.PER_SESSION, Unit.PER_HOUR)),
            _prices_kind(i, s),
        )
    )
    if not unbilled_only:
        return [statement]
    return _split_by_mark(statement, s.billed, _unpriced_on(item_ids, period_end, s, i))


def _rar_day_events(item_ids: list[int], period_end: date, *, unbilled_only: bool = False) -> Select:
    """per_rar_day: each calendar day on which a community referral had an attended RAR-day
    session of a kind the item prices; one event per day, however many sessions (the day's first
    session stands for it). `unbilled_only`: leaving out the sessions a live RAR day names
    (Session.rar_billed) where the item has a price (_split_by_mark); a billed day's other
    sessions are looked up by their day, as before."""
    r, s, i = Referral, Session, RateCardItem
    statement = (
        select(i.id.label("item_id"), r.id.label("referral_id"), s.id.label("session_id"), s.date.label("day"))
        .select_from(s)
        .join(r, r.id == s.referral_id)
        .join(i, and_(i.contract_id == r.contract_id, i.service_code == r.service_code))
        .where(
            i.id.in_(item_ids),
            i.unit == Unit.PER_RAR_DAY,
            r.location_type == LocationType.COMMUNITY,
            s.attendance.in_(ATTENDED),
            s.counts_as_rar_day == true(),
            s.date <= period_end,
            _prices_kind(i, s),
        )
    )
    parts = (
        _split_by_mark(statement, s.rar_billed, _unpriced_on(item_ids, period_end, s, i))
        if unbilled_only
        else [statement]
    )
    # The sessions first, then their days: a day's sessions may come from both parts.
    day = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("rar_sessions")
    return select(
        *_event_columns(
            day.c.item_id,
            literal("rarday:") + cast(day.c.referral_id, String) + literal(":") + _day_text(day.c.day),
            day.c.day,
            referral_id=day.c.referral_id,
            session_id=func.min(day.c.session_id),
        )
    ).group_by(day.c.item_id, day.c.referral_id, day.c.day)


def _referral_events(item_ids: list[int], period_end: date) -> Select:
    r, i = Referral, RateCardItem
    return (
        select(*_event_columns(i.id, literal("referral:") + cast(r.id, String), r.accepted_on, referral_id=r.id))
        .select_from(r)
        .join(i, and_(i.contract_id == r.contract_id, i.service_code == r.service_code))
        .where(i.id.in_(item_ids), i.unit == Unit.PER_REFERRAL, r.accepted_on.is_not(None), r.accepted_on <= period_end)
    )


def _outcome_events(item_ids: list[int], period_end: date) -> Select:
    """Verified outcomes of each item's type that keep their type's rule (outcome_rules): achieved
    inside its days, within its most per referral (the earliest achieved count), with an evidence
    file where it needs one."""
    r, o, i, t = Referral, Outcome, RateCardItem, OutcomeType
    earlier = aliased(Outcome)
    return (
        select(
            *_event_columns(
                i.id,
                literal("outcome:") + cast(o.id, String),
                o.achieved_on,
                referral_id=o.referral_id,
                outcome_id=o.id,
            )
        )
        .select_from(o)
        .join(r, r.id == o.referral_id)
        .join(
            i,
            and_(
                i.contract_id == r.contract_id, i.service_code == r.service_code, i.outcome_type_id == o.outcome_type_id
            ),
        )
        .join(t, t.id == o.outcome_type_id)
        .where(
            i.id.in_(item_ids),
            i.unit == Unit.PER_OUTCOME,
            o.status == OutcomeStatus.VERIFIED,
            o.achieved_on <= period_end,
            outcome_rules.allows_sql(o, r, t),
            or_(t.evidence_required.is_(False), exists().where(EvidenceFile.outcome_id == o.id)),
            or_(
                t.max_per_referral.is_(None),
                select(func.count(earlier.id))
                .where(
                    earlier.referral_id == o.referral_id,
                    earlier.outcome_type_id == o.outcome_type_id,
                    earlier.status == OutcomeStatus.VERIFIED,
                    or_(
                        earlier.achieved_on < o.achieved_on,
                        and_(earlier.achieved_on == o.achieved_on, earlier.id < o.id),
                    ),
                )
                .scalar_subquery()
                < t.max_per_referral,
            ),
        )
    )


def _monthly_events(contract: Contract, items: list[Item], period_end: date) -> list[Select]:
    """One event per fixed-amount item per month the contract runs, up to this month."""
    months = months_between(contract.start_date, min(period_end, contract.end_date))
    # A handful of rows (items x months), written as literal SELECTs: portable to SQLite and PostgreSQL.
    return [
        select(
            *_event_columns(
                literal(item.id, Integer), literal(f"month:{month.isoformat()}", String), literal(month, Date)
            )
        )
        for item in items
        if item.unit == Unit.MONTHLY_FIXED
        for month in months
    ]


def _trusted_marks(items: dict[int, Item]) -> frozenset[str]:
    """The billed marks that may stand for "no item of this card can bill this session again":
    a session marked billed by one session measure is then a candidate of no other item (RAR days
    likewise). True where no two items of one service and one measure share a session kind, as
    the rate-card import insists (API.md); a card from before that rule (or a worked example)
    that breaks it is billed without the marks, reading its whole history as before."""
    ids = [item.id for item in items.values() if item.unit in SESSION_MEASURES or item.unit == Unit.PER_RAR_DAY]
    if not ids:
        return frozenset()
    every = {kind.value for kind in SessionKind}
    kinds = {
        item_id: set(item_kinds or []) or every
        for item_id, item_kinds in db.session.execute(
            select(RateCardItem.id, RateCardItem.session_kinds).where(RateCardItem.id.in_(ids))
        )
    }
    trusted = set()
    for mark, units in (("billed", SESSION_MEASURES), ("rar_billed", (Unit.PER_RAR_DAY,))):
        taken: dict[str, set[str]] = {}
        shared = False
        for item in items.values():
            if item.unit not in units:
                continue
            mine = {str(kind) for kind in kinds.get(item.id, every)}
            shared = shared or bool(taken.get(item.service_code, set()) & mine)
            taken.setdefault(item.service_code, set()).update(mine)
        if not shared:
            trusted.add(mark)
    return frozenset(trusted)


def _candidates(contract: Contract, items: list[Item], period_end: date, *, marks: frozenset[str] = frozenset()) -> Any:
    """Every event `items` could bill up to `period_end`, before exclusions and limits
    (`unbilled_only`: leaving out sessions and RAR days the billed marks say are billed)."""
    by_unit: dict[str, list[int]] = {}
    for item in items:
        by_unit.setdefault("session" if item.unit in SESSION_MEASURES else item.unit.value, []).append(item.id)
    parts: list[Select] = []
    if "session" in by_unit:
        parts += _session_events(by_unit["session"], period_end, unbilled_only="billed" in marks)
    if Unit.PER_RAR_DAY.value in by_unit:
        parts.append(_rar_day_events(by_unit[Unit.PER_RAR_DAY.value], period_end, unbilled_only="rar_billed" in marks))
    if Unit.PER_REFERRAL.value in by_unit:
        parts.append(_referral_events(by_unit[Unit.PER_REFERRAL.value], period_end))
    if Unit.PER_OUTCOME.value in by_unit:
        parts.append(_outcome_events(by_unit[Unit.PER_OUTCOME.value], period_end))
    parts += _monthly_events(contract, items, period_end)
    if not parts:
        return None
    return (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()


def billable_events(
    contract: Contract, period_end: date, *, exclude_invoice_id: int | None = None, items: dict[int, Item] | None = None
) -> Select:
    """Every event the draft for the month ending `period_end` bills, with its price (price_id is
    NULL for work no price covers). `exclude_invoice_id`: an invoice being revised, whose own
    events count as free."""
    items = contract_items(contract) if items is None else items
    # `live = 1` (not `live IS 1`) so both databases answer from the partial unique index on
    # (item_id, event_key) WHERE live: without it SQLite scans every stored event per candidate.
    is_live: ColumnElement[bool] = InvoiceEvent.live == true()
    if exclude_invoice_id is not None:
        is_live = and_(is_live, InvoiceEvent.invoice_id != exclude_invoice_id)

    def not_yet_billed(candidate: Any) -> ColumnElement[bool]:
        return ~exists().where(
            InvoiceEvent.item_id == candidate.c.item_id, InvoiceEvent.event_key == candidate.c.event_key, is_live
        )

    def day_not_yet_billed(candidate: Any) -> ColumnElement[bool]:
        """A RAR day already billed is not billed again, even if it was billed under another key
        (before RAR days were days, each RAR session was billed as "session:<id>")."""
        return or_(
            ~candidate.c.event_key.startswith("rarday:"),
            ~exists().where(
                InvoiceEvent.item_id == candidate.c.item_id,
                InvoiceEvent.referral_id == candidate.c.referral_id,
                InvoiceEvent.event_date == candidate.c.event_date,
                is_live,
            ),
        )

    branches: list[Select] = []
    # The billed marks leave out work already on a live invoice before it is looked up (the same
    # lookups below still decide): five years of history are not read again for a month's work.
    # Not while an invoice is revised: its own billed work counts as free, marks or not.
    marks = _trusted_marks(items) if exclude_invoice_id is None else frozenset()
    # Items without a per-referral limit: every fresh event counts, in any order.
    unlimited = _candidates(
        contract,
        [item for item in items.values() if not item.limited_per_referral],
        period_end,
        marks=marks,
    )
    if unlimited is not None:
        branches.append(select(*(unlimited.c[name] for name in EVENT_COLUMNS)).where(not_yet_billed(unlimited)))
    # Items with one: a referral's fresh events, oldest first, up to the limit less what is billed already.
    limited = _candidates(
        contract,
        [item for item in items.values() if item.limited_per_referral],
        period_end,
        marks=marks,
    )
    if limited is not None:
        live_per_referral = (
            select(InvoiceEvent.item_id, InvoiceEvent.referral_id, func.count().label("already"))
            .where(
                is_live,
                InvoiceEvent.referral_id.is_not(None),
                InvoiceEvent.item_id.in_([item.id for item in items.values() if item.limited_per_referral]),
            )
            .group_by(InvoiceEvent.item_id, InvoiceEvent.referral_id)
            .subquery("already_billed")
        )
        item, referral = RateCardItem, Referral
        ordered = func.coalesce(referral.rar_days, 0)
        unit_limit = case(
            (
                item.unit == Unit.PER_RAR_DAY,
                case(
                    (
                        and_(item.max_units_per_referral.is_not(None), item.max_units_per_referral < ordered),
                        item.max_units_per_referral,
                    ),
                    else_=ordered,
                ),
            ),
            else_=item.max_units_per_referral,
        )
        ranked = (
            select(
                *(limited.c[name] for name in EVENT_COLUMNS),
                unit_limit.label("unit_limit"),
                func.coalesce(live_per_referral.c.already, 0).label("already"),
                func.row_number()
                .over(
                    partition_by=(limited.c.item_id, limited.c.referral_id),
                    order_by=(limited.c.event_date, limited.c.event_key),
                )
                .label("position"),
            )
            .join(item, item.id == limited.c.item_id)
            .outerjoin(referral, referral.id == limited.c.referral_id)
            .outerjoin(
                live_per_referral,
                and_(
                    live_per_referral.c.item_id == limited.c.item_id,
                    live_per_referral.c.referral_id == limited.c.referral_id,
                ),
            )
            .where(not_yet_billed(limited), day_not_yet_billed(limited))
            .subquery("ranked")
        )
        branches.append(
            select(*(ranked.c[name] for name in EVENT_COLUMNS)).where(
                or_(ranked.c.referral_id.is_(None), ranked.c.position + ranked.c.already <= ranked.c.unit_limit)
            )
        )
    price = RateCardPrice
    if not branches:
        empty = select(*(cast(null(), Integer).label(name) for name in EVENT_COLUMNS)).where(false())
        branches.append(empty)
    fresh = (branches[0] if len(branches) == 1 else union_all(*branches)).subquery("fresh")
    return (
        select(
            *(fresh.c[name] for name in EVENT_COLUMNS),
            price.id.label("price_id"),
            price.unit_price_pence.label("unit_price_pence"),
        )
        .select_from(fresh)
        .outerjoin(
            price,
            and_(
                price.item_id == fresh.c.item_id,
                price.effective_from <= fresh.c.event_date,
                or_(price.effective_to.is_(None), fresh.c.event_date <= price.effective_to),
            ),
        )
    )


# --- figures ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    id: int
    unit_price_pence: int
    effective_from: date


@dataclass
class Line:
    item: Item
    price: Price
    events: int
    minutes: int
    first_date: date
    period_start: date
    months: list[date] = field(default_factory=list)

    @property
    def quantity_hundredths(self) -> int:
        return hours_hundredths(self.minutes) if self.item.unit == Unit.PER_HOUR else self.events * 100

    @property
    def quantity(self) -> Decimal:
        return (Decimal(self.quantity_hundredths) / HUNDRED).quantize(Decimal("0.01"))

    @property
    def amount_pence(self) -> int:
        return line_amount(self.quantity_hundredths, self.price.unit_price_pence)

    @property
    def includes_earlier_work(self) -> bool:
        return self.first_date < self.period_start

    @property
    def description(self) -> str:
        text = self.item.name
        if self.item.unit == Unit.MONTHLY_FIXED:
            text += ": " + ", ".join(f"{month:%B %Y}" for month in self.months)
        elif self.includes_earlier_work:
            text += f" (includes work before {format_date(self.period_start).split(' ', 1)[1]})"
        return text[:300]

    @property
    def signature(self) -> tuple[int, int, int, int]:
        """What the line was counted from: the same signature means the same figures."""
        return (self.item.id, self.price.id, self.events, self.minutes)


@dataclass(frozen=True)
class Unpriced:
    item: Item
    event_key: str
    event_date: date

    def as_json(self) -> dict[str, str]:
        """As a draft keeps it (Invoice.unpriced), for its page to show without the rules."""
        return {
            "item_code": self.item.code,
            "item_name": self.item.name,
            "event_key": self.event_key,
            "event_date": self.event_date.isoformat(),
        }


@dataclass
class Bill:
    """A draft invoice's figures before they are saved."""

    lines: list[Line] = field(default_factory=list)
    unpriced: list[Unpriced] = field(default_factory=list)
    unpriced_count: int = 0
    subtotal_pence: int = 0
    vat_pence: int = 0
    total_pence: int = 0

    @property
    def signature(self) -> list[tuple[int, int, int, int]]:
        return sorted(line.signature for line in self.lines)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def bill_for(contract: Contract, period_start: date, *, exclude_invoice_id: int | None = None) -> Bill:
    """The figures of the draft for `period_start`'s month: one aggregate over billable_events
    (plus, only when there are any, the months of fixed items and the work no price covers)."""
    items = contract_items(contract)
    events = billable_events(
        contract, month_end(period_start), exclude_invoice_id=exclude_invoice_id, items=items
    ).subquery()
    grouped = db.session.execute(
        select(
            events.c.item_id,
            events.c.price_id,
            events.c.unit_price_pence,
            func.count().label("events"),
            func.coalesce(func.sum(events.c.minutes), 0).label("minutes"),
            func.min(events.c.event_date).label("first_date"),
        ).group_by(events.c.item_id, events.c.price_id, events.c.unit_price_pence)
    ).all()
    priced = [row for row in grouped if row.price_id is not None]
    effective = (
        dict(
            db.session.execute(
                select(RateCardPrice.id, RateCardPrice.effective_from).where(
                    RateCardPrice.id.in_([row.price_id for row in priced])
                )
            ).all()
        )
        if priced
        else {}
    )
    lines = [
        Line(
            item=items[row.item_id],
            price=Price(row.price_id, row.unit_price_pence, effective[row.price_id]),
            events=row.events,
            minutes=int(row.minutes),
            first_date=_as_date(row.first_date),
            period_start=period_start,
        )
        for row in priced
    ]
    monthly = {(line.item.id, line.price.id): line for line in lines if line.item.unit == Unit.MONTHLY_FIXED}
    if monthly:
        for item_id, price_id, event_date in db.session.execute(
            select(events.c.item_id, events.c.price_id, events.c.event_date)
            .where(events.c.item_id.in_({item_id for item_id, _ in monthly}))
            .order_by(events.c.event_date)
        ):
            if (item_id, price_id) in monthly:
                monthly[(item_id, price_id)].months.append(_as_date(event_date))
    lines.sort(key=lambda line: (line.item.code, line.price.effective_from))
    unpriced_count = sum(row.events for row in grouped if row.price_id is None)
    unpriced = (
        [
            Unpriced(items[row.item_id], row.event_key, _as_date(row.event_date))
            for row in db.session.execute(
                select(events.c.item_id, events.c.event_key, events.c.event_date)
                .join(RateCardItem, RateCardItem.id == events.c.item_id)
                .where(events.c.price_id.is_(None))
                # The invoice page's order (queries.unpriced_work), so a draft can keep the first rows.
                .order_by(events.c.event_date, RateCardItem.code, events.c.event_key)
                .limit(200)
            )
        ]
        if unpriced_count
        else []
    )
    subtotal, vat, total = totals((line.amount_pence for line in lines), contract.vat_rate_bp)
    return Bill(
        lines=lines,
        unpriced=unpriced,
        unpriced_count=unpriced_count,
        subtotal_pence=subtotal,
        vat_pence=vat,
        total_pence=total,
    )


def stored_signature(invoice: Invoice) -> list[tuple[int, int, int, int]]:
    """The signature of the lines stored on an invoice, to compare with a fresh Bill's."""
    return sorted(
        tuple(row)
        for row in db.session.execute(
            select(InvoiceLine.item_id, InvoiceLine.price_id, InvoiceLine.event_count, InvoiceLine.minutes).where(
                InvoiceLine.invoice_id == invoice.id
            )
        )
    )


def store_events(invoice: Invoice, contract: Contract, *, exclude_invoice_id: int | None = None) -> bool:
    """Freeze the events the invoice's lines bill, live, in one INSERT … SELECT from the rules.
    Returns False if what was stored no longer matches the lines (the records moved in between):
    the caller rolls back."""
    events = billable_events(
        contract, month_end(invoice.period_start), exclude_invoice_id=exclude_invoice_id
    ).subquery()
    line = InvoiceLine
    db.session.execute(
        insert(InvoiceEvent).from_select(
            [
                "invoice_id",
                "line_id",
                "item_id",
                "event_key",
                "referral_id",
                "session_id",
                "outcome_id",
                "event_date",
                "minutes",
                "live",
                "credits_event_id",
                "credited_by_id",
            ],
            select(
                literal(invoice.id),
                line.id,
                events.c.item_id,
                events.c.event_key,
                events.c.referral_id,
                events.c.session_id,
                events.c.outcome_id,
                events.c.event_date,
                events.c.minutes,
                literal(True),
                cast(null(), Integer),
                cast(null(), Integer),
            ).join(
                line,
                and_(
                    line.invoice_id == invoice.id, line.item_id == events.c.item_id, line.price_id == events.c.price_id
                ),
            ),
        )
    )
    stored = sorted(
        tuple(row)
        for row in db.session.execute(
            select(
                line.item_id,
                line.price_id,
                func.count(InvoiceEvent.id),
                func.coalesce(func.sum(InvoiceEvent.minutes), 0),
            )
            .outerjoin(InvoiceEvent, InvoiceEvent.line_id == line.id)
            .where(line.invoice_id == invoice.id)
            .group_by(line.id, line.item_id, line.price_id)
        )
    )
    return stored == stored_signature(invoice)


def sessions_marked_by(invoice_id: int) -> Select:
    """The sessions whose billed marks an invoice's events decide: those its events name."""
    return select(InvoiceEvent.session_id).where(
        InvoiceEvent.invoice_id == invoice_id, InvoiceEvent.session_id.is_not(None)
    )


def session_marks() -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """What the marks of a session (in an UPDATE or a check of delivery_session) must say.

    Both are about the sessions the live events name, which delivery's corrections lock
    (invoicing.service._sessions_on_live_invoices): a named session can be neither edited nor
    deleted, so a mark can only go stale when its event stops being live, and that is where it is
    refreshed. (A RAR day's other sessions are not named, not locked and not marked: they stay
    candidates, and the day is left out by the lookup of the day, as before.)"""
    e, i, s = InvoiceEvent, RateCardItem, Session
    named = and_(e.session_id == s.id, e.live == true(), e.item_id == i.id)
    return (
        exists().where(named, i.unit.in_(SESSION_MEASURES)),
        exists().where(named, i.unit == Unit.PER_RAR_DAY),
    )


def refresh_billed_marks(session_ids: Select | Iterable[int]) -> None:
    """Set the billed marks of these sessions from the live events, as they are now: called
    wherever events go live or stop being live (submitting, revising, rejecting, a credit note
    that lets work be billed again). A mark is a shortcut the rules trust to leave work out, so
    it must never say billed where no live event bills it (integrity.billed_marks_match)."""
    ids = session_ids if isinstance(session_ids, Select) else sorted(set(session_ids))
    if not isinstance(ids, Select) and not ids:
        return
    billed, rar_billed = session_marks()
    db.session.execute(
        update(Session)
        .where(Session.id.in_(ids))
        # Bookkeeping, not an edit of the session: its updated_at (the API's updated_since) stays.
        .values(billed=billed, rar_billed=rar_billed, updated_at=Session.updated_at)
        .execution_options(synchronize_session=False)
    )


def mark_every_billed_session() -> None:
    """Set the billed marks of every session a live event names, set-based: for records written in
    bulk with their marks unset (bench/scale.py; migration 0032 does the same)."""
    e, i = InvoiceEvent, RateCardItem
    for mark, units in (("billed", SESSION_MEASURES), ("rar_billed", (Unit.PER_RAR_DAY,))):
        named = (
            select(e.session_id)
            .join(i, i.id == e.item_id)
            .where(e.live == true(), e.session_id.is_not(None), i.unit.in_(units))
        )
        db.session.execute(
            update(Session)
            .where(Session.id.in_(named))
            .values({mark: True, "updated_at": Session.updated_at})
            .execution_options(synchronize_session=False)
        )


def line_events(line: InvoiceLine, invoice: Invoice) -> Select:
    """The events a line bills: the frozen ones once the invoice has been submitted, otherwise
    what the rules give now (a draft stores no events). Columns: id, line_id, credited_by_id
    (NULL on a draft) and those of EVENT_COLUMNS."""
    if invoice.status != InvoiceStatus.DRAFT or invoice.is_credit_note:
        return select(
            InvoiceEvent.id,
            InvoiceEvent.line_id,
            InvoiceEvent.credited_by_id,
            *(getattr(InvoiceEvent, name).label(name) for name in EVENT_COLUMNS),
        ).where(InvoiceEvent.line_id == line.id)
    contract = db.session.get(Contract, invoice.contract_id)
    # Only the line's own item: each item's events, limits and prices are its own, so the rules
    # asked of one item give exactly that item's share of the whole draft, reading far less.
    items = {item_id: item for item_id, item in contract_items(contract).items() if item_id == line.item_id}
    events = billable_events(contract, month_end(invoice.period_start), items=items).subquery()
    return select(
        cast(null(), Integer).label("id"),
        literal(line.id, Integer).label("line_id"),
        cast(null(), Integer).label("credited_by_id"),
        *(events.c[name] for name in EVENT_COLUMNS),
    ).where(events.c.item_id == line.item_id, events.c.price_id == line.price_id)


# --- spend ---------------------------------------------------------------------------------------------


def spend_pence(contract: Contract) -> int:
    """Spend against the cap, before VAT (Invoice.spend_pence: invoices submitted, queried,
    approved or paid, less approved credit notes)."""
    return (
        db.session.scalar(
            select(func.coalesce(func.sum(Invoice.spend_pence), 0)).where(Invoice.contract_id == contract.id)
        )
        or 0
    )


def contract_can_be_billed(contract: Contract) -> bool:
    return contract.status in (ContractStatus.ACTIVE, ContractStatus.ENDED)
