"""The figures of the dashboards and service returns, counted in SQL.

Each figure is a grouped query's count, sum or FILTER-like CASE over the window it is asked of
(the period, the previous period, the year to date, each charted month), so the database does
the counting and Python receives a few rows a contract (or a place, a reason, an outcome type),
however many referrals and sessions there are: about twenty queries a page, whatever the data.

The definitions are those of portal.returns.kpis, whose functions compute the same figures from
plain rows (`load_records`): they are the reference, and tests/test_figures_match_records.py
checks the two agree exactly on random histories, on SQLite and PostgreSQL. Both are laid out by
kpis.assemble_figures. Invoices and grant payments (a few a contract and month) are still read as
rows and counted by the kpis functions: spend, prompt payment and the grant's money.

Two counts need a calendar day in SQL rather than a window's bounds: whether an event happened
by a referral's own due date (the SLA figures) and a person's age on their first contact.
`london_date` is that day, on either database.
"""

from __future__ import annotations

import copy
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, and_, case, extract, func, literal_column, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

from portal.contracts.models import Pathway
from portal.dates import (
    Period,
    PeriodKind,
    Window,
    add_months,
    end_of_london_day,
    month_label,
    quarter_of,
    start_of_london_day,
)
from portal.delivery.models import (
    ATTENDED,
    Attendance,
    EndOfServiceReport,
    NonAttendanceReason,
    Outcome,
    OutcomeStatus,
    Session,
)
from portal.extensions import db
from portal.grants.models import ActivityKind, GrantActivity
from portal.people.models import ETHNICITY_GROUPS, Person
from portal.places.models import Prison, ProbationOffice
from portal.referrals.models import Referral
from portal.returns import kpis
from portal.returns.kpis import AGE_BANDS, DISABILITIES, ETHNIC_GROUPS, GENDERS, Labels, Parts, percent
from portal.returns.records import _referral_filters, default_labels, load_terms, relevant_referrals


class london_date(FunctionElement):  # noqa: N801 (an SQL function, named as one)
    """The London calendar day of a stored moment (portal.dates.london_day, in SQL)."""

    type = Date()
    inherit_cache = True
    name = "london_date"


@compiles(london_date)
def _london_date_postgresql(element: Any, compiler: Any, **kw: Any) -> str:
    (moment,) = list(element.clauses)
    return f"CAST(timezone('Europe/London', {compiler.process(moment, **kw)}) AS DATE)"


@compiles(london_date, "sqlite")
def _london_date_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    # SQLite keeps UTC text and knows no time zones. UK summer time (the rule since 1996) runs
    # from 01:00 UTC on the last Sunday of March (the Sunday on or after 25 March) to 01:00 UTC on
    # the last Sunday of October; tests check this against zoneinfo hour by hour.
    (moment,) = list(element.clauses)
    m = compiler.process(moment, **kw)
    # To the second: SQLite's date functions round microseconds to milliseconds, and 23:59:59.9999
    # would round into the next day.
    second = f"substr({m}, 1, 19)"

    def change(month: str) -> str:
        return f"datetime(date(strftime('%Y', {second}) || '-{month}-25', 'weekday 0'), '+1 hours')"

    summer = f"{second} >= {change('03')} AND {second} < {change('10')}"
    return f"date({second}, CASE WHEN {summer} THEN '+1 hours' ELSE '+0 hours' END)"


class day_part(FunctionElement):  # noqa: N801 (an SQL function, named as one)
    """The year, month or day of a date column, as a number: EXTRACT, but on PostgreSQL
    date_part, whose double precision (exact for these small whole numbers) is several times
    cheaper to compute with than EXTRACT's numeric (equality monitoring: ages of a year's
    29,000 people starting, 170 ms against 90 ms)."""

    inherit_cache = True
    name = "day_part"
    # The field is part of the statement's cache key: "month" and "year" compile differently.
    _traverse_internals = [*FunctionElement._traverse_internals, ("field", InternalTraversal.dp_string)]

    def __init__(self, field: str, day: Any) -> None:
        self.field = field
        super().__init__(day)


@compiles(day_part, "postgresql")
def _day_part_postgresql(element: Any, compiler: Any, **kw: Any) -> str:
    (day,) = list(element.clauses)
    return f"date_part('{element.field}', {compiler.process(day, **kw)})"


@compiles(day_part)
def _day_part_default(element: Any, compiler: Any, **kw: Any) -> str:
    (day,) = list(element.clauses)
    return compiler.process(extract(element.field, day), **kw)


def _count(*conditions: Any) -> Any:
    return func.count(case((and_(*conditions), 1)))


def _sum(value: Any, *conditions: Any) -> Any:
    return func.coalesce(func.sum(case((and_(*conditions), value))), 0)


def _on(column: Any, window: Window) -> Any:
    """A day column inside the window."""
    return and_(column >= window.start, column <= window.end)


def _during(column: Any, window: Window) -> Any:
    """A moment inside the window's London days."""
    return and_(column >= start_of_london_day(window.start), column < end_of_london_day(window.end))


def _columns(spec: dict[str, Any]) -> list[Any]:
    return [expression.label(name.replace(".", "__").replace(":", "_")) for name, expression in spec.items()]


def _read(row: Any, spec: dict[str, Any], offset: int) -> dict[str, int]:
    return {name: int(row[offset + index] or 0) for index, name in enumerate(spec)}


@dataclass
class Counted:
    """The figures, and what the dashboard shows beside them: each contract's own and the verified
    outcomes of the period by pathway."""

    figures: dict[str, Any]
    by_contract: dict[int, dict[str, Any]] = field(default_factory=dict)
    verified_by_pathway: list[dict[str, Any]] = field(default_factory=list)


def count_figures(
    contract_ids: Sequence[int],
    period: Period,
    *,
    today: date,
    contract_start: date | None = None,
    pathway: str | None = None,
    area: str | None = None,
    labels: Labels | None = None,
) -> Counted:
    """Every figure of `period` for these contracts (as kpis.compute_figures over load_records).

    In two parts, which a page remembers apart (portal.figure_cache): the sessions
    (figure_sessions), written all day, and the rest (figure_counts)."""
    ids = list(contract_ids)
    if not ids:
        return Counted(
            kpis.compute_figures(kpis.Records(), period, today=today, contract_start=contract_start, labels=labels)
        )
    counts = figure_counts(ids, period, today=today, contract_start=contract_start, pathway=pathway, area=area)
    sessions = figure_sessions(ids, period, contract_start=contract_start, pathway=pathway, area=area)
    return figures_from(counts, sessions, period, today=today, contract_start=contract_start, labels=labels)


