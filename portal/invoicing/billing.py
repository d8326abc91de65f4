"""The billing rules of API.md, in one place, as set-based queries over the database.

`billable_events` is the rules: one SELECT naming every event the draft for a month bills, with
its price. The figures (`bill_for`) aggregate it; a draft's events are stored from it in one
INSERT … SELECT (`store_events`); a submission checks it has not moved (`differs_from_stored`).
Keeping the rules in SQL keeps a 50,000-event month as fast as the database (see
bench/invoice.py). The tests check it against an independent, row-by-row calculation
(tests/invoicing/oracle.py) over worked examples and random histories.

The rules: an event is billable if it is dated on or before the month's last day and is not on a
live invoice (submitted, queried, approved or paid) of the contract. A referral's events are
priced by the items of its service code, each by its unit: per_referral (the acceptance date),
per_session and per_hour (attended or late sessions), per_rar_day (those that count as RAR days,
never more per referral than the days ordered), per_outcome (verified outcomes of the item's
type, by the date achieved), monthly_fixed (each month the contract runs, the month's first
day). An item's max_units_per_referral caps a referral's events, counting those already invoiced,
oldest first. The price is the one effective on the event's date. One line per (item, price);
quantity is the event count, or for per_hour total minutes / 60 rounded half up to 2 places;
amount = round half up (quantity x price); VAT = round half up (subtotal x rate).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    union_all,
)

from portal.contracts.models import Contract, ContractStatus, RateCardItem, RateCardPrice, Unit
from portal.delivery.models import ATTENDED, Outcome, OutcomeStatus, Session
from portal.extensions import db
from portal.formatting import format_date
from portal.invoicing.models import LIVE_STATUSES, Invoice, InvoiceEvent, InvoiceKind, InvoiceLine, InvoiceStatus
from portal.money import round_half_up
from portal.referrals.models import Referral

HUNDRED = Decimal(100)
SESSION_UNITS = (Unit.PER_SESSION, Unit.PER_HOUR, Unit.PER_RAR_DAY)


# --- plain arithmetic -------------------------------------------------------------------------------


def month_end(period_start: date) -> date:
    return period_start.replace(day=calendar.monthrange(period_start.year, period_start.month)[1])


def months_between(first: date, last: date) -> list[date]:
    """First days of every month from `first`'s month to `last`'s month inclusive."""
    months = []
    current = first.replace(day=1)
    while current <= last:
        months.append(current)
        current = date(current.year + current.month // 12, current.month % 12 + 1, 1)
    return months


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


def _session_events(contract_id: int, period_end: date) -> Select:
    r, s, i = Referral, Session, RateCardItem
    return (
        select(i.id.label("item_id"), (literal("session:") + cast(s.id, String)).label("event_key"),
               s.date.label("event_date"), s.referral_id.label("referral_id"), s.id.label("session_id"),
               cast(null(), Integer).label("outcome_id"),
               case((i.unit == Unit.PER_HOUR, s.duration_minutes), else_=0).label("minutes"))
        .select_from(s)
        .join(r, r.id == s.referral_id)
        .join(i, and_(i.contract_id == r.contract_id, i.service_code == r.service_code))
        .where(r.contract_id == contract_id, s.attendance.in_(ATTENDED), s.date <= period_end,
               i.unit.in_(SESSION_UNITS), or_(i.unit != Unit.PER_RAR_DAY, s.counts_as_rar_day.is_(True)))
    )


def _referral_events(contract_id: int, period_end: date) -> Select:
    r, i = Referral, RateCardItem
    return (
        select(i.id, literal("referral:") + cast(r.id, String), r.accepted_on, r.id, cast(null(), Integer),
               cast(null(), Integer), literal(0))
        .select_from(r)
        .join(i, and_(i.contract_id == r.contract_id, i.service_code == r.service_code))
        .where(r.contract_id == contract_id, i.unit == Unit.PER_REFERRAL, r.accepted_on.is_not(None),
               r.accepted_on <= period_end)
    )


def _outcome_events(contract_id: int, period_end: date) -> Select:
    r, o, i = Referral, Outcome, RateCardItem
    return (
        select(i.id, literal("outcome:") + cast(o.id, String), o.achieved_on, o.referral_id, cast(null(), Integer),
               o.id, literal(0))
        .select_from(o)
        .join(r, r.id == o.referral_id)
        .join(i, and_(i.contract_id == r.contract_id, i.service_code == r.service_code,
                      i.outcome_type_id == o.outcome_type_id))
        .where(r.contract_id == contract_id, i.unit == Unit.PER_OUTCOME, o.status == OutcomeStatus.VERIFIED,
               o.achieved_on <= period_end)
    )


def _monthly_events(contract: Contract, period_end: date) -> list[Select]:
    """One event per fixed-amount item per month the contract runs, up to this month."""
    items = db.session.scalars(select(RateCardItem.id).where(RateCardItem.contract_id == contract.id,
                                                             RateCardItem.unit == Unit.MONTHLY_FIXED)).all()
    months = months_between(contract.start_date, min(period_end, contract.end_date))
    if not items or not months:
        return []
    # A handful of rows (items x months), written as literal SELECTs: portable to SQLite and PostgreSQL.
    return [
        select(literal(item_id, Integer), literal(f"month:{month.isoformat()}", String), literal(month, Date),
               cast(null(), Integer), cast(null(), Integer), cast(null(), Integer), literal(0, Integer))
        for item_id in items for month in months
    ]


def billable_events(contract: Contract, period_end: date, *, exclude_invoice_id: int | None = None) -> Select:
    """Every event the draft for the month ending `period_end` bills, with its price (price_id is
    NULL for work no price covers). `exclude_invoice_id`: an invoice being revised, whose own
    events count as free."""
    parts = [_session_events(contract.id, period_end), _referral_events(contract.id, period_end),
             _outcome_events(contract.id, period_end)]
    parts += _monthly_events(contract, period_end)
    candidate = union_all(*parts).subquery("candidate")

    live = select(InvoiceEvent.item_id, InvoiceEvent.event_key, InvoiceEvent.referral_id).where(
        InvoiceEvent.live.is_(True))
    if exclude_invoice_id is not None:
        live = live.where(InvoiceEvent.invoice_id != exclude_invoice_id)
    live = live.subquery("live")
    live_per_referral = (select(live.c.item_id, live.c.referral_id, func.count().label("already"))
                         .where(live.c.referral_id.is_not(None))
                         .group_by(live.c.item_id, live.c.referral_id).subquery("already_billed"))

    item, referral = RateCardItem, Referral
    ordered = func.coalesce(referral.rar_days, 0)
    limit = case(
        (item.unit == Unit.PER_RAR_DAY,
         case((and_(item.max_units_per_referral.is_not(None), item.max_units_per_referral < ordered),
               item.max_units_per_referral), else_=ordered)),
        else_=item.max_units_per_referral,
    )
    fresh = (
        select(candidate, limit.label("unit_limit"),
               func.coalesce(live_per_referral.c.already, 0).label("already"),
               func.row_number().over(partition_by=(candidate.c.item_id, candidate.c.referral_id),
                                      order_by=(candidate.c.event_date, candidate.c.event_key)).label("position"))
        .join(item, item.id == candidate.c.item_id)
        .outerjoin(referral, referral.id == candidate.c.referral_id)
        .outerjoin(live_per_referral, and_(live_per_referral.c.item_id == candidate.c.item_id,
                                           live_per_referral.c.referral_id == candidate.c.referral_id))
        .where(~exists().where(live.c.item_id == candidate.c.item_id, live.c.event_key == candidate.c.event_key))
        .subquery("fresh")
    )
    price = RateCardPrice
    return (
        select(fresh.c.item_id, fresh.c.event_key, fresh.c.event_date, fresh.c.referral_id, fresh.c.session_id,
               fresh.c.outcome_id, fresh.c.minutes, price.id.label("price_id"),
               price.unit_price_pence.label("unit_price_pence"))
        .select_from(fresh)
        .outerjoin(price, and_(price.item_id == fresh.c.item_id, price.effective_from <= fresh.c.event_date,
                               or_(price.effective_to.is_(None), fresh.c.event_date <= price.effective_to)))
        .where(or_(fresh.c.unit_limit.is_(None), fresh.c.referral_id.is_(None),
                   fresh.c.position + fresh.c.already <= fresh.c.unit_limit))
    )


# --- figures ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    id: int
    code: str
    service_code: str
    name: str
    unit: Unit


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


@dataclass(frozen=True)
class Unpriced:
    item: Item
    event_key: str
    event_date: date


@dataclass
class Bill:
    """A draft invoice's figures before they are saved."""

    lines: list[Line] = field(default_factory=list)
    unpriced: list[Unpriced] = field(default_factory=list)
    subtotal_pence: int = 0
    vat_pence: int = 0
    total_pence: int = 0


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def bill_for(contract: Contract, period_start: date, *, exclude_invoice_id: int | None = None) -> Bill:
    """The figures of the draft for `period_start`'s month: one aggregate over billable_events."""
    events = billable_events(contract, month_end(period_start), exclude_invoice_id=exclude_invoice_id).subquery()
    items = {row.id: Item(row.id, row.code, row.service_code, row.name, row.unit) for row in db.session.execute(
        select(RateCardItem.id, RateCardItem.code, RateCardItem.service_code, RateCardItem.name, RateCardItem.unit)
        .where(RateCardItem.contract_id == contract.id))}
    grouped = db.session.execute(
        select(events.c.item_id, events.c.price_id, events.c.unit_price_pence, func.count().label("events"),
               func.coalesce(func.sum(events.c.minutes), 0).label("minutes"),
               func.min(events.c.event_date).label("first_date"))
        .where(events.c.price_id.is_not(None))
        .group_by(events.c.item_id, events.c.price_id, events.c.unit_price_pence)
    ).all()
    effective = dict(db.session.execute(
        select(RateCardPrice.id, RateCardPrice.effective_from).where(
            RateCardPrice.id.in_([row.price_id for row in grouped]))).all()) if grouped else {}
    lines = [Line(item=items[row.item_id], price=Price(row.price_id, row.unit_price_pence, effective[row.price_id]),
                  events=row.events, minutes=int(row.minutes), first_date=_as_date(row.first_date),
                  period_start=period_start) for row in grouped]
    monthly = [line for line in lines if line.item.unit == Unit.MONTHLY_FIXED]
    if monthly:
        for item_id, price_id, event_date in db.session.execute(
                select(events.c.item_id, events.c.price_id, events.c.event_date)
                .where(events.c.item_id.in_([line.item.id for line in monthly]))
                .order_by(events.c.event_date)):
            next(line for line in monthly if (line.item.id, line.price.id) == (item_id, price_id)).months.append(
                _as_date(event_date))
    lines.sort(key=lambda line: (line.item.code, line.price.effective_from))
    unpriced = [Unpriced(items[row.item_id], row.event_key, _as_date(row.event_date)) for row in db.session.execute(
        select(events.c.item_id, events.c.event_key, events.c.event_date).where(events.c.price_id.is_(None))
        .order_by(events.c.event_date).limit(200))]
    subtotal, vat, total = totals((line.amount_pence for line in lines), contract.vat_rate_bp)
    return Bill(lines=lines, unpriced=unpriced, subtotal_pence=subtotal, vat_pence=vat, total_pence=total)


