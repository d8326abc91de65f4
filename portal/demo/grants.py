"""The demo's grants and expected volumes: the Northamptonshire women's services grant (c2c Social
Action, Tier III, no referrals) paid by a quarterly schedule of instalments, with a weekly drop-in
and a monthly group recorded without referrals; and every active contract's expected starts, with
Nacro's Through the Gate accommodation (BENCH-ACC-01) expecting far more referrals than the CRC
sends it. All made by the service functions the pages use, dated from the day it is loaded."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import time_machine
from sqlalchemy import select

from portal.accounts.models import Role, User
from portal.contracts.models import Contract, ContractStatus, RateCardItem
from portal.dates import add_months, london_day
from portal.errors import InvalidTransition
from portal.extensions import db
from portal.grants import activity, service, volumes
from portal.grants.models import GrantInstalment, GrantPaymentStatus
from portal.working_days import add_working_days

if TYPE_CHECKING:
    from portal.demo.history import History

SCHEDULED_GRANT = "BENCH-WOM-04"
QUARTER_PENCE = 8_000_00
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


def is_scheduled_grant(contract: Contract) -> bool:
    return contract.reference == SCHEDULED_GRANT


def set_expectations(manager: Any, today: date) -> None:
    """The contract manager sets each active contract's expected starts (and the grant's schedule)."""
    contracts = db.session.scalars(
        select(Contract).where(Contract.status == ContractStatus.ACTIVE).order_by(Contract.reference)
    ).all()
    for contract in contracts:
        if is_scheduled_grant(contract):
            service.import_schedule(manager, contract, _schedule_csv(contract, today).encode())
            continue
        per_month = EXPECTED_STARTS.get(contract.reference)
        codes = sorted(
            set(db.session.scalars(select(RateCardItem.service_code).where(RateCardItem.contract_id == contract.id)))
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
    """Quarterly instalments over the grant. Those of the last twelve months are paid in arrears and
    released only once the quarter's service returns are accepted (the demo's latest returns are not
    yet, so last quarter's waits); the quarter under way is paid in advance (raised and approved,
    not yet paid: it is due); older ones were paid in advance."""
    rows = ["period_start,period_end,due_on,amount,timing,needs_accepted_return"]
    returns_from = add_months(today.replace(day=1), -12)
    start = contract.start_date
    while start <= contract.end_date:
        end = min(add_months(start, 3) - timedelta(days=1), contract.end_date)
        in_advance = start <= today <= end or start < returns_from
        if in_advance:
            rows.append(f"{start},{end},{start},{QUARTER_PENCE // 100}.00,advance,no")
        else:
            rows.append(f"{start},{end},{end + timedelta(days=14)},{QUARTER_PENCE // 100}.00,arrears,yes")
        start = end + timedelta(days=1)
    return "\n".join(rows) + "\n"


# --- the history -----------------------------------------------------------------------------------------


def before_history(now: datetime) -> None:
    """The grant's instalments that fell due before the history begins: raised on the first working
    day they could be, approved two working days later and paid a week after, on those days."""
    from portal.demo.history import HISTORY_DAYS, moment, next_working_day

    start_day = london_day(now) - timedelta(days=HISTORY_DAYS)
    contract = db.session.scalars(select(Contract).where(Contract.reference == SCHEDULED_GRANT)).first()
    if contract is None:
        return
    manager = db.session.scalars(
        select(User)
        .where(User.organisation_id == contract.partner_id, User.role == Role.PROVIDER_MANAGER, User.active.is_(True))
        .order_by(User.id)
    ).first()
    finance = db.session.scalars(
        select(User).where(User.role == Role.CONTRACT_MANAGER, User.active.is_(True)).order_by(User.id.desc())
    ).first()
    for instalment in service.schedule_of(contract):
        first = service.raise_from(contract, instalment)
        if first >= start_day or instalment.needs_accepted_return or manager is None or finance is None:
            continue
        raised = next_working_day(first)
        with time_machine.travel(moment(raised, 10), tick=False):
            service.submit_payment(manager, instalment)
        approved = add_working_days(raised, 2)
        with time_machine.travel(moment(approved, 11), tick=False):
            service.approve_payment(finance, instalment)
        paid = add_working_days(approved, 5)
        with time_machine.travel(moment(paid, 15), tick=False):
            service.mark_paid(
                finance, instalment, paid_on=paid, payment_reference=f"BACS {paid:%y%m%d}-{instalment.id}"
            )


def plan(history: History, contract: Contract) -> None:
    """Queue the grant's year: each instalment raised when released (tried again weekly while it
    waits for its returns), approved and paid (one rejected first, and replaced by the partner);
    the latest raised is left approved and unpaid; a weekly drop-in and a monthly group."""
    rng = random.Random(f"grant-{contract.reference}")
    instalments = db.session.scalars(
        select(GrantInstalment).where(GrantInstalment.contract_id == contract.id).order_by(GrantInstalment.period_start)
    ).all()
    for instalment in instalments:
        if instalment.status != GrantPaymentStatus.SCHEDULED:
            continue  # raised before the history began
        first = max(service.raise_from(contract, instalment), history.start_day)
        history.at(history.working_moment(first, 10, 12), _try_to_raise, history, instalment.id)
    day = max(history.start_day, contract.start_date)
    while day <= min(history.today - timedelta(days=1), contract.end_date):
        if day.weekday() == 1:  # Tuesday: the drop-in
            history.at(history.working_moment(day, 15, 16), _record, history, contract.id, day, "drop_in", rng)
        if day.weekday() == 3 and day.day <= 7:  # the first Thursday: the group
            history.at(history.working_moment(day, 15, 16), _record, history, contract.id, day, "group_work", rng)
        day += timedelta(days=1)


def _manager(history: History, contract: Contract) -> Any:
    return history.partners[contract.partner_id].manager


def _try_to_raise(history: History, instalment_id: int) -> None:
    instalment = db.session.get(GrantInstalment, instalment_id)
    contract = db.session.get(Contract, instalment.contract_id)
    try:
        service.submit_payment(_manager(history, contract), instalment)
    except InvalidTransition:
        db.session.rollback()
        retry = history.working_moment(london_day(history.current) + timedelta(days=7), 10, 12)
        history.at(retry, _try_to_raise, history, instalment_id)
        return
    history.counts["grant_payments"] += 1
    history.at(history.later(history.rng.randint(2, 4), 11, 15), _approve, history, instalment_id)


def _approve(history: History, instalment_id: int) -> None:
    instalment = db.session.get(GrantInstalment, instalment_id)
    if instalment.period_end < history.today and not history.counts["grant_payments_rejected"]:
        # Once in the year, one is rejected and the partner replaces it (the rejected one stays).
        service.reject_payment(history.finance, instalment, reason=REJECTION_REASON)
        history.counts["grant_payments_rejected"] += 1
        # The same draw as paying it would take, so the rest of the history stays as it was.
        days = history.rng.randint(6, 9) - 5
        history.at(history.later(days, 10, 12), _replace, history, instalment_id)
        return
    service.approve_payment(history.finance, instalment)
    if instalment.period_end >= history.today:
        return  # the quarter under way: approved, its payment still to come
    history.at(history.later(history.rng.randint(6, 9), 14, 16), _pay, history, instalment_id)


REJECTION_REASON = "It quotes last year's grant agreement number: please raise it again under this year's"


def _replace(history: History, instalment_id: int) -> None:
    """The partner's manager replaces the rejected payment and raises it at once; the CRC approves
    it two working days later and pays it a week after (fixed delays: no draw from the history's
    random numbers, so the rest of the history stays as it was)."""
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