def remembered_figures(
    name: str,
    contract_ids: Sequence[int],
    period: Period,
    *,
    today: date,
    contract_start: date | None = None,
    pathway: str | None = None,
    area: str | None = None,
    labels: Labels | None = None,
) -> Counted:
    """count_figures, each of its two parts remembered under the stamps of the tables it reads
    (portal.figure_cache), and keyed by the safeguarding clock too: the one figure that moves with
    the clock alone (a concern not acknowledged by its deadline is late from that moment). The
    figures put together are remembered too, under every table's stamp: for the whole CRC, putting
    them together is 175 ms (a copy of the counts, so that nothing remembered is changed, and the
    layout), which a visit with nothing changed need not pay."""
    from portal.figure_cache import FIGURE_TABLES, remembered

    ids = tuple(contract_ids)
    if not ids:
        return count_figures(ids, period, today=today, contract_start=contract_start, labels=labels)
    key = (ids, period, today, contract_start, pathway, area)
    clock = safeguarding_clock(ids)

    def together() -> Counted:
        counts = remembered(
            name,
            (*key, clock),
            lambda: figure_counts(ids, period, today=today, contract_start=contract_start, pathway=pathway, area=area),
            tables=tuple(table for table in FIGURE_TABLES if table != "delivery_session"),
        )
        sessions = remembered(
            f"{name}.sessions",
            key,
            lambda: figure_sessions(ids, period, contract_start=contract_start, pathway=pathway, area=area),
            tables=tables_read(FIGURE_SESSION_TABLES, pathway=pathway, area=area),
        )
        return figures_from(counts, sessions, period, today=today, contract_start=contract_start, labels=labels)

    return remembered(f"{name}.together", (*key, clock), together)


def count_every_shape(contract_ids: Sequence[int], contract_start: date | None, today: date) -> None:
    """Count these contracts' figures in every shape a page asks for, and keep none: the summary,
    each contract's, the equality tables and every figure, unfiltered, by pathway and by area, for
    the dashboard's period (this quarter); and every figure of last quarter and last month, the
    periods of the returns being drafted. What gunicorn's master runs so that each shape's
    statements are compiled before its workers fork (portal.warm_figures)."""
    ids, labels = list(contract_ids), default_labels()
    period = quarter_of(today)
    # Any pathway and any area: their values are the statements' parameters, not their shape.
    for pathway, area in ((None, None), (Pathway.ACCOMMODATION.value, None), (None, "a probation office")):
        filters = {"pathway": pathway, "area": area}
        count_summary(ids, period, today=today, contract_start=contract_start, **filters)
        count_by_contract(ids, period, today=today, **filters)
        count_equality(ids, period, today=today, contract_start=contract_start, **filters)
        count_figures(ids, period, today=today, contract_start=contract_start, labels=labels, **filters)
    last_month = Period(PeriodKind.MONTH, add_months(today.replace(day=1), -1))
    for drafted in (period.previous(), last_month):
        count_figures(ids, drafted, today=today, contract_start=contract_start, labels=labels)


# The tables figure_sessions reads (with a filter's: tables_read); figure_counts reads the others.
FIGURE_SESSION_TABLES = ("delivery_session", "referral")


def _figure_scope(
    ids: list[int], period: Period, contract_start: date | None, pathway: str | None, area: str | None
) -> tuple[_Scope, dict[str, Window], dict[str, Window]]:
    """What every figure is counted over: the records' scope, the windows and the charted months."""
    windows = kpis._windows(period, contract_start)
    months = period.charted_months(contract_start)
    start = min(period.previous().start, windows["ytd"].start, months[0])
    month_windows = {f"m{index}": Period(PeriodKind.MONTH, month).window for index, month in enumerate(months)}
    return _Scope(ids, start, period.end, pathway, area), windows, month_windows


def figure_sessions(
    contract_ids: Sequence[int],
    period: Period,
    *,
    contract_start: date | None = None,
    pathway: str | None = None,
    area: str | None = None,
) -> dict[str, Any]:
    """The sessions every figure counts: by attendance in each window and month, by contract; the
    RAR days delivered, and against those ordered. Reads FIGURE_SESSION_TABLES (and a filter's)."""
    scope, windows, month_windows = _figure_scope(list(contract_ids), period, contract_start, pathway, area)
    sessions, contract_sessions = _session_counts(scope, windows, month_windows)
    return {
        "sessions": dict(sessions),
        "by_contract": {contract_id: dict(counts) for contract_id, counts in contract_sessions.items()},
        "rar_days": _rar_days(scope, windows),
        "rar": _rar_against_ordered(scope, windows),
    }


def figure_counts(
    contract_ids: Sequence[int],
    period: Period,
    *,
    today: date,
    contract_start: date | None = None,
    pathway: str | None = None,
    area: str | None = None,
) -> dict[str, Any]:
    """Everything every figure counts but the sessions (figure_sessions). Reads no session."""
    ids = list(contract_ids)
    scope, windows, month_windows = _figure_scope(ids, period, contract_start, pathway, area)
    referrals, contract_referrals = _referral_counts(scope, windows, month_windows, today, min(period.end, today))
    declined, withdrawn = _reasons(scope, windows)
    to_accept, to_contact = _medians(scope, windows)
    records = load_terms(ids, period.end, pathway=pathway, area=area, today=today)
    return {
        "ids": ids,
        "referrals": referrals,
        "by_contract": contract_referrals,
        "declined": declined,
        "withdrawn": withdrawn,
        "to_accept": to_accept,
        "to_contact": to_contact,
        "outcome_rows": _outcome_counts(scope, windows, month_windows),
        "achievements": _achievements(scope, windows),
        "records": records,
        "activities": _activities(scope, windows, always=any(c.grant for c in records.contracts)),
        "safeguarding": _safeguarding(scope, windows),
        "releases": _releases(scope, windows),
        "locations": _locations(scope, windows),
        "equality": _equality(scope, windows),
    }


