"""The demo's grants and expected volumes: the four women's centres' grants (Tier III), each paid
by a schedule of instalments and none by unit prices: Cambridge monthly in arrears, each month
released once its service return is accepted; Bedford quarterly in advance; Luton monthly in
advance; Northamptonshire (c2c Social Action, no referrals: a weekly drop-in and a monthly group
recorded without them) quarterly, in arrears on accepted returns this last year. Every active
contract's expected starts, with Nacro's Through the Gate accommodation (BENCH-ACC-01) expecting
far more referrals than the CRC sends it. All made by the service functions the pages use, dated
from the day it is loaded."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import time_machine
from sqlalchemy import select

from portal.accounts.models import Role, User
from portal.contracts.models import Contract, ContractStatus, Service
from portal.dates import add_months, london_day
from portal.errors import InvalidTransition
from portal.extensions import db
from portal.grants import activity, service, volumes
from portal.grants.models import GrantInstalment, GrantPaymentStatus
from portal.working_days import add_working_days, is_working_day

if TYPE_CHECKING:
    from portal.demo.history import History


@dataclass(frozen=True)
class GrantTerms:
    """How a demo grant is paid, and what became of its instalments.

    `timing`: "advance" (due on its period's first day), "arrears" (due a fortnight after its
    period, released only once the period's service returns are accepted, for the periods the
    portal holds returns of) or "mixed" (in advance before the portal held returns and for the
    period under way, otherwise in arrears on accepted returns). `latest`: what became of the
    latest instalments raised on their dates, latest first (the others were approved and paid)."""

    months: int  # each instalment's period: 1 (monthly) or 3 (quarterly)
    amount_pence: int
    timing: str
    latest: tuple[str, ...] = ()
    rejects_one: bool = False  # one is rejected in the year and replaced by the partner
    current_left_unpaid: bool = False  # the period under way: approved, its payment still to come
    drop_ins: bool = False  # a weekly drop-in and a monthly group, recorded without referrals


GRANTS = {
    "BENCH-WOM-01": GrantTerms(1, 3_600_00, "arrears"),
    "BENCH-WOM-02": GrantTerms(3, 8_000_00, "advance", latest=("paid", "varied")),
    "BENCH-WOM-03": GrantTerms(1, 3_000_00, "advance", latest=("submitted", "queried")),
    "BENCH-WOM-04": GrantTerms(3, 8_000_00, "mixed", rejects_one=True, current_left_unpaid=True, drop_ins=True),
}
# Expected starts a month, by contract, from the month the demo's year of referrals begins: at most
# what the history refers, except BENCH-ACC-01, which was promised about three times what it gets.
EXPECTED_STARTS = {
    "BENCH-ACC-01": 8,
    "BENCH-ACC-02": 2,
    "BENCH-ACC-03": 2,
    "BENCH-ETE-01": 2,
    "BENCH-ETE-02": 2,
    "BENCH-DV-01": 2,
    "BENCH-FAM-01": 1,
    "BENCH-WOM-01": 1,
    "BENCH-WOM-02": 1,
    "BENCH-WOM-03": 1,
    "BENCH-MEN-01": 1,
}
QUERY_REASON = "Please confirm the month's key work is in the service return before we approve this instalment"
REJECTION_REASON = "It quotes last year's grant agreement number: please raise it again under this year's"
VARIATION_PENCE = 500_00
VARIATION_REASON = (
    "The grant was varied for this quarter (£500 more for the summer group programme): we will replace "
    "this instalment with the varied amount for you to raise"
)


def is_paid_by_schedule(contract: Contract) -> bool:
    """A demo grant: paid by its schedule of instalments, never invoiced."""
    return contract.reference in GRANTS


def set_expectations(manager: Any, today: date) -> None:
    """The contract manager sets each grant's schedule and each active contract's expected starts."""
    contracts = db.session.scalars(
        select(Contract).where(Contract.status == ContractStatus.ACTIVE).order_by(Contract.reference)
    ).all()
    for contract in contracts:
        if is_paid_by_schedule(contract):
            service.import_schedule(manager, contract, _schedule_csv(contract, today).encode())
        per_month = EXPECTED_STARTS.get(contract.reference)
        # The services people are referred to (a grant's have no rate-card items).
        codes = sorted(
            db.session.scalars(
                select(Service.code).where(Service.contract_id == contract.id, Service.open_to_referrals.is_(True))
            )
        )
        if not per_month or not codes:
            continue
        rows = ["month,service_code,expected_starts"]
        # Agreed when the demo's year of referrals began (before it, the contract expected none).
        month = max(contract.start_date.replace(day=1), add_months(today.replace(day=1), -12))
        while month <= contract.end_date:
            # The whole contract's expectation on its first service (the others are add-ons of it).
            rows.append(f"{month:%Y-%m},{codes[0]},{per_month}")
            month = add_months(month, 1)
        volumes.import_expected_starts(manager, contract, ("\n".join(rows) + "\n").encode())


def _schedule_csv(contract: Contract, today: date) -> str:
    """The grant's instalments over its whole term, as its terms say (GrantTerms). Returns exist for
    the last twelve months only, so only those months' instalments wait for accepted returns (the
    demo's latest returns are not accepted yet, so the latest months' instalments wait)."""
    terms = GRANTS[contract.reference]
    rows = ["period_start,period_end,due_on,amount,timing,needs_accepted_return"]
    returns_from = add_months(today.replace(day=1), -12)
    start = contract.start_date
    while start <= contract.end_date:
        end = min(add_months(start, terms.months) - timedelta(days=1), contract.end_date)
        if terms.timing == "mixed":
            in_advance = start <= today <= end or start < returns_from
        else:
            in_advance = terms.timing == "advance"
        amount = f"{terms.amount_pence // 100}.{terms.amount_pence % 100:02d}"
        if in_advance:
            rows.append(f"{start},{end},{start},{amount},advance,no")
        else:
            needs_return = "yes" if start >= returns_from else "no"
            rows.append(f"{start},{end},{end + timedelta(days=14)},{amount},arrears,{needs_return}")
        start = end + timedelta(days=1)
    return "\n".join(rows) + "\n"


# --- the history -----------------------------------------------------------------------------------------


def before_history(now: datetime) -> None:
    """The grants' instalments raised and paid before the history begins: each raised on the first
    working day it could be, approved two working days later and paid a week after, on those days
    (all the grants' steps in the order they happened, so the audit log reads in order). One whose
    payment would fall in the history is left to it."""
    from portal.demo.history import HISTORY_DAYS, moment, next_working_day

    start_day = london_day(now) - timedelta(days=HISTORY_DAYS)
    finance = db.session.scalars(
        select(User).where(User.role == Role.CONTRACT_MANAGER, User.active.is_(True)).order_by(User.id.desc())
    ).first()
    contracts = db.session.scalars(
        select(Contract).where(Contract.reference.in_(list(GRANTS))).order_by(Contract.reference)
    ).all()
    steps: list[tuple[datetime, int, Callable[[], Any]]] = []
    for contract in contracts:
        manager = db.session.scalars(
            select(User)
            .where(
                User.organisation_id == contract.partner_id,
                User.role == Role.PROVIDER_MANAGER,
                User.active.is_(True),
            )
            .order_by(User.id)
        ).first()
        if manager is None or finance is None:
            continue
        for instalment in service.schedule_of(contract):
            raised = next_working_day(service.raise_from(contract, instalment))
            approved = add_working_days(raised, 2)
            paid = add_working_days(approved, 5)
            if paid >= start_day or instalment.needs_accepted_return:
                continue
            reference = f"BACS {paid:%y%m%d}-{instalment.id}"
            steps += [
                (moment(raised, 10), 0, partial(service.submit_payment, manager, instalment)),
                (moment(approved, 11), 1, partial(service.approve_payment, finance, instalment)),
                (
                    moment(paid, 15),
                    2,
                    partial(service.mark_paid, finance, instalment, paid_on=paid, payment_reference=reference),
                ),
            ]
    for when, _order, step in sorted(steps, key=lambda step: (step[0], step[1])):
        with time_machine.travel(when, tick=False):
            step()


def plan(history: History, contract: Contract) -> None:
    """Queue the grant's year: each instalment raised on the working day it is released (one waiting
    for its returns tried again weekly); approved a few working days later and paid when due; what
    became of the latest is the grant's story (GrantTerms). A released instalment whose first day
    is today is still to be raised."""
    from portal.demo.history import next_working_day

    terms = GRANTS[contract.reference]
    rng = random.Random(f"grant-{contract.reference}")
    instalments = [i for i in service.schedule_of(contract) if i.status == GrantPaymentStatus.SCHEDULED]
    first_days = {i.id: next_working_day(max(service.raise_from(contract, i), history.start_day)) for i in instalments}
    # Those raised on their own dates before today, latest first, take the grant's stories.
    dated = [i for i in instalments if not i.needs_accepted_return and first_days[i.id] < history.today]
    stories = {instalment.id: story for instalment, story in zip(reversed(dated), terms.latest, strict=False)}
    for instalment in instalments:
        if not instalment.needs_accepted_return and first_days[instalment.id] >= history.today:
            continue  # released today or later: the partner has not raised it yet
        when = _moment(rng, first_days[instalment.id], 10, 12)
        history.at(when, _try_to_raise, history, rng, instalment.id, stories.get(instalment.id, "paid"))
    if terms.drop_ins:
        _plan_drop_ins(history, contract)


def _plan_drop_ins(history: History, contract: Contract) -> None:
    rng = random.Random(f"grant-activity-{contract.reference}")
    day = max(history.start_day, contract.start_date)
    while day <= min(history.today - timedelta(days=1), contract.end_date):
        if day.weekday() == 1:  # Tuesday: the drop-in
            history.at(history.working_moment(day, 15, 16), _record, history, contract.id, day, "drop_in", rng)
        if day.weekday() == 3 and day.day <= 7:  # the first Thursday: the group
            history.at(history.working_moment(day, 15, 16), _record, history, contract.id, day, "group_work", rng)
        day += timedelta(days=1)


def _moment(rng: random.Random, day: date, first_hour: int, last_hour: int) -> datetime:
    """A working-hours moment on `day` (or the next working day), drawn from the grant's own numbers
    (so the grants' stories leave the rest of the history's draws alone)."""
    from portal.demo.history import moment, next_working_day

    return moment(next_working_day(day), rng.randint(first_hour, last_hour), rng.choice((0, 10, 20, 30, 40, 50)))


def _later(history: History, rng: random.Random, working_days: int, first_hour: int, last_hour: int) -> datetime:
    day = add_working_days(london_day(history.current), working_days)
    return max(_moment(rng, day, first_hour, last_hour), history.current + timedelta(minutes=30))


def _manager(history: History, contract: Contract) -> Any:
    return history.partners[contract.partner_id].manager


def _try_to_raise(history: History, rng: random.Random, instalment_id: int, story: str) -> None:
    instalment = db.session.get(GrantInstalment, instalment_id)
    contract = db.session.get(Contract, instalment.contract_id)
    try:
        service.submit_payment(_manager(history, contract), instalment)
    except InvalidTransition:  # waiting for its service returns to be accepted
        db.session.rollback()
        retry = _moment(rng, london_day(history.current) + timedelta(days=7), 10, 12)
        history.at(retry, _try_to_raise, history, rng, instalment_id, story)
        return
    history.counts["grant_payments"] += 1
    if story == "submitted":
        return  # waiting for the CRC's decision
    history.at(_later(history, rng, rng.randint(2, 4), 11, 15), _decide, history, rng, instalment_id, story)


def _decide(history: History, rng: random.Random, instalment_id: int, story: str) -> None:
    instalment = db.session.get(GrantInstalment, instalment_id)
    contract = db.session.get(Contract, instalment.contract_id)
    terms = GRANTS[contract.reference]
    if story == "queried":  # the partner has still to answer
        service.query_payment(history.contract_manager, instalment, reason=QUERY_REASON)
        return
    if story == "varied":
        service.reject_payment(history.contract_manager, instalment, reason=VARIATION_REASON)
        history.at(_later(history, rng, rng.randint(1, 3), 10, 12), _vary, history, rng, instalment_id)
        return
    if terms.rejects_one and instalment.period_end < history.today and not history.counts["grant_payments_rejected"]:
        # Once in the year, one is rejected and the partner replaces it (the rejected one stays).
        service.reject_payment(history.finance, instalment, reason=REJECTION_REASON)
        history.counts["grant_payments_rejected"] += 1
        history.at(_later(history, rng, rng.randint(1, 4), 10, 12), _replace, history, instalment_id)
        return
    service.approve_payment(history.finance, instalment)
    if terms.current_left_unpaid and instalment.period_end >= history.today:
        return  # the period under way: approved, its payment still to come
    # Paid on the last working day by its due date (or two working days after approval, if later).
    day = max(add_working_days(london_day(history.current), 2), _working_day_by(instalment.payment_due_on))
    history.at(_moment(rng, day, 14, 16), _pay, history, instalment_id)


def _working_day_by(day: date) -> date:
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day


def _vary(history: History, rng: random.Random, instalment_id: int) -> None:
    """The contract manager replaces the rejected instalment with the varied amount; the partner
    raises the replacement a working day or two later, and it is approved and paid as any other."""
    rejected = db.session.get(GrantInstalment, instalment_id)
    replacement = service.replace_rejected(
        history.contract_manager, rejected, amount_pence=rejected.amount_pence + VARIATION_PENCE
    )
    history.at(_later(history, rng, rng.randint(1, 2), 10, 12), _try_to_raise, history, rng, replacement.id, "paid")


def _replace(history: History, instalment_id: int) -> None:
    """The partner's manager replaces the rejected payment and raises it at once; the CRC approves
    it two working days later and pays it a week after."""
    rejected = db.session.get(GrantInstalment, instalment_id)
    contract = db.session.get(Contract, rejected.contract_id)
    replacement = service.replace_rejected(_manager(history, contract), rejected)
    service.submit_payment(_manager(history, contract), replacement)
    history.counts["grant_payments"] += 1
    history.at(_fixed_moment(history, 2, 11), _approve_replacement, history, replacement.id)


def _approve_replacement(history: History, instalment_id: int) -> None:
    service.approve_payment(history.finance, db.session.get(GrantInstalment, instalment_id))
    history.at(_fixed_moment(history, 5, 15), _pay, history, instalment_id)


def _fixed_moment(history: History, working_days: int, hour: int) -> datetime:
    from portal.demo.history import moment

    return moment(add_working_days(london_day(history.current), working_days), hour, 0)


def _pay(history: History, instalment_id: int) -> None:
    instalment = db.session.get(GrantInstalment, instalment_id)
    day = london_day(history.current)
    service.mark_paid(history.finance, instalment, paid_on=day, payment_reference=f"BACS {day:%y%m%d}-{instalment.id}")


def _record(history: History, contract_id: int, day: date, kind: str, rng: random.Random) -> None:
    contract = db.session.get(Contract, contract_id)
    partner = history.partners[contract.partner_id]
    who = (partner.caseworkers or [partner.manager])[0]
    attendees = rng.randint(5, 14) if kind == "drop_in" else rng.randint(4, 9)
    minutes = 180 if kind == "drop_in" else 120
    description = "Drop-in at the women's centre" if kind == "drop_in" else "Women's group: confidence and wellbeing"
    activity.record_activity(
        who, contract, day=day, kind=kind, attendees=attendees, duration_minutes=minutes, description=description
    )
    history.counts["grant_activity"] += 1
