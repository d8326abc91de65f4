"""The grants' items on the home pages' work lists: grant payments for the contract manager to
decide, instalments for the partner's manager to raise. One count query each."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import url_for
from sqlalchemy import func, select

from portal import access
from portal.accounts.models import Role, User
from portal.contracts.models import Contract
from portal.extensions import db
from portal.grants.models import GrantInstalment, GrantPaymentStatus, Timing
from portal.main.work import work_item


@work_item(
    "grant_payments_to_decide",
    {Role.CONTRACT_MANAGER},
    order=14,
    noun="grant payment",
    text="waiting for your decision",
    href=lambda user: url_for("grants.payments", status="submitted"),
)
def _to_decide(user: User, today: date) -> int:
    statement = access.visible(GrantInstalment, user).where(GrantInstalment.status == GrantPaymentStatus.SUBMITTED)
    return db.session.scalar(select(func.count()).select_from(statement.subquery())) or 0


@work_item(
    "grant_instalments_to_raise",
    {Role.PROVIDER_MANAGER},
    order=45,
    noun="grant instalment",
    text="that can be raised as grant payments (those waiting for a return say so)",
    href=lambda user: url_for("grants.payments", status="scheduled"),
)
def _to_raise(user: User, today: date) -> int:
    """Scheduled instalments past the day they may be raised (service.raise_from): one query; a
    partner's schedules hold a handful of rows a year, so the day is checked on the rows."""
    statement = (
        access.visible(GrantInstalment, user)
        .join(Contract, Contract.id == GrantInstalment.contract_id)
        .where(GrantInstalment.status == GrantPaymentStatus.SCHEDULED)
        .with_only_columns(
            GrantInstalment.due_on, GrantInstalment.period_end, GrantInstalment.timing, Contract.payment_terms_days
        )
    )
    return sum(
        1
        for due_on, period_end, timing, terms in db.session.execute(statement)
        if (period_end < today if timing == Timing.ARREARS else due_on - timedelta(days=terms) <= today)
    )


def _below_plan(user: User, today: date) -> list[Any]:
    """Asked once a request: the count and its detail lines share it (two queries in all)."""
    from flask import g

    from portal.grants.below_plan import below_plan_seen_by

    key = (user.id, today)
    cached = getattr(g, "services_below_plan", None)
    if cached is None or cached[0] != key:
        cached = (key, below_plan_seen_by(user, today))
        g.services_below_plan = cached
    return cached[1]


def _below_plan_lines(user: User, today: date) -> list[tuple[str, int | None, str]]:
    return [
        (
            f"{row.reference}, {row.label}: {row.started} started of {row.expected} expected to date",
            None,
            url_for("volumes.show", reference=row.reference),
        )
        for row in _below_plan(user, today)[:10]
    ]


@work_item(
    "services_below_plan",
    {Role.CONTRACT_MANAGER},
    order=38,
    noun="service",
    text="with starts below 80% of plan to date",
    href=lambda user: url_for("contracts.index"),
    warn=True,
    detail=_below_plan_lines,
)
def _services_below_plan(user: User, today: date) -> int:
    return len(_below_plan(user, today))
