"""What the invoice pages, exports and home page read: filtered lists and their totals by status,
the contract manager's approval queue, an invoice's lines, each line's events with the records
they bill, and the overdue counts.

Read-only. Every query starts from `portal.access`, and none issues more statements as the rows it
shows grow (eager loads and aggregates in SQL).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, select
from sqlalchemy.orm import joinedload

from portal import access, keyset
from portal.accounts.models import User
from portal.contracts.models import Contract, OutcomeType, RateCardItem, Unit
from portal.csv_files import stream_rows
from portal.dates import month_end
from portal.delivery.models import Attendance, Outcome, Session
from portal.extensions import db
from portal.formatting import LONDON, format_time
from portal.invoicing import billing
from portal.invoicing.models import Invoice, InvoiceEvent, InvoiceKind, InvoiceLine, InvoiceStatus
from portal.organisations.models import Organisation
from portal.people.models import Person
from portal.referrals.models import Referral
from portal.urls import as_id

HUNDRED = Decimal(100)


# --- lists -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The list's query arguments: `status`, `contract` (reference), `partner` (organisation id, CRC
    users only), `overdue=yes`. Anything unrecognised is ignored rather than refused."""

    status: str = ""
    contract: str = ""
    partner: str = ""
    overdue: bool = False

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Filters:
        status = (args.get("status") or "").strip().lower()
        partner = (args.get("partner") or "").strip()
        return cls(
            status=status if status in {value.value for value in InvoiceStatus} else "",
            contract=(args.get("contract") or "").strip().upper()[:30],
            partner=partner if as_id(partner) is not None else "",
            overdue=(args.get("overdue") or "") == "yes",
        )

    @property
    def any(self) -> bool:
        return bool(self.status or self.contract or self.partner or self.overdue)

    def args(self, **changes: str) -> dict[str, str]:
        """As query arguments, for links that keep the filters (exports, a status's total)."""
        values = {"status": self.status, "contract": self.contract, "partner": self.partner}
        if self.overdue:
            values["overdue"] = "yes"
        values.update(changes)
        return {key: value for key, value in values.items() if value}


def _conditions(user: User, filters: Filters) -> list[ColumnElement[bool]]:
    conditions = [access.visibility_clause(Invoice, user)]
    if filters.status:
        conditions.append(Invoice.status == InvoiceStatus(filters.status))
    if filters.contract:
        conditions.append(Invoice.contract_id.in_(select(Contract.id).where(Contract.reference == filters.contract)))
    if filters.partner and user.is_crc_user:
        conditions.append(Invoice.partner_id == int(filters.partner))
    if filters.overdue:
        conditions.append(Invoice.overdue)
    return conditions


def invoice_list(user: User, filters: Filters) -> Select[tuple[Invoice]]:
    """Invoices and credit notes the user may see, newest month first, with their contracts."""
    return (
        select(Invoice)
        .where(*_conditions(user, filters))
        .options(joinedload(Invoice.contract))
        .order_by(Invoice.period_start.desc(), Invoice.id.desc())
    )


def invoice_ids(user: User, filters: Filters) -> Select[tuple[int]]:
    """The ids of the filtered list (for exporting its lines)."""
    return select(Invoice.id).where(*_conditions(user, filters))


@dataclass(frozen=True)
class StatusTotal:
    status: InvoiceStatus
    invoices: int
    invoices_pence: int
    credit_notes: int
    credit_notes_pence: int


def totals_by_status(user: User, filters: Filters) -> list[StatusTotal]:
    """Count and amount (with VAT) of the filtered list by status, invoices and credit notes apart."""
    rows = db.session.execute(
        select(Invoice.status, Invoice.kind, func.count(), func.coalesce(func.sum(Invoice.total_pence), 0))
        .where(*_conditions(user, filters))
        .group_by(Invoice.status, Invoice.kind)
    ).all()
    found: dict[InvoiceStatus, dict[InvoiceKind, tuple[int, int]]] = {}
    for status, kind, count, amount in rows:
        found.setdefault(InvoiceStatus(status), {})[InvoiceKind(kind)] = (int(count), int(amount))
    totals = []
    for status in InvoiceStatus:
        if status not in found:
            continue
        invoices = found[status].get(InvoiceKind.INVOICE, (0, 0))
        notes = found[status].get(InvoiceKind.CREDIT_NOTE, (0, 0))
        totals.append(StatusTotal(status, invoices[0], invoices[1], notes[0], notes[1]))
    return totals