def store_events(invoice: Invoice, contract: Contract, line_ids: dict[tuple[int, int], int], *,
                 exclude_invoice_id: int | None = None) -> None:
    """Store the invoice's events straight from billable_events: one INSERT … SELECT."""
    if not line_ids:
        return
    events = billable_events(contract, month_end(invoice.period_start),
                             exclude_invoice_id=exclude_invoice_id).subquery()
    line_id = case(*[(and_(events.c.item_id == item_id, events.c.price_id == price_id), line)
                     for (item_id, price_id), line in line_ids.items()])
    db.session.execute(insert(InvoiceEvent).from_select(
        ["invoice_id", "line_id", "item_id", "event_key", "referral_id", "session_id", "outcome_id", "event_date",
         "minutes", "live", "credits_event_id", "credited_by_id"],
        select(literal(invoice.id), line_id, events.c.item_id, events.c.event_key, events.c.referral_id,
               events.c.session_id, events.c.outcome_id, events.c.event_date, events.c.minutes,
               literal(invoice.is_live), cast(null(), Integer), cast(null(), Integer))
        .where(events.c.price_id.is_not(None)),
    ))


def differs_from_stored(invoice: Invoice, contract: Contract, *, exclude_invoice_id: int | None = None) -> bool:
    """True if the records have moved since the invoice's events were stored: any event, minutes
    or price in one and not the other."""
    events = billable_events(contract, month_end(invoice.period_start),
                             exclude_invoice_id=exclude_invoice_id).subquery()
    now = select(events.c.item_id, events.c.event_key, events.c.minutes, events.c.price_id).where(
        events.c.price_id.is_not(None))
    stored = (select(InvoiceEvent.item_id, InvoiceEvent.event_key, InvoiceEvent.minutes, InvoiceLine.price_id)
              .join(InvoiceLine, InvoiceLine.id == InvoiceEvent.line_id)
              .where(InvoiceEvent.invoice_id == invoice.id))
    for difference in (now.except_(stored), stored.except_(now)):
        if db.session.scalar(select(func.count()).select_from(difference.subquery())):
            return True
    return False


# --- spend ---------------------------------------------------------------------------------------------


def spend_pence(contract: Contract) -> int:
    """Spend against the cap, before VAT: invoices submitted, queried, approved or paid, less
    approved credit notes."""
    return db.session.scalar(
        select(func.coalesce(func.sum(Invoice.subtotal_pence), 0)).where(
            Invoice.contract_id == contract.id,
            ((Invoice.kind == InvoiceKind.INVOICE) & Invoice.status.in_(LIVE_STATUSES))
            | ((Invoice.kind == InvoiceKind.CREDIT_NOTE)
               & Invoice.status.in_((InvoiceStatus.APPROVED, InvoiceStatus.PAID))),
        )
    ) or 0


def contract_can_be_billed(contract: Contract) -> bool:
    return contract.status in (ContractStatus.ACTIVE, ContractStatus.ENDED)
