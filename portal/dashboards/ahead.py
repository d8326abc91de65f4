"""The dashboards people open first, counted before anyone asks.

Everyone's first page after signing in is their dashboard's summary: the whole CRC's for its
contract managers and referrers, a partner's own contracts' for the partner. At national scale the
CRC's summary is 140 ms of counting, and after a restart the first visitor paid it (340 ms in a
cold load test). gunicorn's master counts each organisation's summary of this quarter before it
forks its workers (portal.warm_figures), so each worker starts with them remembered, and Redis
holds them for every other instance; under the stamps of the tables they read, so a record changed
since has them counted again, exactly as before (portal.figure_cache)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Select, select

from portal import access
from portal.accounts.models import User
from portal.contracts.models import Contract, ContractStatus
from portal.dates import quarter_of
from portal.extensions import db
from portal.figures import remembered_summary

# The name the dashboard remembers its summary under (dashboards.views).
SUMMARY = "dashboard.summary"


def dashboard_contracts(statement: Select) -> Select:  # type: ignore[type-arg]
    """The contracts a dashboard counts, of those `statement` selects (the user's visible ones): every
    contract but those still being drafted, in the order of their references (the summary is
    remembered under the list)."""
    return statement.where(Contract.status != ContractStatus.DRAFT).order_by(Contract.reference)


def count_ahead(today: date) -> int:
    """Count and remember this quarter's summary of every organisation whose people have a dashboard,
    over the contracts its people see (asked of portal.access, as the dashboard asks it, of one of
    them: a CRC's contracts, or a partner's across CRCs); how many."""
    period = quarter_of(today)
    one_each: dict[int, User] = {}
    for user in db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)):
        one_each.setdefault(user.organisation_id, user)
    counted = 0
    for user in one_each.values():
        visible = dashboard_contracts(access.visible(Contract, user)).with_only_columns(Contract.id)
        ids = list(db.session.scalars(visible))
        if ids:
            remembered_summary(SUMMARY, ids, period, today=today)
            counted += 1
    return counted