def approval_queue(user: User, filters: Filters) -> Select[tuple[Invoice]]:
    """Submitted invoices and credit notes waiting for a contract manager, oldest first."""
    conditions = _conditions(user, Filters(contract=filters.contract, partner=filters.partner))
    return (
        select(Invoice)
        .where(*conditions, Invoice.status == InvoiceStatus.SUBMITTED)
        .options(joinedload(Invoice.contract))
        .order_by(Invoice.submitted_at, Invoice.id)
    )


def waiting_for_excess_approval(user: User, filters: Filters) -> list[Invoice]:
    """Drafts and queried invoices that go past their contract's cap and need its excess approved."""
    conditions = _conditions(user, Filters(contract=filters.contract, partner=filters.partner))
    return list(
        db.session.scalars(
            select(Invoice)
            .where(
                *conditions,
                Invoice.kind == InvoiceKind.INVOICE,
                Invoice.status.in_((InvoiceStatus.DRAFT, InvoiceStatus.QUERIED)),
                Invoice.cap_excess_pence > func.coalesce(Invoice.excess_approved_pence, 0),
            )
            .options(joinedload(Invoice.contract))
            .order_by(Invoice.generated_at, Invoice.id)
        ).unique()
    )


def contract_choices(user: User, *, billable_only: bool = False) -> list[Contract]:
    from portal.grants.service import paid_by_schedule

    statement = access.visible(Contract, user).order_by(Contract.reference)
    if billable_only:
        # A grant paid by its schedule of instalments is never invoiced: its grant payments are raised.
        statement = statement.where(~paid_by_schedule())
    contracts = list(db.session.scalars(statement).unique())
    return (
        [contract for contract in contracts if billing.contract_can_be_billed(contract)] if billable_only else contracts
    )


def contract_options(user: User) -> list[Any]:
    """(reference, title) of the contracts the user can see, by reference: a list filter's choices,
    read as plain rows rather than as contracts with what they load."""
    visible = select(Contract.id).where(access.visibility_clause(Contract, user))
    return list(
        db.session.execute(
            select(Contract.reference, Contract.title).where(Contract.id.in_(visible)).order_by(Contract.reference)
        )
    )


def partner_options(user: User) -> list[Any]:
    """(id, name) of the partners with a contract the (CRC) user can see, by name (plain rows)."""
    return list(
        db.session.execute(
            select(Organisation.id, Organisation.name)
            .where(Organisation.id.in_(select(Contract.partner_id).where(access.visibility_clause(Contract, user))))
            .order_by(Organisation.name)
        )
    )


def drafts_of(user: User) -> list[Invoice]:
    """The partner's current drafts (one a contract), so the generate page can say which it replaces."""
    return list(
        db.session.scalars(
            access.visible(Invoice, user)
            .where(Invoice.status == InvoiceStatus.DRAFT, Invoice.kind == InvoiceKind.INVOICE)
            .options(joinedload(Invoice.contract))
            .order_by(Invoice.id)
        ).unique()
    )


# --- one invoice ------------------------------------------------------------------------------------


def lines_of(invoice: Invoice) -> list[InvoiceLine]:
    return list(
        db.session.scalars(
            select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).order_by(InvoiceLine.position)
        )
    )


def credit_notes_of(invoice: Invoice) -> list[Invoice]:
    return list(
        db.session.scalars(
            select(Invoice)
            .where(Invoice.credited_invoice_id == invoice.id, Invoice.kind == InvoiceKind.CREDIT_NOTE)
            .order_by(Invoice.id)
        )
    )


def credited_invoice_of(note: Invoice) -> Invoice | None:
    if note.credited_invoice_id is None:
        return None
    return db.session.get(Invoice, note.credited_invoice_id)


def names_of(user_ids: set[int | None]) -> dict[int, str]:
    """Users' names by id, in one query (for "submitted by …")."""
    wanted = {user_id for user_id in user_ids if user_id}
    if not wanted:
        return {}
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(wanted))).all())


@dataclass(frozen=True)
class UnpricedWork:
    item_code: str
    item_name: str
    event_key: str
    event_date: date

    @property
    def what(self) -> str:
        kind = self.event_key.split(":", 1)[0]
        labels = {
            "session": "Session",
            "rarday": "RAR day",
            "referral": "Referral accepted",
            "outcome": "Verified outcome",
            "month": "Fixed amount for the month",
        }
        return labels.get(kind, kind)