def figures_from(
    counts: dict[str, Any],
    session_counts: dict[str, Any],
    period: Period,
    *,
    today: date,
    contract_start: date | None = None,
    labels: Labels | None = None,
) -> Counted:
    """Every figure, from figure_counts and figure_sessions (remembered and shared: neither is changed)."""
    counts = copy.deepcopy(counts)
    windows = kpis._windows(period, contract_start)
    months = period.charted_months(contract_start)
    referrals, contract_referrals = counts["referrals"], counts["by_contract"]
    declined, withdrawn = counts["declined"], counts["withdrawn"]
    to_accept, to_contact = counts["to_accept"], counts["to_contact"]
    outcome_rows, achievements, records = counts["outcome_rows"], counts["achievements"], counts["records"]
    sessions = Counter(session_counts["sessions"])
    contract_sessions = {contract_id: Counter(c) for contract_id, c in session_counts["by_contract"].items()}
    rar_days, rar = dict(session_counts["rar_days"]), dict(session_counts["rar"])

    referral_parts = {}
    session_parts = {}
    outcome_parts = {}
    for name in windows:
        r = referrals
        referral_parts[name] = {
            "received": r[f"{name}.received"],
            "accepted": r[f"{name}.accepted"],
            "declined": sum(declined[name].values()),
            "declined_by_reason": declined[name],
            "withdrawn": sum(withdrawn[name].values()),
            "withdrawn_by_reason": withdrawn[name],
            "answered_within_sla": percent(r[f"{name}.answered_in_time"], r[f"{name}.answer_due"]),
            "first_contact_within_sla": percent(r[f"{name}.contacted_in_time"], r[f"{name}.contact_due"]),
            "median_days_to_accept": _median_text(to_accept[name]),
            "median_days_to_first_contact": _median_text(to_contact[name]),
            "caseload_start": r[f"{name}.caseload_start"],
            "caseload_end": r[f"{name}.caseload_end"],
            "starts": r[f"{name}.starts"],
            "completions": r[f"{name}.completions"],
            "early_endings": r[f"{name}.early_endings"],
        }
        s = sessions
        attended, late, missed = s[f"{name}.attended"], s[f"{name}.late"], s[f"{name}.missed"]
        session_parts[name] = {
            "scheduled": s[f"{name}.scheduled"],
            "held": attended + late + missed,
            "attended": attended,
            "late": late,
            "missed_acceptable": s[f"{name}.missed_acceptable"],
            "missed_unacceptable": s[f"{name}.missed_unacceptable"],
            "missed_logistics": s[f"{name}.missed_logistics"],
            "did_not_happen": s[f"{name}.did_not_happen"],
            "awaiting_feedback": s[f"{name}.awaiting_feedback"],
            "attendance_rate": percent(attended + late, attended + late + missed),
            "hours_delivered": kpis.hours(s[f"{name}.minutes"]),
            "rar_days_delivered": rar_days[name],
            "rar_days_against_ordered": percent(rar[f"{name}.delivered"], rar[f"{name}.ordered"]),
        }
        a = achievements[name]
        achieved, partly, not_achieved = a["achieved"], a["partially_achieved"], a["not_achieved"]
        outcome_parts[name] = {
            "claimed": sum(row[f"{name}.claimed"] for row in outcome_rows),
            "verified": sum(row[f"{name}.verified"] for row in outcome_rows),
            "rejected": sum(row[f"{name}.rejected"] for row in outcome_rows),
            "desired_outcomes_assessed": achieved + partly + not_achieved,
            "desired_achieved": achieved,
            "desired_partially_achieved": partly,
            "desired_not_achieved": not_achieved,
            "achievement_score": percent(
                kpis.ACHIEVEMENT_HALVES["achieved"] * achieved + kpis.ACHIEVEMENT_HALVES["partially_achieved"] * partly,
                kpis.ACHIEVEMENT_HALVES["achieved"] * (achieved + partly + not_achieved),
            ),
        }

    parts = Parts(
        referrals=referral_parts,
        sessions=session_parts,
        outcomes=outcome_parts,
        safeguarding=counts["safeguarding"],
        releases=counts["releases"],
        locations=counts["locations"],
        equality=counts["equality"],
        activities=counts["activities"],
        outcomes_by_type=_by_type(outcome_rows),
        months=[
            {
                "month": f"{month:%Y-%m}",
                "label": month_label(month),
                "received": referrals[f"m{index}.received"],
                "accepted": referrals[f"m{index}.accepted"],
                "outcomes_claimed": sum(row[f"m{index}.claimed"] for row in outcome_rows),
                "outcomes_verified": sum(row[f"m{index}.verified"] for row in outcome_rows),
                "attended": sessions[f"m{index}.attended"],
                "late": sessions[f"m{index}.late"],
                "missed": sessions[f"m{index}.missed"],
                "did_not_happen": sessions[f"m{index}.did_not_happen"],
            }
            for index, month in enumerate(months)
        ],
        volume_counts={name: (referrals[f"v_{name}.started"], referrals[f"v_{name}.received"]) for name in windows},
    )
    figures = kpis.assemble_figures(parts, records, period, today=today, contract_start=contract_start, labels=labels)
    return Counted(
        figures,
        _by_contract(counts["ids"], contract_referrals, contract_sessions, outcome_rows),
        _verified_by_pathway(outcome_rows),
    )


def _by_contract(
    ids: list[int],
    contract_referrals: dict[int, dict[str, int]],
    contract_sessions: dict[int, dict[str, int]],
    outcome_rows: list[dict[str, Any]],
) -> dict[int, dict[str, Any]]:
    """Each contract's own figures of the period, as the dashboard shows them beside it."""
    by_contract = {}
    for contract_id in ids:
        r = contract_referrals.get(contract_id, {})
        s = contract_sessions.get(contract_id, {})
        attended = s.get("period.attended", 0) + s.get("period.late", 0)
        by_contract[contract_id] = {
            "received": r.get("period.received", 0),
            "accepted": r.get("period.accepted", 0),
            "answered_within_sla": percent(r.get("period.answered_in_time", 0), r.get("period.answer_due", 0)),
            "attendance_rate": percent(attended, attended + s.get("period.missed", 0)),
            "verified": sum(row["period.verified"] for row in outcome_rows if row["contract_id"] == contract_id),
        }
    return by_contract


