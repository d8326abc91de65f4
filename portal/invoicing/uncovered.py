"""Verified work no price covers: what an invoice's month holds that no invoice will ever bill, so
the partner and the contract manager see it instead of it silently going unpaid.

Two kinds, in one query: verified outcomes that no per-outcome item of the referral's service
prices (unless the contract manager marks the type recorded but unpaid), or that break their
type's rule (outside its days, or without the evidence file it needs); and attended sessions on
a service the rate card has no item for at all. Work already on a live
invoice is left out. Dates are the invoice's month; an outcome verified in the month counts even
if it was achieved before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from itertools import pairwise
from typing import Any

from sqlalchemy import String, and_, case, cast, exists, func, literal, or_, select, true, union_all

from portal.contracts.models import OutcomeType, RateCardItem, Unit
from portal.dates import month_end
from portal.delivery.models import ATTENDED, EvidenceFile, Outcome, OutcomeStatus, Session, SessionKind
from portal.delivery.outcome_rules import allows_sql
from portal.extensions import db
from portal.formatting import LONDON
from portal.invoicing.models import Invoice, InvoiceEvent
from portal.referrals.models import Referral

REASONS = {
    "no_price": "No item of the referral's service prices it",
    "outside_rule": "Achieved outside the days its outcome type's rule allows",
    "no_evidence": "Its outcome type needs an evidence file and the claim has none",
}


@dataclass(frozen=True)
class UncoveredWork:
    kind: str  # "outcome" or "session"
    record_id: int
    referral_reference: str
    service_code: str
    work_date: date
    name: str
    reason: str

    @property
    def what(self) -> str:
        if self.kind == "session":
            return f"Attended session ({SessionKind(self.name).label.lower()})"
        return f"Verified outcome: {self.name}"

    @property
    def why(self) -> str:
        return REASONS[self.reason]


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _uncovered_services(contract_id: int) -> list[Any]:
    """Conditions on Referral, one of which holds when its service code is one no item of its
    contract (`contract_id`) prices, or it has none: the same as "no item covers it", but as ranges
    between the covered codes, so that the index on (contract_id, service_code) answers whether
    any referral has one from a probe per range instead of reading the contract's every referral."""
    i, r = RateCardItem, Referral
    # Sorted by the database, so the ranges between them follow its collation.
    covered = db.session.scalars(
        select(i.service_code)
        .where(i.contract_id == contract_id, i.service_code.is_not(None))
        .distinct()
        .order_by(i.service_code)
    ).all()
    if not covered:
        return [true()]
    ranges = [r.service_code < covered[0], r.service_code > covered[-1]]
    ranges += [and_(r.service_code > low, r.service_code < high) for low, high in pairwise(covered)]
    return [r.service_code.is_(None), *ranges]


def uncovered_work(invoice: Invoice, *, limit: int = 50) -> tuple[list[UncoveredWork], int]:
    """The first `limit` pieces of verified work in the invoice's month no price covers, oldest
    first, and how many there are (three small queries: the contract's priced services, whether
    any of its referrals has another, and the work)."""
    period_start, period_end = invoice.period_start, month_end(invoice.period_start)
    month_began = datetime.combine(period_start, time(0), tzinfo=LONDON).astimezone(UTC)
    o, r, t, i = Outcome, Referral, OutcomeType, RateCardItem
    priced = exists().where(
        i.contract_id == r.contract_id,
        i.service_code == r.service_code,
        i.unit == Unit.PER_OUTCOME,
        i.outcome_type_id == o.outcome_type_id,
    )
    reason = case(
        (~priced, literal("no_price")),
        (~allows_sql(o, r, t), literal("outside_rule")),
        (
            and_(t.evidence_required.is_(True), ~exists().where(EvidenceFile.outcome_id == o.id)),
            literal("no_evidence"),
        ),
        else_=literal(None, String),
    )
    outcomes = (
        select(
            literal("outcome").label("kind"),
            o.id.label("record_id"),
            r.reference.label("reference"),
            r.service_code.label("service_code"),
            o.achieved_on.label("work_date"),
            t.name.label("name"),
            reason.label("reason"),
            t.recorded_unpaid.label("unpaid"),
        )
        .join(r, r.id == o.referral_id)
        .join(t, t.id == o.outcome_type_id)
        .where(
            r.contract_id == invoice.contract_id,
            o.status == OutcomeStatus.VERIFIED,
            o.achieved_on <= period_end,
            or_(o.achieved_on >= period_start, o.verified_at >= month_began),
            # `live = true`, not `IS TRUE`: so both databases answer from the partial index of live
            # outcomes' events (a few thousand) instead of every billed event's outcome (2 million).
            # Asked as "its first live event is none" rather than NOT EXISTS: PostgreSQL then probes
            # that index for each of the month's outcomes, where as an anti-join it read the whole
            # index (sixty thousand live outcomes at national scale) to rule out a thousand.
            select(InvoiceEvent.id)
            .where(InvoiceEvent.outcome_id == o.id, InvoiceEvent.live == true())
            .limit(1)
            .scalar_subquery()
            .is_(None),
        )
        .subquery("uncovered_outcome")
    )
    s = Session
    # A service that prices only outcomes pays by results, by design: its sessions are not listed.
    covering = exists().where(i.contract_id == r.contract_id, i.service_code == r.service_code)
    uncovered_services = _uncovered_services(invoice.contract_id)
    sessions = (
        select(
            literal("session").label("kind"),
            s.id.label("record_id"),
            r.reference.label("reference"),
            r.service_code.label("service_code"),
            s.date.label("work_date"),
            cast(s.kind, String).label("name"),
            literal("no_price").label("reason"),
        )
        .join(r, r.id == s.referral_id)
        .where(
            r.contract_id == invoice.contract_id,
            s.attendance.in_(ATTENDED),
            s.date >= period_start,
            s.date <= period_end,
            ~covering,
        )
    )
    columns = ("kind", "record_id", "reference", "service_code", "work_date", "name", "reason")
    parts = [
        select(*(outcomes.c[name] for name in columns)).where(
            outcomes.c.reason.is_not(None),
            # A type the contract manager marks recorded but unpaid is meant to go unpaid.
            or_(outcomes.c.reason != "no_price", outcomes.c.unpaid.is_(False)),
        )
    ]
    # Nearly always every referral's service has an item: then the month's attended sessions (tens
    # of thousands at national scale) need not be read at all to find that none is uncovered.
    # (An EXISTS per range, so each is one index probe: ORed in one, the planner reads them all.)
    any_uncovered = or_(
        *(exists().where(r.contract_id == invoice.contract_id, range_) for range_ in uncovered_services)
    )
    if db.session.scalar(select(any_uncovered)):
        parts.append(sessions)
    found = union_all(*parts).subquery("uncovered")
    rows = db.session.execute(
        select(*found.c, func.count().over().label("total"))
        .order_by(found.c.work_date, found.c.kind, found.c.record_id)
        .limit(limit)
    ).all()
    total = rows[0].total if rows else 0
    return [
        UncoveredWork(
            kind=row.kind,
            record_id=row.record_id,
            referral_reference=row.reference,
            service_code=row.service_code,
            work_date=_as_date(row.work_date),
            name=row.name,
            reason=row.reason,
        )
        for row in rows
    ], total