def unpriced_work(invoice: Invoice, *, limit: int = 50) -> tuple[list[UnpricedWork], int]:
    """Work the draft would bill but no price covers (its date falls outside every price period):
    the first `limit` pieces, and how many there are. Only a draft or queried invoice changes, so
    only they are asked."""
    if invoice.status == InvoiceStatus.DRAFT and invoice.unpriced_count is not None:
        # What the draft's generation found, kept with its lines (the page shows both as of then;
        # submitting checks the records again).
        kept = [
            UnpricedWork(row["item_code"], row["item_name"], row["event_key"], _as_date(row["event_date"]))
            for row in (invoice.unpriced or [])[:limit]
        ]
        return kept, invoice.unpriced_count
    contract = db.session.get(Contract, invoice.contract_id)
    exclude = invoice.id if invoice.status == InvoiceStatus.QUERIED else None
    events = billing.billable_events(contract, month_end(invoice.period_start), exclude_invoice_id=exclude).subquery()
    # One pass of the billing rules, which read the contract's whole history: the window count
    # gives the total alongside the first rows (a second query would run the rules again).
    rows = db.session.execute(
        select(
            RateCardItem.code,
            RateCardItem.name,
            events.c.event_key,
            events.c.event_date,
            func.count().over().label("total"),
        )
        .join(RateCardItem, RateCardItem.id == events.c.item_id)
        .where(events.c.price_id.is_(None))
        .order_by(events.c.event_date, RateCardItem.code, events.c.event_key)
        .limit(limit)
    ).all()
    total = rows[0].total if rows else 0
    return [UnpricedWork(code, name, key, _as_date(day)) for code, name, key, day, _ in rows], total


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


# --- a line's events (the drill-down) ------------------------------------------------------------------


@dataclass(frozen=True)
class EventRow:
    """One billable event of a line, with what the records say about it. Referral and person
    fields are None where the user may not see that record."""

    id: int
    line_id: int
    event_key: str
    event_date: date
    minutes: int
    credited_by_id: int | None
    session_date: date | None
    start_time: time | None
    duration_minutes: int | None
    attendance: Attendance | None
    outcome_type: str | None
    achieved_on: date | None
    referral_id: int | None
    referral_reference: str | None
    accepted_on: date | None
    person_name: str | None
    crn: str | None

    @property
    def kind(self) -> str:
        return self.event_key.split(":", 1)[0]

    @property
    def month(self) -> date:
        """The calendar month the work falls in (for a fixed monthly amount, the month it pays)."""
        return self.event_date.replace(day=1)

    @property
    def start_time_label(self) -> str:
        """'10:30am', as the portal shows times (a session's start is London wall-clock time)."""
        if self.start_time is None or self.session_date is None:
            return ""
        return format_time(datetime.combine(self.session_date, self.start_time, tzinfo=LONDON))


def _event_rows_statement(source: Any) -> Select:
    """The events of `source` (billing.line_events, or stored events) with what they bill for."""
    e = source.c
    return (
        select(
            e.id,
            e.line_id,
            e.event_key,
            e.event_date,
            e.minutes,
            e.credited_by_id,
            Session.date.label("session_date"),
            Session.start_time,
            Session.duration_minutes,
            Session.attendance,
            OutcomeType.name.label("outcome_type"),
            Outcome.achieved_on,
            e.referral_id,
            Referral.reference,
            Referral.accepted_on,
            Referral.person_id,
            Person.given_name,
            Person.family_name,
            Person.crn,
        )
        .select_from(source)
        .outerjoin(Session, Session.id == e.session_id)
        .outerjoin(Outcome, Outcome.id == e.outcome_id)
        .outerjoin(OutcomeType, OutcomeType.id == Outcome.outcome_type_id)
        .outerjoin(Referral, Referral.id == e.referral_id)
        .outerjoin(Person, Person.id == Referral.person_id)
        .order_by(e.line_id, e.event_date, e.event_key, e.id)
    )


def _stored_events(which: ColumnElement[bool]) -> Any:
    return (
        select(
            InvoiceEvent.id,
            InvoiceEvent.line_id,
            InvoiceEvent.credited_by_id,
            *(getattr(InvoiceEvent, name).label(name) for name in billing.EVENT_COLUMNS),
        )
        .where(which)
        .subquery("events")
    )


def _visible_ids(user: User, source: Any) -> tuple[set[int], set[int]]:
    """Which of the events' referrals, and their people, the user may see: two queries however
    many events (the rules are portal.access's)."""
    referral_ids = select(source.c.referral_id).where(source.c.referral_id.is_not(None))
    referrals = set(
        db.session.scalars(
            select(Referral.id).where(Referral.id.in_(referral_ids), access.visibility_clause(Referral, user))
        )
    )
    people = set(
        db.session.scalars(
            select(Person.id).where(
                Person.id.in_(select(Referral.person_id).where(Referral.id.in_(referral_ids))),
                access.visibility_clause(Person, user),
            )
        )
    )
    return referrals, people


