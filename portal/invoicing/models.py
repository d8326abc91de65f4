"""Invoice (and credit note), its lines and the billable events each line bills, and the
per-partner number sequence."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    and_,
    case,
    or_,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.contracts.models import Contract, Unit
from portal.dates import london_today
from portal.db import Money, TimestampMixin, UtcDateTime, VersionedMixin, enum_type, utcnow
from portal.extensions import db
from portal.organisations.models import Organisation


class InvoiceKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"

    @property
    def label(self) -> str:
        return {"invoice": "Invoice", "credit_note": "Credit note"}[self.value]


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    QUERIED = "queried"
    APPROVED = "approved"
    REJECTED = "rejected"
    PAID = "paid"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def colour(self) -> str:
        return {
            "draft": "grey",
            "submitted": "blue",
            "queried": "orange",
            "approved": "turquoise",
            "rejected": "red",
            "paid": "green",
        }[self.value]


# On these, an invoice's events are spent: they can be billed on no other invoice.
LIVE_STATUSES = frozenset({InvoiceStatus.SUBMITTED, InvoiceStatus.QUERIED, InvoiceStatus.APPROVED, InvoiceStatus.PAID})
# Sent to the CRC and not yet paid.
UNPAID_STATUSES = frozenset({InvoiceStatus.SUBMITTED, InvoiceStatus.QUERIED, InvoiceStatus.APPROVED})
# The states in which an invoice can be overdue: a queried one is held, its payment clock stopped.
CLOCK_RUNNING_STATUSES = frozenset({InvoiceStatus.SUBMITTED, InvoiceStatus.APPROVED})
APPROVED_STATUSES = frozenset({InvoiceStatus.APPROVED, InvoiceStatus.PAID})


def counts_toward_cap(kind: str, status: str) -> bool:
    """Spend against the contract's value cap: an invoice once submitted (until it is rejected), a
    credit note once the CRC has approved it. (Invoice.counts_against_cap is this, for records and
    queries; the service returns' figures ask it of their plain rows.)"""
    if kind == InvoiceKind.CREDIT_NOTE:
        return status in APPROVED_STATUSES
    return status in LIVE_STATUSES


def counts_toward_cap_from(kind: str, submitted: date | None, approved: date | None) -> date | None:
    """The day an invoice began to count against the cap: submitted, or for a credit note approved."""
    return approved if kind == InvoiceKind.CREDIT_NOTE else submitted


class InvoiceSequence(db.Model):
    """The next number for a partner's invoices and credit notes: one row a partner, locked while
    a number is taken, so numbers never repeat and never skip."""

    __tablename__ = "invoice_sequence"

    partner_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(12), unique=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class Invoice(TimestampMixin, VersionedMixin, db.Model):
    __tablename__ = "invoice"
    __table_args__ = (
        Index("ix_invoice_contract_status", "contract_id", "status"),
        Index("ix_invoice_partner_id", "partner_id"),
        # A contract has at most one draft invoice at a time.
        Index(
            "uq_invoice_one_draft_per_contract",
            "contract_id",
            unique=True,
            postgresql_where=text("status = 'draft' AND kind = 'invoice'"),
            sqlite_where=text("status = 'draft' AND kind = 'invoice'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[InvoiceKind] = mapped_column(enum_type(InvoiceKind), default=InvoiceKind.INVOICE)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    number: Mapped[str | None] = mapped_column(String(24), unique=True)
    period_start: Mapped[date] = mapped_column(Date)  # the first day of the month billed
    status: Mapped[InvoiceStatus] = mapped_column(enum_type(InvoiceStatus), default=InvoiceStatus.DRAFT)
    vat_rate_bp: Mapped[int] = mapped_column(Integer)
    subtotal_pence: Mapped[int] = mapped_column(Money, default=0)
    vat_pence: Mapped[int] = mapped_column(Money, default=0)
    total_pence: Mapped[int] = mapped_column(Money, default=0)
    generated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    generated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    due_date: Mapped[date | None] = mapped_column(Date)
    queried_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    queried_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    query_reason: Mapped[str | None] = mapped_column(Text)
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    rejected_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    rejected_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    paid_on: Mapped[date | None] = mapped_column(Date)
    payment_reference: Mapped[str | None] = mapped_column(String(60))
    # Prompt payment (portal/invoicing/payment_terms.py): the London day the CRC first received the
    # invoice, the days its payment clock stood stopped while queried, and once paid the days it
    # took (received to paid, less the days held) and whether it was paid after its due date.
    received_on: Mapped[date | None] = mapped_column(Date)
    days_held: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    days_to_pay: Mapped[int | None] = mapped_column(Integer)
    paid_late: Mapped[bool | None] = mapped_column(Boolean)
    # Why a month still running was invoiced before its last working day (None: it was not).
    early_reason: Mapped[str | None] = mapped_column(Text)
    # The remittance details as they were when it was issued: its PDF and e-invoice never change
    # after a later change of bank account (portal.remittance.service.remittance_of).
    remittance: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Taking spend past the contract's cap needs a contract manager's explicit approval.
    cap_excess_pence: Mapped[int] = mapped_column(Money, default=0)
    excess_approved_pence: Mapped[int | None] = mapped_column(Money)
    excess_approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    excess_approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # Credit notes: which invoice they correct, why, and whether the work may be billed again.
    credited_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"))
    credit_reason: Mapped[str | None] = mapped_column(Text)
    rebill: Mapped[bool] = mapped_column(Boolean, default=False)
    raised_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # A draft's work no price covers, as its generation found it (the count, and the first rows as
    # billing.Unpriced.as_json gives them): kept with its lines so that its page need not run the
    # rules over the contract's whole history again. None: not kept (a draft from before these
    # columns, or an invoice past draft); the page then asks the records.
    unpriced_count: Mapped[int | None] = mapped_column(Integer)
    unpriced: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)

    contract: Mapped[Contract] = relationship(lazy="raise_on_sql")
    partner: Mapped[Organisation] = relationship(lazy="raise_on_sql")
    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", lazy="raise_on_sql", order_by="InvoiceLine.position"
    )
    credited_invoice: Mapped[Invoice | None] = relationship(remote_side=[id], lazy="raise_on_sql")

    @property
    def is_credit_note(self) -> bool:
        return self.kind == InvoiceKind.CREDIT_NOTE

    @property
    def vat_rate(self) -> Decimal:
        return Decimal(self.vat_rate_bp) / Decimal(10000)

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    # Figures of one invoice, one definition for Python and SQL alike (hybrids: `invoice.overdue` on
    # a record, `Invoice.overdue` in a query). Each pair must say the same thing;
    # tests/invoicing/test_pages.py checks they do, kind by status.

    @hybrid_property
    def overdue(self) -> bool:
        """Unpaid after its due date (London's today). A credit note is never overdue: it is owed back;
        nor is a queried invoice: its payment clock is stopped until it is resubmitted."""
        return (
            self.kind == InvoiceKind.INVOICE
            and self.status in CLOCK_RUNNING_STATUSES
            and self.due_date is not None
            and self.due_date < london_today()
        )

    @overdue.inplace.expression
    @classmethod
    def _overdue(cls) -> ColumnElement[bool]:
        return and_(
            cls.kind == InvoiceKind.INVOICE,
            cls.status.in_(CLOCK_RUNNING_STATUSES),
            cls.due_date.is_not(None),
            cls.due_date < london_today(),
        )

    @hybrid_property
    def counts_against_cap(self) -> bool:
        return counts_toward_cap(self.kind, self.status)

    @counts_against_cap.inplace.expression
    @classmethod
    def _counts_against_cap(cls) -> ColumnElement[bool]:
        return or_(
            and_(cls.kind == InvoiceKind.INVOICE, cls.status.in_(LIVE_STATUSES)),
            and_(cls.kind == InvoiceKind.CREDIT_NOTE, cls.status.in_(APPROVED_STATUSES)),
        )

    @hybrid_property
    def spend_pence(self) -> int:
        """What this invoice adds to spend against the cap, before VAT (a credit note takes away)."""
        return self.subtotal_pence if self.counts_against_cap else 0

    @spend_pence.inplace.expression
    @classmethod
    def _spend_pence(cls) -> ColumnElement[int]:
        return case((cls.counts_against_cap, cls.subtotal_pence), else_=0)

    @property
    def needs_excess_approval(self) -> bool:
        return self.cap_excess_pence > 0 and (self.excess_approved_pence or 0) < self.cap_excess_pence


class InvoiceLine(db.Model):
    """One line: a rate-card item at one unit price, with the events it bills."""

    __tablename__ = "invoice_line"
    __table_args__ = (Index("ix_invoice_line_invoice", "invoice_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[int] = mapped_column(ForeignKey("rate_card_item.id"))
    price_id: Mapped[int | None] = mapped_column(ForeignKey("rate_card_price.id"), index=True)
    item_code: Mapped[str] = mapped_column(String(40))
    service_code: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(300))
    unit: Mapped[Unit] = mapped_column(enum_type(Unit))
    # Hundredths, so a quantity like 12.50 hours is exact: 1250.
    quantity_hundredths: Mapped[int] = mapped_column(Money)
    unit_price_pence: Mapped[int] = mapped_column(Money)
    amount_pence: Mapped[int] = mapped_column(Money)
    # What the quantity was counted from, so a submission can tell whether the records moved.
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    minutes: Mapped[int] = mapped_column(Integer, default=0)
    includes_earlier_work: Mapped[bool] = mapped_column(Boolean, default=False)

    invoice: Mapped[Invoice] = relationship(back_populates="lines", lazy="raise_on_sql")

    @property
    def quantity(self) -> Decimal:
        return quantity_of(self.quantity_hundredths)


def quantity_of(hundredths: int) -> Decimal:
    """A line's quantity from its hundredths: 1250 is 12.50."""
    return (Decimal(hundredths) / 100).quantize(Decimal("0.01"))


class InvoiceEvent(db.Model):
    """A billable event on an invoice line. `live` is true while the invoice is submitted,
    queried, approved or paid: a unique index makes sure no event is ever live twice."""

    __tablename__ = "invoice_event"
    __table_args__ = (
        # A line's events page in date order (queries.event_page): the index carries the order.
        Index("ix_invoice_event_line_order", "line_id", "event_date", "event_key", "id"),
        Index("ix_invoice_event_invoice", "invoice_id"),
        Index("ix_invoice_event_session", "session_id"),
        Index("ix_invoice_event_outcome", "outcome_id"),
        # Whether an outcome is billed (the invoice page's uncovered work, credits): the live events
        # of outcomes are a few percent of all events, so this answers without reading the rest.
        Index(
            "ix_invoice_event_live_outcome",
            "outcome_id",
            postgresql_where=text("live AND outcome_id IS NOT NULL"),
            sqlite_where=text("live = 1 AND outcome_id IS NOT NULL"),
        ),
        Index("ix_invoice_event_referral_item", "referral_id", "item_id"),
        # Foreign keys into this table need their own indexes, or deleting a draft's events
        # checks every other event for a reference to each one (minutes for a big month).
        Index("ix_invoice_event_credits_event", "credits_event_id"),
        Index("ix_invoice_event_credited_by", "credited_by_id"),
        Index(
            "uq_invoice_event_live",
            "item_id",
            "event_key",
            unique=True,
            postgresql_where=text("live"),
            sqlite_where=text("live = 1"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id", ondelete="CASCADE"))
    line_id: Mapped[int] = mapped_column(ForeignKey("invoice_line.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("rate_card_item.id"))
    # "referral:12", "session:40", "outcome:7" or "month:2026-03-01": the work, once per item.
    event_key: Mapped[str] = mapped_column(String(40))
    # SET NULL: a draft's event may point at a session since deleted (the draft is then stale and
    # is refreshed on submission); a live event's session or outcome can no longer be deleted.
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id", ondelete="SET NULL"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("delivery_session.id", ondelete="SET NULL"))
    outcome_id: Mapped[int | None] = mapped_column(ForeignKey("outcome.id", ondelete="SET NULL"))
    event_date: Mapped[date] = mapped_column(Date)
    minutes: Mapped[int] = mapped_column(Integer, default=0)
    live: Mapped[bool] = mapped_column(Boolean, default=False)
    # On a credit note: the event it credits. On an invoice: the credit note that credited it.
    credits_event_id: Mapped[int | None] = mapped_column(ForeignKey("invoice_event.id"))
    credited_by_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"))


class InvoiceMessage(db.Model):
    """One message in an invoice's query thread: the CRC's query, the partner's reply, the CRC's
    answer… Kept with the invoice for good, so the conversation is still there after it is
    resubmitted, approved and paid. Messages are never edited or deleted."""

    __tablename__ = "invoice_message"
    __table_args__ = (Index("ix_invoice_message_invoice", "invoice_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # "query" (the CRC queries the invoice), "reply" (the partner), "answer" (the CRC again).
    kind: Mapped[str] = mapped_column(String(10))
    body: Mapped[str] = mapped_column(Text)

    author: Mapped[User] = relationship(lazy="raise_on_sql")
