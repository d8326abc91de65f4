"""Checks that stored records obey the rules that protect the money, read from the database as
it stands: invoices add up, numbers run without gaps, no work is billed twice, and no invoice bills
what did not happen. Each check is one aggregate query, so it runs as well on the demo's few
hundred referrals as on bench/scale.py's 200,000; each returns the problems it found (empty when
all is well), worded for the person reading a failed test or a benchmark's log.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import and_, exists, false, func, or_, select, true

from portal.contracts.models import Unit
from portal.delivery.common import day_ended
from portal.delivery.models import ATTENDED, EndOfServiceReport, Outcome, OutcomeStatus, Session
from portal.extensions import db
from portal.invoicing import billing
from portal.invoicing.models import (
    LIVE_STATUSES,
    Invoice,
    InvoiceEvent,
    InvoiceKind,
    InvoiceLine,
    InvoiceSequence,
    InvoiceStatus,
)
from portal.referrals.models import OPEN_STATUSES, Referral, ReferralStatus
from portal.safeguarding.models import SafeguardingConcern

# Enough examples to see what went wrong, never a flood.
SHOWN = 5


def invoice_totals_add_up() -> list[str]:
    """Every invoice's subtotal is the sum of its lines, its VAT the subtotal at its rate (rounded
    half up), its total the two together."""
    sums = (
        select(InvoiceLine.invoice_id, func.coalesce(func.sum(InvoiceLine.amount_pence), 0).label("lines"))
        .group_by(InvoiceLine.invoice_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Invoice.id, Invoice.number, Invoice.vat_rate_bp, Invoice.subtotal_pence, Invoice.vat_pence)
        .add_columns(Invoice.total_pence, func.coalesce(sums.c.lines, 0))
        .outerjoin(sums, sums.c.invoice_id == Invoice.id)
    )
    problems = []
    for invoice_id, number, rate, subtotal, vat, total, lines in rows:
        expected = billing.totals([int(lines)], rate)
        if (subtotal, vat, total) != expected:
            problems.append(f"invoice {number or invoice_id}: {subtotal}+{vat}={total}, its lines give {expected}")
    return problems[:SHOWN]


def numbers_run_without_gaps() -> list[str]:
    """A partner's invoice, credit-note and grant-payment numbers are 1, 2, 3… up to its sequence, each
    used once (grant payments take their numbers from the same sequence)."""
    from portal.grants.models import GrantInstalment

    problems = []
    numbers: dict[int, list[str]] = {}
    for partner_id, number in db.session.execute(
        select(Invoice.partner_id, Invoice.number)
        .where(Invoice.number.is_not(None))
        .union_all(
            select(GrantInstalment.partner_id, GrantInstalment.number).where(GrantInstalment.number.is_not(None))
        )
    ):
        numbers.setdefault(partner_id, []).append(number)
    for sequence in db.session.scalars(select(InvoiceSequence)):
        taken = sorted(int(number.rsplit("-", 1)[1]) for number in numbers.pop(sequence.partner_id, []))
        if taken != list(range(1, sequence.last_number + 1)):
            problems.append(
                f"partner {sequence.partner_id} ({sequence.prefix}): numbers are not 1..{sequence.last_number}"
            )
    problems += [f"partner {partner_id} has numbered invoices but no sequence" for partner_id in numbers]
    return problems[:SHOWN]


def no_event_is_billed_twice() -> list[str]:
    """An event (a rate-card item's work: a referral, a session, an outcome, a month) is live on at
    most one invoice, and live only on an invoice that is submitted, queried, approved or paid."""
    twice = db.session.execute(
        select(InvoiceEvent.item_id, InvoiceEvent.event_key, func.count())
        .where(InvoiceEvent.live.is_(True))
        .group_by(InvoiceEvent.item_id, InvoiceEvent.event_key)
        .having(func.count() > 1)
        .limit(SHOWN)
    ).all()
    problems = [f"item {item_id} {key} is live on {count} invoices" for item_id, key, count in twice]
    dead = db.session.execute(
        select(Invoice.number, func.count())
        .join(InvoiceEvent, InvoiceEvent.invoice_id == Invoice.id)
        .where(
            InvoiceEvent.live.is_(True), or_(Invoice.status.not_in(LIVE_STATUSES), Invoice.kind != InvoiceKind.INVOICE)
        )
        .group_by(Invoice.number)
        .limit(SHOWN)
    ).all()
    problems += [f"invoice {number} is not live but holds {count} live events" for number, count in dead]
    return problems


def lines_count_their_events() -> list[str]:
    """A submitted line's quantity was counted from the events stored under it: its count and its
    minutes are theirs (the invoice and line pages show a submitted line's own figures)."""
    counts = (
        select(
            InvoiceEvent.line_id,
            func.count().label("events"),
            func.coalesce(func.sum(InvoiceEvent.minutes), 0).label("minutes"),
        )
        .group_by(InvoiceEvent.line_id)
        .subquery()
    )
    stored_events, stored_minutes = func.coalesce(counts.c.events, 0), func.coalesce(counts.c.minutes, 0)
    rows = db.session.execute(
        select(
            Invoice.number,
            InvoiceLine.item_code,
            InvoiceLine.event_count,
            stored_events,
            InvoiceLine.minutes,
            stored_minutes,
        )
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .outerjoin(counts, counts.c.line_id == InvoiceLine.id)
        .where(
            Invoice.status != InvoiceStatus.DRAFT,
            or_(InvoiceLine.event_count != stored_events, InvoiceLine.minutes != stored_minutes),
        )
        .limit(SHOWN)
    ).all()
    return [
        f"invoice {number} line {code}: {stated} events of {minutes} minutes stated, {stored} of {stored_mins} stored"
        for number, code, stated, stored, minutes, stored_mins in rows
    ]


def line_amounts_follow_their_prices() -> list[str]:
    """A line's amount is its quantity times its unit price, rounded half up to a penny, and every
    event it bills is dated inside its price's period, on or before the end of the month billed."""
    problems = []
    for number, code, hundredths, price, amount in db.session.execute(
        select(
            Invoice.number,
            InvoiceLine.item_code,
            InvoiceLine.quantity_hundredths,
            InvoiceLine.unit_price_pence,
            InvoiceLine.amount_pence,
        ).join(Invoice, Invoice.id == InvoiceLine.invoice_id)
    ):
        expected = billing.line_amount(abs(hundredths), price) * (1 if hundredths >= 0 else -1)
        if amount != expected:
            problems.append(f"invoice {number} line {code}: {amount}p, its quantity and price give {expected}p")
            if len(problems) >= SHOWN:
                return problems
    from portal.contracts.models import RateCardPrice

    outside = db.session.execute(
        select(Invoice.number, InvoiceEvent.event_key, InvoiceEvent.event_date)
        .join(InvoiceLine, InvoiceLine.id == InvoiceEvent.line_id)
        .join(Invoice, Invoice.id == InvoiceEvent.invoice_id)
        .join(RateCardPrice, RateCardPrice.id == InvoiceLine.price_id)
        .where(
            Invoice.kind == InvoiceKind.INVOICE,
            or_(
                InvoiceEvent.event_date < RateCardPrice.effective_from,
                and_(RateCardPrice.effective_to.is_not(None), InvoiceEvent.event_date > RateCardPrice.effective_to),
            ),
        )
        .limit(SHOWN)
    ).all()
    problems += [f"invoice {number}: {key} on {day} is outside its line's price" for number, key, day in outside]
    return problems


def only_real_work_is_billed() -> list[str]:
    """No billed session is one that was missed or did not happen, no billed outcome is unverified,
    and no referral is paid more RAR days than it was ordered."""
    problems = []
    missed = db.session.scalar(
        select(func.count())
        .select_from(InvoiceEvent)
        .join(Session, Session.id == InvoiceEvent.session_id)
        .where(or_(Session.attendance.is_(None), Session.attendance.not_in(ATTENDED)))
    )
    if missed:
        problems.append(f"{missed} billed sessions were not attended")
    unverified = db.session.scalar(
        select(func.count())
        .select_from(InvoiceEvent)
        .join(Outcome, Outcome.id == InvoiceEvent.outcome_id)
        .join(Invoice, Invoice.id == InvoiceEvent.invoice_id)
        .where(
            Invoice.kind == InvoiceKind.INVOICE, Outcome.status.not_in((OutcomeStatus.VERIFIED, OutcomeStatus.CREDITED))
        )
    )
    if unverified:
        problems.append(f"{unverified} billed outcomes are not verified")
    from portal.contracts.models import RateCardItem

    rar = (
        select(InvoiceEvent.referral_id, InvoiceEvent.item_id, func.count().label("days"))
        .join(RateCardItem, RateCardItem.id == InvoiceEvent.item_id)
        .where(InvoiceEvent.live.is_(True), RateCardItem.unit == Unit.PER_RAR_DAY)
        .group_by(InvoiceEvent.referral_id, InvoiceEvent.item_id)
        .subquery()
    )
    over = db.session.execute(
        select(Referral.reference, rar.c.days, Referral.rar_days)
        .join(rar, rar.c.referral_id == Referral.id)
        .where(rar.c.days > func.coalesce(Referral.rar_days, 0))
        .limit(SHOWN)
    ).all()
    problems += [f"referral {ref} billed {days} RAR days of {ordered}" for ref, days, ordered in over]
    return problems


def no_session_is_billed_twice_by_one_measure() -> list[str]:
    """A session is live at most once as a session (per_session and per_hour items), a calendar day
    at most once as a referral's RAR day, and only a community referral has RAR days billed."""
    from portal.contracts.models import RateCardItem
    from portal.referrals.models import LocationType

    live = and_(InvoiceEvent.live.is_(True), RateCardItem.id == InvoiceEvent.item_id)
    sessions_twice = db.session.execute(
        select(InvoiceEvent.session_id, func.count())
        .join(RateCardItem, live)
        .where(RateCardItem.unit.in_((Unit.PER_SESSION, Unit.PER_HOUR)), InvoiceEvent.session_id.is_not(None))
        .group_by(InvoiceEvent.session_id)
        .having(func.count() > 1)
        .limit(SHOWN)
    ).all()
    problems = [f"session {session_id} is billed {count} times as a session" for session_id, count in sessions_twice]
    days_twice = db.session.execute(
        select(Referral.reference, InvoiceEvent.event_date, func.count())
        .join(RateCardItem, live)
        .join(Referral, Referral.id == InvoiceEvent.referral_id)
        .where(RateCardItem.unit == Unit.PER_RAR_DAY)
        .group_by(Referral.reference, InvoiceEvent.event_date)
        .having(func.count() > 1)
        .limit(SHOWN)
    ).all()
    problems += [f"referral {ref}: {day} is billed as {count} RAR days" for ref, day, count in days_twice]
    in_custody = db.session.scalar(
        select(func.count())
        .select_from(InvoiceEvent)
        .join(RateCardItem, live)
        .join(Referral, Referral.id == InvoiceEvent.referral_id)
        .where(RateCardItem.unit == Unit.PER_RAR_DAY, Referral.location_type == LocationType.CUSTODY)
    )
    if in_custody:
        problems.append(f"{in_custody} RAR days are billed on custody referrals")
    return problems


def billed_marks_match() -> list[str]:
    """A session's billed marks say what the live events say (billing.refresh_billed_marks):
    `billed` exactly when a live event of a per-session or per-hour item names it, `rar_billed`
    exactly when a live RAR day names it. The draft trusts a mark to leave work out, so a mark
    left set after its invoice was rejected or credited would lose that work. (Set against set:
    at national scale a lookup per session took six minutes.)"""
    from portal.contracts.models import RateCardItem

    e, i = InvoiceEvent, RateCardItem
    problems = []
    for mark, units in (("billed", billing.SESSION_MEASURES), ("rar_billed", (Unit.PER_RAR_DAY,))):
        column = getattr(Session, mark)
        named = exists().where(e.session_id == Session.id, e.live == true(), e.item_id == i.id, i.unit.in_(units))
        # Marked and not named, then named and not marked: each an anti- or semi-join, set against set.
        wrong = db.session.scalars(select(Session.id).where(column == true(), ~named).limit(SHOWN)).all()
        wrong += db.session.scalars(select(Session.id).where(column == false(), named).limit(SHOWN)).all()
        problems += [f"session {session_id}: its {mark} mark disagrees with the live events" for session_id in wrong]
    return problems


def ended_referrals_have_nothing_waiting() -> list[str]:
    """A referral that is no longer open (finished, declined, withdrawn) has no session booked
    ahead or waiting for its feedback."""
    waiting = db.session.scalar(
        select(func.count())
        .select_from(Session)
        .join(Referral, Referral.id == Session.referral_id)
        .where(Session.attendance.is_(None), Referral.status.not_in(OPEN_STATUSES))
    )
    return [f"{waiting} sessions wait on referrals that have ended"] if waiting else []


def no_session_after_its_referral_ended() -> list[str]:
    """No session is dated after the day its referral was completed or withdrawn (London's
    calendar): those booked ahead are cancelled as it ends, and none may be moved past the end
    (portal.delivery.sessions.check_session; My sessions relies on it). One grouped query: each
    ended referral's last session day, compared here on London's calendar."""
    ended = (ReferralStatus.COMPLETED, ReferralStatus.WITHDRAWN)
    rows = db.session.execute(
        select(Referral.id, Referral.completed_at, Referral.withdrawn_at, func.max(Session.date))
        .join(Session, Session.referral_id == Referral.id)
        .where(Referral.status.in_(ended))
        .group_by(Referral.id, Referral.completed_at, Referral.withdrawn_at)
    ).all()
    wrong = [
        f"referral {referral_id}: a session on {last} after it ended on {day}"
        for referral_id, completed_at, withdrawn_at, last in rows
        if (day := day_ended(completed_at, withdrawn_at)) is not None and last > day
    ]
    return wrong[:SHOWN]


def rows_carry_their_referrals_contract() -> list[str]:
    """Sessions, outcomes, end-of-service reports and safeguarding concerns carry their referral's
    contract (a copy the dashboard's figures count by, and who sees a concern is decided by:
    portal.delivery.models.contract_copy), never a different one."""
    problems = []
    for model in (Session, Outcome, EndOfServiceReport, SafeguardingConcern):
        wrong = db.session.scalars(
            select(model.id)
            .join(Referral, Referral.id == model.referral_id)
            .where(
                or_(
                    model.contract_id != Referral.contract_id,
                    and_(model.contract_id.is_(None), Referral.contract_id.is_not(None)),
                    and_(model.contract_id.is_not(None), Referral.contract_id.is_(None)),
                )
            )
            .limit(SHOWN)
        ).all()
        problems += [f"{model.__tablename__} {row_id}: its contract is not its referral's" for row_id in wrong]
    return problems


CHECKS: tuple[Callable[[], list[str]], ...] = (
    invoice_totals_add_up,
    numbers_run_without_gaps,
    no_event_is_billed_twice,
    lines_count_their_events,
    line_amounts_follow_their_prices,
    only_real_work_is_billed,
    no_session_is_billed_twice_by_one_measure,
    billed_marks_match,
    ended_referrals_have_nothing_waiting,
    no_session_after_its_referral_ended,
    rows_carry_their_referrals_contract,
)


def problems() -> dict[str, list[str]]:
    """Every check's problems, by the check's name; an empty dict when the records obey them all."""
    found = {check.__name__: check() for check in CHECKS}
    return {name: found_problems for name, found_problems in found.items() if found_problems}