def _visible_among(user: User, rows: list[Any]) -> tuple[set[int], set[int]]:
    """Which of these rows' referrals, and their people, the user may see: two queries over the
    rows in hand (a page of a line's events), not over every event of the line."""
    referral_ids = {row.referral_id for row in rows if row.referral_id is not None}
    if not referral_ids:
        return set(), set()
    referrals = set(
        db.session.scalars(
            select(Referral.id).where(Referral.id.in_(referral_ids), access.visibility_clause(Referral, user))
        )
    )
    people = set(
        db.session.scalars(
            select(Person.id).where(
                Person.id.in_({row.person_id for row in rows if row.referral_id in referral_ids}),
                access.visibility_clause(Person, user),
            )
        )
    )
    return referrals, people


def _event_rows(user: User, source: Any, *, limit: int | None = None, offset: int = 0) -> list[EventRow]:
    statement = _event_rows_statement(source)
    if limit is not None:
        statement = statement.limit(limit).offset(offset)
    return _shown_events(user, db.session.execute(statement).all())


def _shown_events(user: User, rows: Any) -> list[EventRow]:
    rows = list(rows)
    return list(_showing(_visible_among(user, rows), rows))


def streamed_event_rows(user: User, line: InvoiceLine) -> Iterator[EventRow]:
    """All the line's events in date order, as `user` may see them, fetched a batch at a time
    (for the CSV download: a line can bill tens of thousands of sessions)."""
    source = _line_source(line)
    # Who may see what is asked now, while the request's user is at hand, not as the file streams.
    return _showing(_visible_ids(user, source), stream_rows(_event_rows_statement(source)))


def _showing(visible: tuple[set[int], set[int]], rows: Any) -> Iterator[EventRow]:
    referrals, people = visible
    for row in rows:
        referral_seen = row.referral_id in referrals
        person_seen = referral_seen and row.person_id in people
        yield EventRow(
            id=row.id,
            line_id=row.line_id,
            event_key=row.event_key,
            event_date=_as_date(row.event_date),
            minutes=row.minutes,
            credited_by_id=row.credited_by_id,
            session_date=row.session_date,
            start_time=row.start_time,
            duration_minutes=row.duration_minutes,
            attendance=row.attendance,
            outcome_type=row.outcome_type,
            achieved_on=row.achieved_on,
            referral_id=row.referral_id if referral_seen else None,
            referral_reference=row.reference if referral_seen else None,
            accepted_on=row.accepted_on if referral_seen else None,
            person_name=f"{row.given_name} {row.family_name}" if person_seen else None,
            crn=row.crn if person_seen else None,
        )


def event_rows(user: User, line: InvoiceLine, *, limit: int | None = None, offset: int = 0) -> list[EventRow]:
    """The line's events in date order (a page of them, with `limit`), as `user` may see them."""
    return _event_rows(user, _line_source(line), limit=limit, offset=offset)


def event_page(
    user: User, line: InvoiceLine, *, per_page: int, after: str | None = None, before: str | None = None
) -> keyset.Window:
    """A page of the line's events in date order, after or before a keyset cursor (BadCursor for
    one that is not ours), as `user` may see them."""
    source = _line_source(line)
    window = keyset.seek(_event_rows_statement(source), per_page=per_page, after=after, before=before)
    window.items = _shown_events(user, window.items)
    return window


def _line_source(line: InvoiceLine) -> Any:
    """A line's events: frozen on a submitted invoice, as the rules give them now on a draft."""
    invoice = db.session.get(Invoice, line.invoice_id)
    return billing.line_events(line, invoice).subquery("events")


@dataclass(frozen=True)
class LineTotals:
    """A line's figures worked out again from its stored events: they equal the line's own."""

    events: int
    minutes: int
    quantity_hundredths: int
    amount_pence: int

    @property
    def quantity(self) -> Decimal:
        return (Decimal(self.quantity_hundredths) / HUNDRED).quantize(Decimal("0.01"))

    @property
    def hours(self) -> Decimal:
        return (Decimal(self.minutes) / Decimal(60)).quantize(Decimal("0.01"))


