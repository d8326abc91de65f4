"""The dashboards people open first, counted before anyone asks.

Everyone's first page after signing in is their dashboard's summary: the whole CRC's for its
contract managers and referrers, a partner's own contracts' for the partner. At national scale the
CRC's summary is 140 ms of counting, and after a restart the first visitor paid it (340 ms in a
cold load test). gunicorn's master counts every organisation's summary of this quarter before it
forks its workers (portal.warm_figures), so each worker starts with them remembered, and Redis
holds them for every other instance; under the stamps of the tables they read, so a record changed
since has them counted again, exactly as before (portal.figure_cache)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import Select, select

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
    """Count and remember this quarter's summary of every CRC and every partner, as their people's
    dashboards ask for it (access.visible: a CRC's contracts, or a partner's across CRCs); how many."""
    rows = db.session.execute(dashboard_contracts(select(Contract.id, Contract.crc_id, Contract.partner_id))).all()
    by_organisation: dict[int, list[int]] = defaultdict(list)
    for contract_id, crc_id, partner_id in rows:
        by_organisation[crc_id].append(contract_id)
        by_organisation[partner_id].append(contract_id)
    period = quarter_of(today)
    for ids in by_organisation.values():
        remembered_summary(SUMMARY, ids, period, today=today)
    return len(by_organisation)
