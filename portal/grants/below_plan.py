"""Services below plan: where a contract expects starts of a service (its expected volumes), the
services whose starts to date fall below BELOW_PLAN_PERCENT of the starts expected to date.

Definitions, the same as the return's "Against the contract" (portal.returns.kpis.contract_volumes):
a start is a referral's first contact; starts expected to date are the contract's expected starts
from its start to today (or its end), a month partly passed counting by its share of days. A row
of expected starts with no service (the whole contract) is compared with all the contract's starts.
The threshold is the return's volume tolerance (portal.returns.targets.VOLUME_TOLERANCE, 80%).

Sessions have no plan (a contract expects starts and spend, not sessions), so only starts are
flagged here; spend below the profile is the return's headline "spend" figure.

Two queries for any number of contracts (the expected rows, and the starts grouped by contract
and service), so the contract manager's home asks the same however many contracts it covers; and
those two only when a record they count has changed since they were last asked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from portal import access
from portal.contracts.models import Contract, ContractStatus
from portal.dates import end_of_london_day
from portal.extensions import db
from portal.grants.models import ExpectedStarts
from portal.referrals.models import Referral
from portal.returns.kpis import _expected_between
from portal.returns.targets import VOLUME_TOLERANCE

BELOW_PLAN_PERCENT = VOLUME_TOLERANCE


@dataclass(frozen=True)
class BelowPlan:
    contract_id: int
    reference: str
    service_code: str  # empty: the whole contract
    expected: int  # starts expected to date
    started: int

    @property
    def percent(self) -> int:
        return self.started * 100 // self.expected if self.expected else 0

    @property
    def label(self) -> str:
        return self.service_code or "Whole contract"


def below_plan_for(contracts: Any, as_of: date) -> list[BelowPlan]:
    """The services below plan of the contracts `contracts` selects (a select of Contract.id, or a
    list of ids), by contract reference and service."""
    expected_rows = db.session.execute(
        select(
            ExpectedStarts.contract_id,
            ExpectedStarts.service_code,
            ExpectedStarts.month,
            ExpectedStarts.starts,
            Contract.reference,
            Contract.start_date,
            Contract.end_date,
        )
        .join(Contract, Contract.id == ExpectedStarts.contract_id)
        .where(ExpectedStarts.contract_id.in_(contracts), Contract.status == ContractStatus.ACTIVE)
    ).all()
    if not expected_rows:
        return []
    plans: dict[tuple[int, str], dict[date, int]] = {}
    terms: dict[int, tuple[str, date, date]] = {}
    for contract_id, code, month, starts, reference, start, end in expected_rows:
        plans.setdefault((contract_id, code), {})[month] = starts
        terms[contract_id] = (reference, start, end)
    after = end_of_london_day(as_of)
    started: dict[tuple[int, str], int] = {}
    for contract_id, code, count in db.session.execute(
        select(Referral.contract_id, Referral.service_code, func.count())
        .where(
            Referral.contract_id.in_(list(terms)),
            Referral.sent_at.is_not(None),
            Referral.first_contact_at < after,
        )
        .group_by(Referral.contract_id, Referral.service_code)
    ):
        key = (contract_id, (code or "").upper())
        started[key] = started.get(key, 0) + int(count)
    found = []
    for (contract_id, code), by_month in plans.items():
        reference, start, end = terms[contract_id]
        expected = _expected_between(by_month, start, min(as_of, end))
        if code:
            done = started.get((contract_id, code), 0)
        else:
            done = sum(count for (cid, _), count in started.items() if cid == contract_id)
        if expected > 0 and done < Decimal(BELOW_PLAN_PERCENT) / 100 * expected:
            found.append(BelowPlan(contract_id, reference, code, expected, done))
    return sorted(found, key=lambda row: (row.reference, row.service_code))


def below_plan(contract: Contract, as_of: date | None = None) -> list[BelowPlan]:
    from portal.dates import london_today

    return below_plan_for([contract.id], as_of or london_today())


def below_plan_seen_by(user: Any, as_of: date) -> list[BelowPlan]:
    """Services below plan of the contracts `user` sees, remembered until a record they count changes
    (portal.figure_cache): the starts to date read every start in the contracts' history (166,000
    index entries, 30 ms, for the whole CRC at national scale) on each visit to the home page."""
    from portal.figure_cache import remembered

    ids = tuple(db.session.scalars(access.visible(Contract, user).with_only_columns(Contract.id).order_by(Contract.id)))
    return remembered("grants.below_plan", (ids, as_of), lambda: below_plan_for(list(ids), as_of))