def line_totals(line: InvoiceLine, *, credit: bool = False) -> LineTotals:
    """A line's figures: a submitted line's (or a credit note's) are its own, counted from the
    events frozen under it (integrity.lines_count_their_events checks they agree), so a 30,000-event
    line is not counted again on every view; a draft's are worked out again from the records now,
    so its page can say when they have moved since it was generated."""
    invoice = db.session.get(Invoice, line.invoice_id)
    if invoice is not None and (invoice.status != InvoiceStatus.DRAFT or invoice.is_credit_note):
        return LineTotals(
            events=line.event_count,
            minutes=line.minutes,
            quantity_hundredths=line.quantity_hundredths,
            amount_pence=line.amount_pence,
        )
    events = _line_source(line)
    count, minutes = db.session.execute(
        select(func.count(), func.coalesce(func.sum(events.c.minutes), 0)).select_from(events)
    ).one()
    return _worked_out(line, int(count), int(minutes), credit=credit)


def _worked_out(line: InvoiceLine, count: int, minutes: int, *, credit: bool) -> LineTotals:
    """A draft line's figures from its events' count and minutes, as the rules give them now."""
    hundredths = billing.hours_hundredths(minutes) if line.unit == Unit.PER_HOUR else 100 * int(count)
    if credit:
        hundredths = -hundredths
    return LineTotals(
        events=count,
        minutes=minutes,
        quantity_hundredths=hundredths,
        amount_pence=billing.line_amount(hundredths, line.unit_price_pence),
    )


def line_page(
    user: User,
    line: InvoiceLine,
    *,
    per_page: int,
    after: str | None = None,
    before: str | None = None,
    credit: bool = False,
) -> tuple[keyset.Window, LineTotals]:
    """A page of the line's events (event_page) and its figures (line_totals). A draft's events
    are the billing rules' answer now, the costly part of its page: asked once, as one statement
    whose rows carry the count and minutes of all of them, rather than once for the figures and
    again for the page. BadCursor for a cursor that is not ours."""
    invoice = db.session.get(Invoice, line.invoice_id)
    if invoice is None or invoice.status != InvoiceStatus.DRAFT or invoice.is_credit_note:
        window = event_page(user, line, per_page=per_page, after=after, before=before)
        return window, line_totals(line, credit=credit)
    # Named three times in the statement, so PostgreSQL works the events out once (a CTE used more
    # than once is materialised); SQLite may work them out again, which at its sizes is quick.
    events = billing.line_events(line, invoice).cte("events")
    counted = select(func.count()).select_from(events).scalar_subquery()
    minutes = select(func.coalesce(func.sum(events.c.minutes), 0)).select_from(events).scalar_subquery()
    statement = _event_rows_statement(events).add_columns(counted.label("all_events"), minutes.label("all_minutes"))
    window = keyset.seek(statement, per_page=per_page, after=after, before=before)
    if window.items:
        totals = _worked_out(line, int(window.items[0].all_events), int(window.items[0].all_minutes), credit=credit)
    else:  # no events on this page (none at all, or a cursor past them): counted on their own
        totals = line_totals(line, credit=credit)
    window.items = _shown_events(user, window.items)
    return window, totals


def creditable_by_line(user: User, invoice: Invoice) -> list[tuple[InvoiceLine, list[EventRow]]]:
    """The invoice's lines with their events not yet credited, for the credit note form (four
    queries whatever the size of the invoice)."""
    rows = _event_rows(
        user,
        _stored_events(
            and_(
                InvoiceEvent.invoice_id == invoice.id,
                InvoiceEvent.credited_by_id.is_(None),
                InvoiceEvent.credits_event_id.is_(None),
            )
        ),
    )
    by_line: dict[int, list[EventRow]] = {}
    for row in rows:
        by_line.setdefault(row.line_id, []).append(row)
    return [(line, by_line[line.id]) for line in lines_of(invoice) if line.id in by_line]


# --- overdue and waiting, for the home page -------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceCounts:
    overdue: int
    overdue_pence: int
    to_decide: int
    queried: int


def home_counts(user: User) -> InvoiceCounts:
    """One query: overdue unpaid invoices (count and amount), those waiting for a decision, and
    those queried back to the partner."""
    overdue = Invoice.overdue
    waiting = Invoice.status == InvoiceStatus.SUBMITTED
    queried = and_(Invoice.status == InvoiceStatus.QUERIED, Invoice.kind == InvoiceKind.INVOICE)
    row = db.session.execute(
        select(
            func.coalesce(func.sum(case((overdue, 1), else_=0)), 0),
            func.coalesce(func.sum(case((overdue, Invoice.total_pence), else_=0)), 0),
            func.coalesce(func.sum(case((waiting, 1), else_=0)), 0),
            func.coalesce(func.sum(case((queried, 1), else_=0)), 0),
        ).where(access.visibility_clause(Invoice, user))
    ).one()
    return InvoiceCounts(*(int(value) for value in row))
