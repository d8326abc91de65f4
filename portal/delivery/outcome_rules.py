"""An outcome type's rule (API.md, "Billing rules"), as plain functions over plain values: from
which event its days count, the window in which it can be achieved, and why a claim breaks it.

The claim, its verification and the oracle of the billing tests ask these functions; the SQL of
portal.invoicing.billing says the same (`rule_window_sql`), and the tests check they agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Date, and_, case, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from portal.contracts.models import OutcomeFrom
from portal.extensions import db
from portal.formatting import format_date


@dataclass(frozen=True)
class Rule:
    outcome_from: OutcomeFrom | None = None
    earliest_days: int = 0
    latest_days: int | None = None
    max_per_referral: int | None = None
    evidence_required: bool = False

    @classmethod
    def of(cls, outcome_type: Any) -> Rule:
        return cls(
            outcome_from=outcome_type.outcome_from,
            earliest_days=outcome_type.outcome_earliest_days or 0,
            latest_days=outcome_type.outcome_latest_days,
            max_per_referral=outcome_type.max_per_referral,
            evidence_required=bool(outcome_type.evidence_required),
        )


@dataclass(frozen=True)
class Facts:
    """What a referral says that a rule counts from."""

    accepted_on: date | None
    first_contact_on: date | None
    custody: bool
    release_on: date | None

    @classmethod
    def of(cls, referral: Any) -> Facts:
        # Release is the recorded release (Through the Gate) once there is one, the person then
        # being in the community on the same case; before it, the expected release date.
        from portal.ttg.models import ReleaseRecord

        released = db.session.scalar(select(ReleaseRecord.released_on).where(ReleaseRecord.referral_id == referral.id))
        return cls(
            accepted_on=referral.accepted_on,
            first_contact_on=referral.first_contact_on,
            custody=referral.is_custody or released is not None,
            release_on=released or (referral.expected_release_date if referral.is_custody else None),
        )


def anchor(rule: Rule, facts: Facts) -> tuple[date | None, str]:
    """The day the rule counts from, and what that day is (for messages). None: not yet known."""
    if rule.outcome_from == OutcomeFrom.START:
        return facts.first_contact_on, "first contact"
    if rule.outcome_from == OutcomeFrom.RELEASE:
        if facts.custody:
            return facts.release_on, "release"
        return facts.first_contact_on, "first contact"
    return facts.accepted_on, "acceptance"


def window(rule: Rule, facts: Facts) -> tuple[date, date | None] | None:
    """The first and last days (None: no last) an outcome can be achieved; None when the event
    the rule counts from has not happened or is not recorded."""
    start, _ = anchor(rule, facts)
    if start is None:
        return None
    last = start + timedelta(days=rule.latest_days) if rule.latest_days is not None else None
    return start + timedelta(days=rule.earliest_days), last


def allows(rule: Rule, facts: Facts, achieved_on: date) -> bool:
    found = window(rule, facts)
    return found is not None and found[0] <= achieved_on and (found[1] is None or achieved_on <= found[1])


def refusal(rule: Rule, facts: Facts, achieved_on: date) -> str | None:
    """Why an outcome achieved on this day breaks the rule, or None if it does not."""
    found = window(rule, facts)
    start, event = anchor(rule, facts)
    if found is None:
        if rule.outcome_from == OutcomeFrom.RELEASE and facts.custody:
            return "This outcome counts from release, and the referral has no release date: ask the referrer to add it"
        return f"This outcome counts from {event}, which has not been recorded yet"
    first, last = found
    if achieved_on < first:
        days = f"{rule.earliest_days} days after {event}" if rule.earliest_days else event
        return f"This outcome can be claimed from {format_date(first)} ({days}, {format_date(start)})"
    if last is not None and achieved_on > last:
        return (
            f"This outcome can be claimed only up to {format_date(last)} "
            f"({rule.latest_days} days after {event}, {format_date(start)})"
        )
    return None


def describe(rule: Rule) -> str:
    """The rule in words, as the contract pages and the claim form show it."""
    event = {None: "acceptance", OutcomeFrom.START: "first contact", OutcomeFrom.RELEASE: "release"}[rule.outcome_from]
    if rule.latest_days is not None:
        text = f"Achieved {rule.earliest_days} to {rule.latest_days} days after {event}"
    elif rule.earliest_days:
        text = f"Achieved at least {rule.earliest_days} days after {event}"
    else:
        text = f"Achieved on or after {event}"
    if rule.max_per_referral is not None:
        text += f"; at most {rule.max_per_referral} per referral"
    if rule.evidence_required:
        text += "; an evidence file is required"
    return text


# --- the same rule in SQL (for the billing query) ----------------------------------------------------


class _DaysAfter(FunctionElement):
    """`day` plus a whole number of days, as a date, in SQLite and PostgreSQL alike."""

    type = Date()
    inherit_cache = True
    name = "days_after"


@compiles(_DaysAfter)
def _days_after_postgresql(element: _DaysAfter, compiler: Any, **kw: Any) -> str:
    day, days = list(element.clauses)
    return f"(CAST({compiler.process(day, **kw)} AS DATE) + CAST({compiler.process(days, **kw)} AS INTEGER))"


@compiles(_DaysAfter, "sqlite")
def _days_after_sqlite(element: _DaysAfter, compiler: Any, **kw: Any) -> str:
    day, days = list(element.clauses)
    # No '+' before the number: SQLite reads "-28 days" and "28 days", but "+-28 days" is null.
    return f"date({compiler.process(day, **kw)}, ({compiler.process(days, **kw)}) || ' days')"


def days_after(day: Any, days: Any) -> ColumnElement[date]:
    return _DaysAfter(day, days)  # type: ignore[return-value]


def allows_sql(outcome: Any, referral: Any, outcome_type: Any) -> ColumnElement[bool]:
    """`allows` as a condition over the outcome, referral and outcome_type tables (or aliases):
    the achieved day is inside the type's window, counted from the event its rule names."""
    from portal.referrals.models import LocationType
    from portal.ttg.models import ReleaseRecord

    released = select(ReleaseRecord.released_on).where(ReleaseRecord.referral_id == referral.id).scalar_subquery()
    start = case(
        (outcome_type.outcome_from == OutcomeFrom.START, referral.first_contact_on),
        (
            outcome_type.outcome_from == OutcomeFrom.RELEASE,
            func.coalesce(
                released,
                case(
                    (referral.location_type == LocationType.CUSTODY, referral.expected_release_date),
                    else_=referral.first_contact_on,
                ),
            ),
        ),
        else_=referral.accepted_on,
    )
    return and_(
        start.is_not(None),
        outcome.achieved_on >= days_after(start, outcome_type.outcome_earliest_days),
        or_(
            outcome_type.outcome_latest_days.is_(None),
            outcome.achieved_on <= days_after(start, outcome_type.outcome_latest_days),
        ),
    )
