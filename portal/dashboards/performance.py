"""The per-referral performance export: the 27 columns of HMPPS Refer and Monitor's provider
performance report (as far as the portal records them), then our own. One query, streamed: the
sessions, outcomes and invoiced amounts aggregated in SQL for the referrals listed, the amounts read
from the invoice lines themselves, so the column adds up to the invoices."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

from sqlalchemy import BigInteger, and_, case, cast, func, or_, select

from portal.accounts.models import User
from portal.contracts.models import Contract, Unit
from portal.csv_files import stream_rows
from portal.dates import end_of_london_day, london_day, start_of_london_day
from portal.db import Money
from portal.delivery.models import Attendance, EndOfServiceReport, Outcome, OutcomeStatus, Session
from portal.extensions import db
from portal.invoicing.models import LIVE_STATUSES, Invoice, InvoiceEvent, InvoiceLine
from portal.money import pounds
from portal.organisations.models import Organisation
from portal.people.models import Person
from portal.referrals.models import DECLINE_REASON_LABELS, Referral, ReferralStatus
from portal.returns.kpis import end_of_service_score
from portal.returns.records import _referral_filters

COLUMNS = (
    # Refer and Monitor's provider performance report
    "referral_ref",
    "contract_ref",
    "organisation",
    "caseworker",
    "crn",
    "date_received",
    "date_first_appointment_arranged",
    "date_first_appointment_scheduled_for",
    "date_first_appointment_not_attended",
    "date_first_appointment_held",
    "first_appointment_attended_on_time",
    "date_first_session_held",
    "outcomes_to_be_achieved",
    "outcomes_achieved_score",
    "outcomes_verified",
    "sessions_expected",
    "sessions_attended",
    "sessions_not_attended",
    "end_requested_at",
    "end_requested_reason",
    "end_of_service_report_submitted_at",
    "concluded_at",
    "end_state",
    "completion_deadline",
    "sentence_end_date",
    "service_code",
    "status",
    # our own
    "date_accepted",
    "date_declined",
    "decline_reason",
    "accept_due_on",
    "answered_within_sla",
    "first_contact_due_on",
    "first_contact_within_sla",
    "rar_days_ordered",
    "rar_days_delivered",
    "invoiced_before_vat",
    "location",
    "prison_or_office",
)
ATTENDED = (Attendance.ATTENDED, Attendance.LATE)


def _iso(day: date | None) -> str:
    return day.isoformat() if day else ""


def _yes_no(met: bool | None) -> str:
    return "" if met is None else ("yes" if met else "no")


def _end_state(status: ReferralStatus) -> str:
    return {
        ReferralStatus.COMPLETED: "completed",
        ReferralStatus.WITHDRAWN: "cancelled",
        ReferralStatus.DECLINED: "declined",
    }.get(status, "open")


def rows(
    contract_ids: Sequence[int], start: date, end: date, *, pathway: str | None = None, area: str | None = None
) -> Iterator[list[str]]:
    if not contract_ids:
        return
    first, after = start_of_london_day(start), end_of_london_day(end)
    r = Referral
    # The referrals the file lists, worked out once: the sessions, outcomes and invoice lines
    # are read for these only, not for every referral the contracts ever had (at national scale
    # a quarter lists 14,000 of 200,000 referrals).
    listed = _referral_filters(
        select(r.id).where(
            r.contract_id.in_(contract_ids),
            r.sent_at.is_not(None),
            r.sent_at < after,
            or_(r.declined_at.is_(None), r.declined_at >= first),
            or_(r.withdrawn_at.is_(None), r.withdrawn_at >= first),
            or_(r.completed_at.is_(None), r.completed_at >= first),
        ),
        pathway,
        area,
    ).cte("listed")
    s = Session
    sessions = (
        select(
            s.referral_id.label("referral_id"),
            func.count().label("expected"),
            func.count(case((s.attendance.in_(ATTENDED), 1))).label("attended"),
            func.count(case((s.attendance == Attendance.DID_NOT_ATTEND, 1))).label("missed"),
            func.min(s.created_at).label("first_arranged"),
            func.min(s.date).label("first_scheduled"),
            func.min(case((s.attendance == Attendance.DID_NOT_ATTEND, s.date))).label("first_missed"),
            func.min(case((s.attendance.in_(ATTENDED), s.date))).label("first_held"),
            func.min(case((s.attendance == Attendance.ATTENDED, s.date))).label("first_on_time"),
            # RAR days are calendar days: two RAR sessions on one day are one day.
            func.count(
                func.distinct(case((and_(s.attendance.in_(ATTENDED), s.counts_as_rar_day.is_(True)), s.date)))
            ).label("rar"),
        )
        .where(s.referral_id.in_(select(listed.c.id)))
        .group_by(s.referral_id)
        .subquery()
    )
    verified = (
        select(Outcome.referral_id.label("referral_id"), func.count().label("verified"))
        .where(Outcome.status == OutcomeStatus.VERIFIED, Outcome.referral_id.in_(select(listed.c.id)))
        .group_by(Outcome.referral_id)
        .subquery()
    )
    invoiced = invoiced_shares(contract_ids, select(listed.c.id))
    statement = (
        select(
            r,
            Person.crn,
            Contract.reference.label("contract_reference"),
            Contract.end_date.label("contract_end"),
            Organisation.name.label("partner_name"),
            User.name.label("caseworker_name"),
            sessions,
            verified.c.verified,
            invoiced.c.invoiced,
            EndOfServiceReport.submitted_at.label("eos_at"),
            EndOfServiceReport.outcomes.label("eos_outcomes"),
        )
        .select_from(r)
        .join(listed, listed.c.id == r.id)
        .join(Contract, Contract.id == r.contract_id)
        .join(Organisation, Organisation.id == Contract.partner_id)
        .outerjoin(Person, Person.id == r.person_id)
        .outerjoin(User, User.id == r.caseworker_id)
        .outerjoin(sessions, sessions.c.referral_id == r.id)
        .outerjoin(verified, verified.c.referral_id == r.id)
        .outerjoin(invoiced, invoiced.c.referral_id == r.id)
        .outerjoin(EndOfServiceReport, EndOfServiceReport.referral_id == r.id)
        .order_by(Contract.reference, r.sent_at, r.id)
    )
    # A thousand rows at a time from a server-side cursor, every figure worked out in SQL: the
    # file streams out with flat memory however many referrals it lists.
    for row in stream_rows(statement):
        yield _line(row._mapping)


def invoiced_shares(contract_ids: Sequence[int], referral_ids: Any = None) -> Any:
    """Each referral's share of the lines of the contracts' invoices and credit notes (submitted
    and not rejected), in pence before VAT, as a subquery of (referral_id, invoiced). A line is
    shared between the referrals whose work it bills, by minutes on an hourly line and by pieces
    of work on the others, to the penny exactly as money.share_out does it (each share rounded
    down, the pence left to the largest remainders, ties to the lowest referral id, work for no
    referral last), so the shares add up to the line; a monthly fee bills no referral's work.
    Worked out in SQL with window functions, so nothing is held in memory; `referral_ids` (a
    select of ids) narrows it to the lines that bill any of those referrals' work."""
    e = InvoiceEvent
    weight = case((InvoiceLine.unit == Unit.PER_HOUR, func.coalesce(func.sum(e.minutes), 0)), else_=func.count())
    work = (
        select(
            e.line_id.label("line_id"),
            e.referral_id.label("referral_id"),
            func.abs(InvoiceLine.amount_pence).label("whole"),
            case((InvoiceLine.amount_pence < 0, -1), else_=1).label("sign"),
            cast(weight, BigInteger).label("weight"),
        )
        .join(InvoiceLine, InvoiceLine.id == e.line_id)
        .join(Invoice, Invoice.id == e.invoice_id)
        .where(Invoice.contract_id.in_(contract_ids), Invoice.status.in_(LIVE_STATUSES))
        .group_by(e.line_id, e.referral_id, InvoiceLine.amount_pence, InvoiceLine.unit)
    )
    if referral_ids is not None:
        billing = select(InvoiceEvent.line_id).where(InvoiceEvent.referral_id.in_(referral_ids))
        work = work.where(e.line_id.in_(billing))
    work = work.subquery("work")
    # PostgreSQL sums BIGINTs as NUMERIC, whose division is not whole: cast back, so `//` rounds
    # down on both databases. No weight at all (total 0): every share is 0, as in share_out.
    total = func.nullif(cast(func.sum(work.c.weight).over(partition_by=work.c.line_id), BigInteger), 0)
    parts = select(
        work.c.line_id,
        work.c.referral_id,
        work.c.sign,
        work.c.whole,
        (work.c.whole * work.c.weight // total).label("base"),
        (work.c.whole * work.c.weight % total).label("remainder"),
    ).subquery("parts")
    ranked = select(
        parts.c.referral_id,
        parts.c.sign,
        parts.c.base,
        (parts.c.whole - cast(func.sum(parts.c.base).over(partition_by=parts.c.line_id), BigInteger)).label("left"),
        func.row_number()
        .over(
            partition_by=parts.c.line_id,
            order_by=(
                parts.c.remainder.desc(),
                case((parts.c.referral_id.is_(None), 1), else_=0),
                parts.c.referral_id,
            ),
        )
        .label("place"),
    ).subquery("ranked")
    share = ranked.c.sign * (func.coalesce(ranked.c.base, 0) + case((ranked.c.place <= ranked.c.left, 1), else_=0))
    return (
        select(ranked.c.referral_id.label("referral_id"), cast(func.sum(share), Money).label("invoiced"))
        .where(ranked.c.referral_id.is_not(None))
        .group_by(ranked.c.referral_id)
        .subquery("invoiced")
    )


def invoiced_by_referral(contract_ids: Sequence[int]) -> dict[int, int]:
    """Each referral's invoiced amount in pence (invoiced_shares), for the referrals that have any."""
    shares = invoiced_shares(contract_ids)
    return {referral_id: int(amount) for referral_id, amount in db.session.execute(select(shares))}


def _line(m: Any) -> list[str]:
    r: Referral = m[Referral]
    eos_outcomes = m["eos_outcomes"] or []
    score = end_of_service_score(item.get("achievement", "") for item in eos_outcomes)
    accepted_on = r.accepted_on
    declined_on = london_day(r.declined_at)
    answered = accepted_on or declined_on
    first_contact = london_day(r.first_contact_at)
    deadlines = [day for day in (r.sentence_end_date, m["contract_end"]) if day is not None]
    deadline = min(deadlines) if deadlines else None
    concluded = london_day(r.completed_at or r.withdrawn_at or r.declined_at)
    return [
        r.reference or "",
        m["contract_reference"],
        m["partner_name"],
        m["caseworker_name"] or "",
        m["crn"] or "",
        _iso(london_day(r.sent_at)),
        _iso(london_day(m["first_arranged"])),
        _iso(m["first_scheduled"]),
        _iso(m["first_missed"]),
        _iso(m["first_held"]),
        _yes_no(None if m["first_held"] is None else m["first_on_time"] == m["first_held"]),
        _iso(first_contact),
        str(len(r.desired_outcomes or [])),
        str(score) if eos_outcomes else "",
        str(m["verified"] or 0),
        str(m["expected"] or 0),
        str(m["attended"] or 0),
        str(m["missed"] or 0),
        _iso(london_day(r.withdrawn_at)),
        r.withdraw_reason.label if r.withdraw_reason else "",
        _iso(london_day(m["eos_at"])),
        _iso(concluded),
        _end_state(r.status),
        _iso(deadline),
        _iso(r.sentence_end_date),
        r.service_code or "",
        r.status.label,
        _iso(accepted_on),
        _iso(declined_on),
        DECLINE_REASON_LABELS[r.decline_reason] if r.decline_reason else "",
        _iso(r.accept_due_on),
        _yes_no(None if answered is None or r.accept_due_on is None else answered <= r.accept_due_on),
        _iso(r.first_contact_due_on),
        _yes_no(
            None if first_contact is None or r.first_contact_due_on is None else first_contact <= r.first_contact_due_on
        ),
        str(r.rar_days or 0),
        str(min(m["rar"] or 0, r.rar_days or 0)),
        pounds(m["invoiced"] or 0),
        r.location_type.label if r.location_type else "",
        r.prison or r.community_office or "",
    ]