def _verified_by_pathway(outcome_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    verified: Counter[tuple[str, str]] = Counter()
    for row in outcome_rows:
        if row["period.verified"]:
            verified[(row["pathway_label"], row["pathway"])] += row["period.verified"]
    return [{"pathway": key, "label": label, "verified": verified[(label, key)]} for label, key in sorted(verified)]


def count_by_contract(
    contract_ids: Sequence[int],
    period: Period,
    *,
    today: date,
    pathway: str | None = None,
    area: str | None = None,
) -> Counted:
    """What the dashboard's "by contract" part shows, as count_figures counts it: each contract's
    figures of the period, the period's verified outcomes by pathway, and the volumes to date (as
    `figures["volumes"]`). Over the period alone, as count_summary (and for the same reason)."""
    ids = list(contract_ids)
    volumes = count_volumes(ids, period, today=today, pathway=pathway, area=area)
    if not ids:
        return Counted({"volumes": volumes})
    window = period.window
    windows = {"period": window}
    scope = _Scope(ids, window.start, window.end, pathway, area)
    _, contract_referrals = _referral_counts(scope, windows, {}, today, min(period.end, today))
    _, contract_sessions = _session_counts(scope, windows, {})
    outcome_rows = _outcome_counts(scope, windows, {})
    return Counted(
        {"volumes": volumes},
        _by_contract(ids, contract_referrals, contract_sessions, outcome_rows),
        _verified_by_pathway(outcome_rows),
    )


def count_volumes(
    contract_ids: Sequence[int], period: Period, *, today: date, pathway: str | None = None, area: str | None = None
) -> dict[str, Any]:
    """The contracts against what they expected, to the period's end or today (the figures'
    `volumes`, as count_figures gives them, each contract's under `contracts`): from the contracts'
    terms and their counts to date alone (a few queries, a few rows a contract and month), without
    the period's figures, which a page that shows only these need not count."""
    ids = list(contract_ids)
    records = load_terms(ids, period.end, pathway=pathway, area=area, today=today) if ids else kpis.Records()
    return kpis.volume_figures(records, {}, min(period.end, today), {})["summary"]


def count_summary(
    contract_ids: Sequence[int],
    period: Period,
    *,
    today: date,
    contract_start: date | None = None,
    pathway: str | None = None,
    area: str | None = None,
) -> dict[str, Any]:
    """What the dashboard's summary shows, as count_figures counts it: the period's referrals
    received, its headline figures against their targets (kpis.headline_kpis), the referrals
    declined for unmet need (kpis.unmet_need) and the volumes to date. The same queries as
    count_figures, over the period alone: the previous period, the year to date and the charted
    months (a year and more of records: seconds for the whole CRC at national scale) are the other
    parts' to count. Every referral a period's figure counts is among those the period's own scope
    holds (sent by its end; ended inside it, or a clock due inside it); tests compare the two.

    In two parts, which the dashboard remembers apart (portal.figure_cache): the sessions
    (summary_sessions), written all day, and the rest (summary_counts), most of the cost."""
    counts = summary_counts(contract_ids, period, today=today, pathway=pathway, area=area)
    return summary_from(counts, summary_sessions(contract_ids, period, pathway=pathway, area=area))


# The tables each part of the summary reads (tests hold them to it): the filters' tables only when
# there is a filter, so that a session recorded leaves the rest of the summary as it was counted.
FILTER_TABLES = {"pathway": ("referral", "service"), "area": ("referral", "prison", "probation_office")}
SUMMARY_TABLES = (
    "contract",
    "end_of_service_report",
    "expected_starts",
    "grant_instalment",
    "invoice",
    "referral",
    "service",
    "spend_profile",
)


def tables_read(tables: Sequence[str], *, pathway: str | None = None, area: str | None = None) -> tuple[str, ...]:
    """`tables`, with those a pathway or area filter reads too."""
    filters = (FILTER_TABLES["pathway"] if pathway else ()) + (FILTER_TABLES["area"] if area else ())
    return tuple(sorted(set(tables) | set(filters)))


def remembered_summary(
    name: str,
    contract_ids: Sequence[int],
    period: Period,
    *,
    today: date,
    pathway: str | None = None,
    area: str | None = None,
) -> dict[str, Any]:
    """count_summary, remembered until a record it counts changes (portal.figure_cache): the whole
    CRC's summary is a dozen grouped queries over a year of records, the same on every visit. In
    two parts, each under the tables it reads: sessions are recorded all day, and counting them
    again is a seventh of the cost of counting everything."""
    from portal.figure_cache import remembered

    ids = list(contract_ids)
    key = (tuple(ids), period, today, pathway, area)
    counts = remembered(
        name,
        key,
        lambda: summary_counts(ids, period, today=today, pathway=pathway, area=area),
        tables=tables_read(SUMMARY_TABLES, pathway=pathway, area=area),
    )
    sessions = remembered(
        f"{name}.sessions",
        key,
        lambda: summary_sessions(ids, period, pathway=pathway, area=area),
        tables=tables_read(("delivery_session",), pathway=pathway, area=area),
    )
    return summary_from(counts, sessions)


def summary_sessions(
    contract_ids: Sequence[int], period: Period, *, pathway: str | None = None, area: str | None = None
) -> dict[str, int]:
    """The sessions of the period the summary counts (its attendance rate), by attendance: reads
    `delivery_session`, and with a filter the tables tables_read names."""
    ids = list(contract_ids)
    if not ids:
        return {}
    window = period.window
    sessions, _ = _session_counts(_Scope(ids, window.start, window.end, pathway, area), {"period": window}, {})
    return dict(sessions)


def summary_counts(
    contract_ids: Sequence[int], period: Period, *, today: date, pathway: str | None = None, area: str | None = None
) -> dict[str, Any]:
    """Everything the summary counts but the sessions: the period's referrals, their reasons for
    declining, the end-of-service achievements, the volumes to date and the spend against the cap.
    Reads SUMMARY_TABLES, and with a filter the tables tables_read names."""
    ids = list(contract_ids)
    window = period.window
    windows = {"period": window}
    records = load_terms(ids, period.end, pathway=pathway, area=area, today=today) if ids else kpis.Records()
    r: dict[str, int] = {}
    declined: dict[str, dict[str, int]] = {"period": {}}
    achieved: Counter[str] = Counter()
    if ids:
        scope = _Scope(ids, window.start, window.end, pathway, area)
        r, _ = _referral_counts(scope, windows, {}, today, min(period.end, today))
        declined, _ = _reasons(scope, windows, withdrawn=False)
        achieved = _achievements(scope, windows)["period"]
    return {
        "referrals": dict(r),
        "declined": declined["period"],
        "achieved": dict(achieved),
        "volumes": kpis.volume_figures(records, {}, min(period.end, today), {})["summary"],
        "spend_pence": kpis.spend_to(records.invoices, period.end),
        "cap_pence": records.cap_pence,
    }


def summary_from(counts: dict[str, Any], sessions: dict[str, int]) -> dict[str, Any]:
    """The summary the dashboard shows, from its two parts' counts (neither is changed)."""
    r, s, achieved = counts["referrals"], sessions, Counter(counts["achieved"])
    attended = s.get("period.attended", 0) + s.get("period.late", 0)
    assessed = achieved["achieved"] + achieved["partially_achieved"] + achieved["not_achieved"]
    halves = kpis.ACHIEVEMENT_HALVES
    values = {
        "received": r.get("period.received", 0),
        "answered_within_sla": percent(r.get("period.answered_in_time", 0), r.get("period.answer_due", 0)),
        "first_contact_within_sla": percent(r.get("period.contacted_in_time", 0), r.get("period.contact_due", 0)),
        "attendance_rate": percent(attended, attended + s.get("period.missed", 0)),
        "achievement_score": percent(
            halves["achieved"] * achieved["achieved"] + halves["partially_achieved"] * achieved["partially_achieved"],
            halves["achieved"] * assessed,
        ),
    }
    volumes = copy.deepcopy(counts["volumes"])
    headline = kpis.headline_kpis(
        {
            "sections": [{"rows": [{"key": key, "values": {"period": value}} for key, value in values.items()]}],
            "spend": {"percent_of_cap": percent(counts["spend_pence"], counts["cap_pence"])},
            "volumes": volumes,
        }
    )
    unmet = kpis.unmet_need({"declined_by_reason": dict(counts["declined"])})
    return {"received": values["received"], "headline": headline, "unmet_need": unmet, "volumes": volumes}


def count_equality(
    contract_ids: Sequence[int],
    period: Period,
    *,
    today: date,
    contract_start: date | None = None,
    pathway: str | None = None,
    area: str | None = None,
) -> list[dict[str, Any]]:
    """The equality tables of people starting (count_figures' `figures["equality"]`): one grouped
    query over the period, the previous period and the year to date, not the charted months' year
    nor the other figures."""
    ids = list(contract_ids)
    if not ids:
        return count_figures(ids, period, today=today, contract_start=contract_start).figures["equality"]
    windows = kpis._windows(period, contract_start)
    scope = _Scope(ids, min(w.start for w in windows.values()), period.end, pathway, area)
    return kpis.equality_tables(_equality(scope, windows))


@dataclass
class _Scope:
    ids: list[int]
    start: date
    end: date
    pathway: str | None
    area: str | None

    @property
    def first(self) -> Any:
        return start_of_london_day(self.start)

    @property
    def after(self) -> Any:
        return end_of_london_day(self.end)

    def referrals(self, statement: Any, *, pathway: bool = True) -> Any:
        """Narrow a statement over Referral to the counted referrals' contracts, pathway and area."""
        statement = statement.where(Referral.contract_id.in_(self.ids))
        return _referral_filters(statement, self.pathway if pathway else None, self.area)

    def rows(self, statement: Any, table: Any, *, pathway: bool = True) -> Any:
        """Narrow a statement over sessions, outcomes or reports (which carry their referral's
        contract: migration 0033) to the counted contracts by their own `contract_id`, joining the
        referral only when a pathway or area filter asks about it. Joined for its contract alone,
        every referral of the CRC was read for each such query."""
        statement = statement.where(table.contract_id.in_(self.ids))
        pathway_of = self.pathway if pathway else None
        if not (pathway_of or self.area):
            return statement
        # The referral's contract too (the row's copy of it, so no row is lost): without it, the
        # planner found the pathway's referrals in every contract of the CRC (16,000 for one
        # contract's figures at national scale) and then dropped the other contracts' rows.
        joined = statement.join(Referral, Referral.id == table.referral_id).where(Referral.contract_id.in_(self.ids))
        return _referral_filters(joined, pathway_of, self.area)

    def population(self, statement: Any) -> Any:
        """Narrow to the referrals the figures count (load_records' referral rows)."""
        statement = statement.where(*relevant_referrals(self.ids, self.start, self.first, self.after))
        return _referral_filters(statement, self.pathway, self.area)


def _grouped(statement: Any, keys: int, spec: dict[str, Any]) -> list[tuple[tuple[Any, ...], dict[str, int]]]:
    return [(tuple(row[:keys]), _read(row, spec, keys)) for row in db.session.execute(statement)]


def _total(rows: list[tuple[tuple[Any, ...], dict[str, int]]], spec: dict[str, Any]) -> dict[str, int]:
    totals = dict.fromkeys(spec, 0)
    for _key, values in rows:
        for name, value in values.items():
            totals[name] += value
    return totals


def _referral_counts(
    scope: _Scope, windows: dict[str, Window], months: dict[str, Window], today: date, as_of: date
) -> tuple[dict[str, int], dict[int, dict[str, int]]]:
    """The referral, SLA and caseload figures of each window, by contract: one query."""
    r = Referral
    ended = func.coalesce(r.completed_at, r.withdrawn_at)  # an accepted case's end (ReferralRow.ended_on)
    answered = or_(r.accepted_on.is_not(None), r.declined_at.is_not(None))
    answer_counts = or_(
        answered,
        and_(or_(r.withdrawn_at.is_(None), london_date(r.withdrawn_at) > r.accept_due_on), r.accept_due_on < today),
    )
    answered_in_time = or_(
        and_(r.accepted_on.is_not(None), r.accepted_on <= r.accept_due_on),
        and_(r.accepted_on.is_(None), r.declined_at.is_not(None), london_date(r.declined_at) <= r.accept_due_on),
    )
    contact_counts = or_(
        r.first_contact_at.is_not(None),
        and_(or_(ended.is_(None), london_date(ended) > r.first_contact_due_on), r.first_contact_due_on < today),
    )
    contacted_in_time = and_(r.first_contact_at.is_not(None), london_date(r.first_contact_at) <= r.first_contact_due_on)
    spec: dict[str, Any] = {}
    for name, w in windows.items():
        spec |= {
            f"{name}.received": _count(_during(r.sent_at, w)),
            f"{name}.accepted": _count(_on(r.accepted_on, w)),
            f"{name}.answer_due": _count(_on(r.accept_due_on, w), answer_counts),
            f"{name}.answered_in_time": _count(_on(r.accept_due_on, w), answer_counts, answered_in_time),
            f"{name}.contact_due": _count(_on(r.first_contact_due_on, w), contact_counts),
            f"{name}.contacted_in_time": _count(_on(r.first_contact_due_on, w), contact_counts, contacted_in_time),
            f"{name}.caseload_start": _count(
                r.accepted_on < w.start, or_(ended.is_(None), ended >= start_of_london_day(w.start))
            ),
            f"{name}.caseload_end": _count(
                r.accepted_on <= w.end, or_(ended.is_(None), ended >= end_of_london_day(w.end))
            ),
            f"{name}.starts": _count(_during(r.first_contact_at, w)),
            f"{name}.completions": _count(_during(r.completed_at, w)),
            f"{name}.early_endings": _count(_during(r.withdrawn_at, w), r.accepted_on.is_not(None)),
        }
        cut = Window(w.start, min(w.end, as_of))
        counted = cut.end >= cut.start
        spec |= {
            f"v_{name}.started": _count(_during(r.first_contact_at, cut)) if counted else literal_column("0"),
            f"v_{name}.received": _count(_during(r.sent_at, cut)) if counted else literal_column("0"),
        }
    for name, w in months.items():
        spec |= {f"{name}.received": _count(_during(r.sent_at, w)), f"{name}.accepted": _count(_on(r.accepted_on, w))}
    statement = scope.population(select(r.contract_id, *_columns(spec)).group_by(r.contract_id))
    rows = _grouped(statement, 1, spec)
    return _total(rows, spec), {key[0]: values for key, values in rows}


def _reasons(
    scope: _Scope, windows: dict[str, Window], *, withdrawn: bool = True
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """Referrals declined and withdrawn (unless not asked for) in each window, by reason: a grouped
    query each."""
    r = Referral
    results: list[dict[str, dict[str, int]]] = []
    moments = ((r.declined_at, r.decline_reason), (r.withdrawn_at, r.withdraw_reason))
    for moment, reason in moments if withdrawn else moments[:1]:
        spec = {name: _count(_during(moment, w)) for name, w in windows.items()}
        statement = scope.population(select(reason, *_columns(spec)).where(moment.is_not(None)).group_by(reason))
        by_window: dict[str, dict[str, int]] = {name: {} for name in windows}
        for (code,), values in _grouped(statement, 1, spec):
            key = code.value if code else "other"
            for name, value in values.items():
                if value:
                    by_window[name][key] = by_window[name].get(key, 0) + value
        results.append(by_window)
    return results[0], results[1] if withdrawn else {}


def _medians(scope: _Scope, windows: dict[str, Window]) -> tuple[dict[str, Counter[int]], dict[str, Counter[int]]]:
    """Working days from sent to accepted and from accepted to first contact, as counts of each pair
    of days (a few hundred pairs, whatever the referrals): working days come from the bank holiday
    calendar, so Python counts them, once a pair."""
    r = Referral
    sent_on, contacted_on = london_date(r.sent_at), london_date(r.first_contact_at)
    results = []
    for low, high, happened, in_range in (
        (
            sent_on,
            r.accepted_on,
            lambda w: _on(r.accepted_on, w),
            _on(r.accepted_on, Window(scope.start, scope.end)),
        ),
        (
            r.accepted_on,
            contacted_on,
            lambda w: _during(r.first_contact_at, w),
            and_(r.accepted_on.is_not(None), _during(r.first_contact_at, Window(scope.start, scope.end))),
        ),
    ):
        spec = {name: _count(happened(w)) for name, w in windows.items()}
        statement = scope.population(select(low, high, *_columns(spec)).where(in_range).group_by(low, high))
        by_window: dict[str, Counter[int]] = {name: Counter() for name in windows}
        for (first, last), values in _grouped(statement, 2, spec):
            days = kpis.working_days_between(first, last)
            for name, value in values.items():
                if value:
                    by_window[name][days] += value
        results.append(by_window)
    return results[0], results[1]


def _median_text(counts: Counter[int]) -> str | None:
    """kpis.median of the values counted, without listing them."""
    total = sum(counts.values())
    if not total:
        return None
    ordered = sorted(counts.items())

    def nth(index: int) -> int:
        seen = 0
        for value, count in ordered:
            seen += count
            if index < seen:
                return value
        raise IndexError(index)

    middle = total // 2
    if total % 2:
        return str(kpis.median([nth(middle)]))
    return str(kpis.median([nth(middle - 1), nth(middle)]))


def _rar_against_ordered(scope: _Scope, windows: dict[str, Window]) -> dict[str, int]:
    """RAR days delivered (at most those ordered) and ordered, of cases that ended in each window."""
    r, s = Referral, Session
    ended = func.coalesce(r.completed_at, r.withdrawn_at)
    delivered = (  # RAR days are calendar days: two RAR sessions on one day are one day
        select(func.count(func.distinct(s.date)))
        .where(
            s.referral_id == r.id,
            s.attendance.in_(ATTENDED),
            s.counts_as_rar_day.is_(True),
            s.date <= scope.end,
        )
        .scalar_subquery()
    )
    # MATERIALIZED (PostgreSQL 12+, SQLite 3.35+): each case's days are counted once. Inlined, the
    # subquery was run again for every window's sum that names it (six times over at the CRC's scale).
    cases = (
        scope.population(
            select(r.rar_days.label("ordered"), ended.label("ended"), delivered.label("delivered")).where(
                r.accepted_on.is_not(None), r.rar_days > 0, ended >= scope.first, ended < scope.after
            )
        )
        .cte("rar_cases")
        .prefix_with("MATERIALIZED")
    )
    capped = case((cases.c.delivered < cases.c.ordered, cases.c.delivered), else_=cases.c.ordered)
    spec: dict[str, Any] = {}
    for name, w in windows.items():
        spec |= {
            f"{name}.delivered": _sum(capped, _during(cases.c.ended, w)),
            f"{name}.ordered": _sum(cases.c.ordered, _during(cases.c.ended, w)),
        }
    row = db.session.execute(select(*_columns(spec))).one()
    return _read(row, spec, 0)


class _Spans:
    """The day ranges every window is made of: the windows' starts and ends cut the days into spans,
    and each window is some of them. A row of a big table (sessions) is put in its span by one
    CASE and counted once, and the windows add up their spans: far cheaper than a conditional count
    per window and figure over every row."""

    def __init__(self, windows: dict[str, Window]) -> None:
        cuts = {w.start for w in windows.values()} | {w.end + timedelta(days=1) for w in windows.values()}
        self.cuts = sorted(cuts)
        # Span i holds the days from cuts[i - 1] up to the day before cuts[i] (span 0: before them all).
        self.windows_of = {
            span: [
                name
                for name, w in windows.items()
                if w.start <= self.cuts[span - 1] and self.cuts[span] <= w.end + timedelta(days=1)
            ]
            for span in range(1, len(self.cuts))
        }

    def of(self, day: Any) -> Any:
        # Literal days, not parameters, as in _equality: the expression is grouped by.
        return case(
            *[
                (day < literal_column(f"'{cut.isoformat()}'"), literal_column(str(span)))
                for span, cut in enumerate(self.cuts)
            ],
            else_=literal_column(str(len(self.cuts))),
        )


def _session_counts(
    scope: _Scope, windows: dict[str, Window], months: dict[str, Window]
) -> tuple[dict[str, int], dict[int, dict[str, int]]]:
    """Sessions of each window by attendance, by contract: one query, grouped by span of days."""
    s = Session
    spans = _Spans(windows | months)
    span = spans.of(s.date)
    statement = scope.rows(
        select(
            s.contract_id,
            span,
            s.attendance,
            s.non_attendance_reason,
            func.count(),
            func.coalesce(func.sum(s.duration_minutes), 0),
        )
        .where(s.date >= scope.start, s.date <= scope.end)
        .group_by(s.contract_id, span, s.attendance, s.non_attendance_reason),
        s,
    )
    totals: Counter[str] = Counter()
    by_contract: dict[int, Counter[str]] = defaultdict(Counter)
    for contract_id, span_of, attendance, reason, sessions, minutes in db.session.execute(statement):
        kinds = ["scheduled"]
        if attendance == Attendance.ATTENDED:
            kinds.append("attended")
        elif attendance == Attendance.LATE:
            kinds.append("late")
        elif attendance == Attendance.SESSION_DID_NOT_HAPPEN:
            kinds.append("did_not_happen")
        elif attendance is None:
            kinds.append("awaiting_feedback")
        elif attendance == Attendance.DID_NOT_ATTEND:
            kinds.append("missed")
            if reason == NonAttendanceReason.ACCEPTABLE:
                kinds.append("missed_acceptable")
            elif reason == NonAttendanceReason.LOGISTICS:
                kinds.append("missed_logistics")
            else:
                kinds.append("missed_unacceptable")
        for name in spans.windows_of.get(int(span_of), []):
            for kind in kinds:
                totals[f"{name}.{kind}"] += sessions
                by_contract[contract_id][f"{name}.{kind}"] += sessions
            if attendance in ATTENDED:
                totals[f"{name}.minutes"] += int(minutes)
    return totals, by_contract


def _rar_days(scope: _Scope, windows: dict[str, Window]) -> dict[str, int]:
    """RAR days delivered in each window: each referral's days with an attended RAR session, once a day."""
    s = Session
    spans = _Spans(windows)
    days = (
        scope.rows(
            select(s.referral_id, s.date).where(
                s.date >= scope.start,
                s.date <= scope.end,
                s.attendance.in_(ATTENDED),
                s.counts_as_rar_day.is_(True),
            ),
            s,
        )
        .distinct()
        .subquery()
    )
    span = spans.of(days.c.date)
    totals: Counter[str] = Counter()
    for span_of, count in db.session.execute(select(span, func.count()).group_by(span)):
        for name in spans.windows_of.get(int(span_of), []):
            totals[name] += count
    return {name: totals[name] for name in windows}


def _outcome_counts(scope: _Scope, windows: dict[str, Window], months: dict[str, Window]) -> list[dict[str, Any]]:
    """Outcomes claimed, verified and rejected in each window, by contract and outcome type: one query."""
    from portal.contracts.models import OutcomeType

    o, t = Outcome, OutcomeType
    verified = o.status == OutcomeStatus.VERIFIED
    rejected = o.status == OutcomeStatus.REJECTED
    spec: dict[str, Any] = {}
    for name, w in list(windows.items()) + list(months.items()):
        spec[f"{name}.claimed"] = _count(_during(o.claimed_at, w))
        spec[f"{name}.verified"] = _count(verified, _during(o.verified_at, w))
        if name in windows:
            spec[f"{name}.rejected"] = _count(rejected, _during(o.rejected_at, w))

    def within(column: Any) -> Any:
        return and_(column >= scope.first, column < scope.after)

    statement = (
        select(o.contract_id, t.code, t.name, t.pathway, *_columns(spec))
        .join(t, t.id == o.outcome_type_id)
        .where(or_(within(o.claimed_at), within(o.verified_at), within(o.rejected_at)))
        .group_by(o.contract_id, t.code, t.name, t.pathway)
    )
    if scope.pathway:
        statement = statement.where(t.pathway == Pathway(scope.pathway))
    rows = []
    grouped = _grouped(scope.rows(statement, o, pathway=False), 4, spec)
    for (contract_id, code, outcome_name, outcome_pathway), values in grouped:
        rows.append(
            {
                "contract_id": contract_id,
                "outcome_type": code,
                "label": outcome_name,
                "pathway": outcome_pathway.value,
                "pathway_label": outcome_pathway.label,
                **values,
            }
        )
    return rows


def _by_type(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """kpis.outcomes_by_type: a row per outcome type with any claim or decision in the period."""
    kinds: dict[tuple[str, str], dict[str, Any]] = {}
    for row in sorted(rows, key=lambda row: row["outcome_type"]):
        if not (row["period.claimed"] or row["period.verified"] or row["period.rejected"]):
            continue
        kind = kinds.setdefault(
            (row["pathway_label"], row["label"]),
            {
                "pathway": row["pathway"],
                "pathway_label": row["pathway_label"],
                "outcome_type": row["outcome_type"],
                "label": row["label"],
                "claimed": 0,
                "verified": 0,
                "rejected": 0,
            },
        )
        for key in ("claimed", "verified", "rejected"):
            kind[key] += row[f"period.{key}"]
    return [kinds[key] for key in sorted(kinds)]


def _achievements(scope: _Scope, windows: dict[str, Window]) -> dict[str, Counter[str]]:
    """Desired outcomes assessed in the end-of-service reports of each window, by achievement: the
    reports' JSON lists are unnested in SQL (json_array_elements, or SQLite's json_each)."""
    e = EndOfServiceReport
    if db.session.get_bind().dialect.name == "postgresql":
        items = func.json_array_elements(e.outcomes).table_valued("value")
        achievement = items.c.value.op("->>")(literal_column("'achievement'"))
    else:
        items = func.json_each(e.outcomes).table_valued("value")
        achievement = func.json_extract(items.c.value, literal_column("'$.achievement'"))
    spec = {name: _count(_during(e.submitted_at, w)) for name, w in windows.items()}
    statement = scope.rows(
        select(achievement, *_columns(spec))
        .select_from(e)
        .join(items, true())
        .where(e.submitted_at >= scope.first, e.submitted_at < scope.after)
        .group_by(achievement),
        e,
    )
    by_window: dict[str, Counter[str]] = {name: Counter() for name in windows}
    for (kind,), values in _grouped(statement, 1, spec):
        for name, value in values.items():
            by_window[name][str(kind)] += value
    return by_window


def safeguarding_clock(contract_ids: Sequence[int]) -> datetime | None:
    """When the figures of these contracts next change with no record changing: the earliest
    deadline, now or ahead, of a concern not yet acknowledged (once it passes, the concern counts as
    decided, and late: _safeguarding). Everything else they count changes only with the records or
    the day, so figures remembered under the same stamp, day and clock are the figures counted
    afresh (portal.figure_cache). Every contract's concerns, whatever the filters: a deadline
    outside them only makes the figures be counted again sooner."""
    from portal.db import utcnow
    from portal.safeguarding.models import SafeguardingConcern

    c = SafeguardingConcern
    return db.session.scalar(
        select(func.min(c.acknowledge_due_at)).where(
            c.contract_id.in_(list(contract_ids)), c.acknowledged_at.is_(None), c.acknowledge_due_at >= utcnow()
        )
    )


def _safeguarding(scope: _Scope, windows: dict[str, Window]) -> dict[str, dict[str, Any]]:
    from portal.db import utcnow
    from portal.safeguarding.models import SafeguardingConcern, Urgency

    c = SafeguardingConcern
    now = utcnow()
    decided = or_(c.acknowledged_at.is_not(None), c.acknowledge_due_at < now)
    in_time = and_(c.acknowledged_at.is_not(None), c.acknowledged_at <= c.acknowledge_due_at)
    spec: dict[str, Any] = {}
    for name, w in windows.items():
        inside = _during(c.raised_at, w)
        spec |= {
            f"{name}.raised": _count(inside),
            f"{name}.urgent": _count(inside, c.urgency == Urgency.URGENT),
            f"{name}.decided": _count(inside, decided),
            f"{name}.in_time": _count(inside, in_time),
            f"{name}.escalated": _count(inside, c.escalated_at.is_not(None)),
            f"{name}.rosh_high": _count(inside, c.rosh_high.is_(True)),
        }
    statement = scope.referrals(
        select(*_columns(spec))
        .select_from(c)
        .join(Referral, Referral.id == c.referral_id)
        .where(c.raised_at >= scope.first, c.raised_at < scope.after)
    )
    n = _read(db.session.execute(statement).one(), spec, 0)
    return {
        name: {
            "concerns_raised": n[f"{name}.raised"],
            "concerns_urgent": n[f"{name}.urgent"],
            "concerns_acknowledged_in_time": percent(n[f"{name}.in_time"], n[f"{name}.decided"]),
            "concerns_escalated": n[f"{name}.escalated"],
            "concerns_rosh_high": n[f"{name}.rosh_high"],
        }
        for name in windows
    }


def _releases(scope: _Scope, windows: dict[str, Window]) -> dict[str, dict[str, Any]]:
    from portal.ttg.models import SETTLED, FirstNight, ReleaseRecord

    r = ReleaseRecord
    shares = ("met_at_gate", "id_held", "bank_account", "benefit_claim", "gp_registered")
    spec: dict[str, Any] = {}
    for name, w in windows.items():
        inside = _on(r.released_on, w)
        spec |= {
            f"{name}.released": _count(inside),
            f"{name}.settled": _count(inside, r.first_night.in_(list(SETTLED))),
            f"{name}.nfa": _count(inside, r.first_night == FirstNight.NO_FIXED_ABODE),
            **{f"{name}.{key}": _count(inside, getattr(r, key).is_(True)) for key in shares},
        }
    statement = scope.referrals(
        select(*_columns(spec))
        .select_from(r)
        .join(Referral, Referral.id == r.referral_id)
        .where(r.released_on >= scope.start, r.released_on <= scope.end)
    )
    n = _read(db.session.execute(statement).one(), spec, 0)
    return {
        name: {
            "released": n[f"{name}.released"],
            "released_settled": percent(n[f"{name}.settled"], n[f"{name}.released"]),
            "released_nfa": n[f"{name}.nfa"],
            **{f"released_{key}": percent(n[f"{name}.{key}"], n[f"{name}.released"]) for key in shares},
        }
        for name in windows
    }


def _activities(scope: _Scope, windows: dict[str, Window], *, always: bool = False) -> dict[str, dict[str, Any]] | None:
    """Grant-funded activity of each window; None if there was none in the range (and `always` is not set)."""
    a = GrantActivity
    spec: dict[str, Any] = {"any": func.count()}
    for name, w in windows.items():
        inside = _on(a.day, w)
        spec |= {
            f"{name}.drop_ins": _count(inside, a.kind == ActivityKind.DROP_IN),
            f"{name}.groups": _count(inside, a.kind == ActivityKind.GROUP_WORK),
            f"{name}.attendances": _sum(a.attendees, inside),
            f"{name}.minutes": _sum(a.duration_minutes, inside),
        }
    statement = select(*_columns(spec)).where(a.contract_id.in_(scope.ids), a.day >= scope.start, a.day <= scope.end)
    n = _read(db.session.execute(statement).one(), spec, 0)
    if not n["any"] and not always:
        return None
    return {
        name: {
            "drop_ins": n[f"{name}.drop_ins"],
            "groups": n[f"{name}.groups"],
            "attendances": n[f"{name}.attendances"],
            "hours": kpis.hours(n[f"{name}.minutes"]),
        }
        for name in windows
    }


def _locations(scope: _Scope, windows: dict[str, Window]) -> dict[str, dict[str, Any]]:
    """Referrals received in each window from custody and the community, by prison and office."""
    r = Referral
    prison, office = aliased(Prison), aliased(ProbationOffice)
    prison_name = func.coalesce(prison.name, r.prison)
    office_name = func.coalesce(office.name, r.community_office)
    spec = {name: _count(_during(r.sent_at, w)) for name, w in windows.items()}
    statement = scope.population(
        select(r.location_type, prison_name, office_name, *_columns(spec))
        .select_from(r)
        .outerjoin(prison, prison.id == r.prison_id)
        .outerjoin(office, office.id == r.probation_office_id)
        .group_by(r.location_type, prison_name, office_name)
    )
    result: dict[str, dict[str, Any]] = {
        name: {"custody": 0, "community": 0, "prisons": Counter(), "offices": Counter()} for name in windows
    }
    for (location, prison_of, office_of), values in _grouped(statement, 3, spec):
        kind = location.value if location else None
        for name, value in values.items():
            if not value or kind not in ("custody", "community"):
                continue
            result[name][kind] += value
            if kind == "custody":
                result[name]["prisons"][prison_of or "Prison not recorded"] += value
            else:
                result[name]["offices"][office_of or "Office not recorded"] += value
    return result


def _equality(scope: _Scope, windows: dict[str, Window]) -> dict[str, dict[str, dict[str, int]]]:
    """People starting in each window by gender, ethnic group, age band on starting and disability."""
    r, p = Referral, Person
    started_on = london_date(r.first_contact_at)
    born = p.date_of_birth

    def sql(value: int | str) -> Any:
        # Literals, not parameters: PostgreSQL groups by this expression only if it is written the
        # same way in the select list and the GROUP BY, which numbered parameters are not.
        return literal_column(str(value) if isinstance(value, int) else f"'{value}'")

    def month_day(day: Any) -> Any:
        return day_part("month", day) * sql(100) + day_part("day", day)

    age = (
        day_part("year", started_on)
        - day_part("year", born)
        - case((month_day(started_on) < month_day(born), sql(1)), else_=sql(0))
    )
    # Each person's age on starting worked out once, in a MATERIALIZED CTE (PostgreSQL 12+, SQLite
    # 3.35+): grouped by its band directly, the London day was converted again in every band's test
    # (some fifty time-zone conversions a row: 390 ms for the CRC's year of 29,000 people starting).
    starters = (
        scope.population(
            select(
                p.gender.label("gender"),
                p.ethnicity.label("ethnicity"),
                p.disability.label("disability"),
                born.label("born"),
                age.label("age"),
                r.first_contact_at.label("started_at"),
            )
            .select_from(r)
            .outerjoin(p, p.id == r.person_id)
            .where(r.first_contact_at >= scope.first, r.first_contact_at < scope.after)
        )
        .cte("starters")
        .prefix_with("MATERIALIZED")
    )
    band = case(
        (starters.c.born.is_(None), sql("not_stated")),
        *[
            (and_(starters.c.age >= sql(low), starters.c.age <= sql(high)), sql(key))
            for key, _label, low, high in AGE_BANDS[1:]
        ],
        else_=sql(AGE_BANDS[0][0]),
    )
    spec = {name: _count(_during(starters.c.started_at, w)) for name, w in windows.items()}
    statement = select(starters.c.gender, starters.c.ethnicity, band, starters.c.disability, *_columns(spec)).group_by(
        starters.c.gender, starters.c.ethnicity, band, starters.c.disability
    )
    counts: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for (gender, ethnicity, age_band, disability), values in _grouped(statement, 4, spec):
        for name, value in values.items():
            counts[name]["gender"][gender.value if gender else "not_stated"] += value
            counts[name]["ethnicity"][ETHNICITY_GROUPS.get(ethnicity or "not_stated", "Not stated")] += value
            counts[name]["age"][age_band] += value
            counts[name]["disability"][disability.value if disability else "not_stated"] += value
    return {
        name: {
            "gender": {key: counts[name]["gender"][key] for key, _ in GENDERS},
            "ethnicity": {group: counts[name]["ethnicity"][group] for group in ETHNIC_GROUPS},
            "age": {key: counts[name]["age"][key] for key, *_ in AGE_BANDS},
            "disability": {key: counts[name]["disability"][key] for key, _ in DISABILITIES},
        }
        for name in windows
    }
