"""The grants' items on the home pages' work lists: grant payments for the contract manager to
decide, instalments for the partner's manager to raise. One count query each."""

from __future__ import annotations

from datetime import date, timedelta

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
