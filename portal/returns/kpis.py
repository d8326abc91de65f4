"""The figures of a service return and of the dashboards: their definitions, as Python over plain
rows. This is the reference: the pages and returns count the same figures in SQL (portal.figures),
and tests/test_figures_match_records.py holds the two equal on random histories. Both are laid out
by `assemble_figures`.

Two halves:
- `load_records` reads, for some contracts and a range of days, the plain rows the figures
  need, in a fixed number of queries whatever the data size: a row per relevant referral
  (with its person's equality data and its RAR days delivered, aggregated in SQL), sessions
  already counted in SQL per (contract, day, attendance, reason, RAR day), outcome decisions,
  end-of-service reports and invoices.
- `compute_figures` and the functions below it are pure: plain rows in, a JSON-ready dict out.
  No Flask, no session, no floats; tested with worked examples and Hypothesis.

Definitions (also shown under the figures):
- A referral is received on the London day it was sent; accepted, declined, withdrawn and
  completed on the London day that happened; it starts on its first contact (first attended
  session).
- Answered within SLA: of the referrals whose answer fell due in the period, the share accepted
  or declined on or before the due date. A referral withdrawn before it was answered and before
  its due date, or one not yet due, is left out. First contact within SLA likewise, by the
  first-contact due date.
- Caseload: referrals accepted and not yet completed or withdrawn.
- Attendance rate: attended (on time or late) out of attended plus did not attend; sessions that
  did not happen, or are still waiting for feedback, are left out.
- RAR days against ordered: for cases that ended in the period, RAR days delivered (at most the
  days ordered) out of the days ordered.
- End-of-service score: each desired outcome achieved counts 1, partially achieved 0.5.
- Equality monitoring is of people starting. Counts from 1 to 4 are shown as "fewer than 5"; if
  that hides only one count in a table, the next smallest count is shown as "hidden" too, so no
  hidden count can be worked out from the total (a total under 5 is hidden as well). That second
  count is never labelled "fewer than 5": it is not, and a reader would add it up wrongly.
- Money is before VAT (as the contract cap is): invoiced on submission, approved on approval,
  paid on the day paid; credit notes count against the cap once approved. A grant payment (an
  instalment of a grant's schedule, raised) counts as an invoice does.
- Grant-funded activity: drop-ins and group work recorded without a referral, counted by the day
  held; attendances are the people who came, added up.
- Against the contract: figures to date run from the contract's start to the end of the period
  (or today, if sooner). Expected starts are the contract's, by month and service; expected spend
  is its spend profile, or without one the value cap spread evenly over its months. A forecast to
  the contract's end is a straight line: what was done to date, per month so far, times the
  contract's months. The CRC under-refers when referrals received to date are fewer than 80% of
  the starts expected to date; the partner under-delivers when starts to date are fewer than 80% of
  what it could have started (the referrals it accepted, or the starts expected if fewer).
- Unmet need: referrals declined for no capacity, or because the service is not offered in the
  person's area.
- Prompt payment, of invoices paid in the period: paid late (after the due date, which moves on
  by the days an invoice was held in query), the share paid within the contract's terms and within
  30 days, and the average days to pay (received to paid, less days held): portal.invoicing.payment_terms.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from operator import itemgetter
from typing import Any

from portal.dates import Period, PeriodKind, Window, month_label
from portal.formatting import format_date
from portal.invoicing.models import counts_toward_cap, counts_toward_cap_from
from portal.invoicing.payment_terms import PROMPT_PAYMENT_DAYS, paid_figures
from portal.returns import targets

SCHEMA_VERSION = 1
SUPPRESSED = "fewer than 5"
HIDDEN = "hidden"  # a count of 5 or more, hidden so that a small one cannot be worked out
SMALL_NUMBER = 5
COLUMNS = ("period", "previous", "ytd")

GENDERS = (("male", "Male"), ("female", "Female"), ("other", "Other"), ("not_stated", "Not stated"))
DISABILITIES = (("yes", "Disabled"), ("no", "Not disabled"), ("not_stated", "Not stated"))
ETHNIC_GROUPS = ("Asian", "Black", "Mixed", "White", "Other", "Not stated")
AGE_BANDS = (
    ("18-24", "18 to 24", 0, 24),
    ("25-34", "25 to 34", 25, 34),
    ("35-44", "35 to 44", 35, 44),
    ("45-54", "45 to 54", 45, 54),
    ("55-64", "55 to 64", 55, 64),
    ("65+", "65 and over", 65, 200),
)
ATTENDED = ("attended", "late")


# --- the plain rows ----------------------------------------------------------------------------------


@dataclass(slots=True)
class ReferralRow:
    id: int
    contract_id: int
    sent_on: date | None
    accept_due_on: date | None = None
    accepted_on: date | None = None
    declined_on: date | None = None
    decline_reason: str | None = None
    withdrawn_on: date | None = None
    withdraw_reason: str | None = None
    first_contact_due_on: date | None = None
    first_contact_on: date | None = None
    completed_on: date | None = None
    location_type: str | None = None
    prison: str | None = None
    community_office: str | None = None
    gender: str = "not_stated"
    ethnicity_group: str = "Not stated"
    date_of_birth: date | None = None
    disability: str = "not_stated"
    rar_days: int = 0
    rar_days_delivered: int = 0

    @property
    def answered_on(self) -> date | None:
        return self.accepted_on or self.declined_on

    @property
    def ended_on(self) -> date | None:
        """The day an accepted case ended (completed, or withdrawn after acceptance)."""
        if self.accepted_on is None:
            return None
        return self.completed_on or self.withdrawn_on


@dataclass(slots=True)
class SessionCount:
    """Sessions of one contract on one day with one attendance: counted in SQL."""

    contract_id: int
    day: date
    attendance: str | None
    non_attendance_reason: str | None = None
    counts_as_rar_day: bool = False
    sessions: int = 1
    minutes: int = 60
    # RAR days delivered that day: referrals with an attended RAR session, each once however many
    # sessions it had (records.py gives them rows of their own, of no sessions).
    rar_days: int = 0


@dataclass(slots=True)
class OutcomeRow:
    contract_id: int
    outcome_type: str
    outcome_name: str
    pathway: str
    pathway_label: str
    claimed_on: date
    verified_on: date | None = None
    rejected_on: date | None = None


@dataclass(slots=True)
class EndOfServiceRow:
    contract_id: int
    submitted_on: date
    achievements: tuple[str, ...]


@dataclass(slots=True)
class InvoiceRow:
    contract_id: int
    kind: str  # invoice, credit_note
    status: str
    subtotal_pence: int
    submitted_on: date | None = None
    approved_on: date | None = None
    paid_on: date | None = None
    days_to_pay: int | None = None  # once paid (portal.invoicing.payment_terms)
    paid_late: bool | None = None


@dataclass(slots=True)
class ConcernRow:
    """A safeguarding concern raised on one of the contract's referrals (portal/safeguarding)."""

    contract_id: int
    raised_on: date
    urgent: bool = False
    # True or False once acknowledged or past its deadline; None while it may yet be acknowledged in time.
    acknowledged_in_time: bool | None = None
    escalated: bool = False
    rosh_high: bool = False


@dataclass(slots=True)
class ReleaseRow:
    """A release from custody recorded on one of the contract's referrals (Through the Gate)."""

    contract_id: int
    released_on: date
    first_night: str  # portal.ttg.models.FirstNight
    settled: bool = False
    id_held: bool = False
    bank_account: bool = False
    benefit_claim: bool = False
    gp_registered: bool = False
    met_at_gate: bool = False


@dataclass(slots=True)
class ActivityCount:
    """Grant-funded activity of one contract on one day, of one kind: counted in SQL."""

    contract_id: int
    day: date
    kind: str  # drop_in, group_work
    held: int = 1
    attendees: int = 0
    minutes: int = 60


@dataclass(slots=True)
class ContractTerms:
    contract_id: int
    start: date
    end: date
    cap_pence: int
    grant: bool = False
    reference: str = ""


@dataclass(slots=True)
class MonthlyExpectation:
    """Expected starts (or spend, in pence) of one contract in one month."""

    contract_id: int
    month: date
    amount: int


@dataclass(slots=True)
class ToDate:
    """A contract's referrals counted in SQL from its start to the day figures are taken to."""

    contract_id: int
    received: int = 0
    accepted: int = 0
    started: int = 0
    accepted_not_started: int = 0  # accepted, first contact overdue, and not ended


@dataclass
class Records:
    referrals: list[ReferralRow] = field(default_factory=list)
    sessions: list[SessionCount] = field(default_factory=list)
    outcomes: list[OutcomeRow] = field(default_factory=list)
    end_of_service: list[EndOfServiceRow] = field(default_factory=list)
    invoices: list[InvoiceRow] = field(default_factory=list)
    cap_pence: int = 0
    concerns: list[ConcernRow] = field(default_factory=list)
    releases: list[ReleaseRow] = field(default_factory=list)
    activities: list[ActivityCount] = field(default_factory=list)
    contracts: list[ContractTerms] = field(default_factory=list)
    expected_starts: list[MonthlyExpectation] = field(default_factory=list)
    spend_profile: list[MonthlyExpectation] = field(default_factory=list)
    to_date: list[ToDate] = field(default_factory=list)


@dataclass(frozen=True)
class Labels:
    """What codes are called: decline and withdrawal reasons."""

    decline_reasons: dict[str, str] = field(default_factory=dict)
    withdraw_reasons: dict[str, str] = field(default_factory=dict)


class DateIndex:
    """The rows of a list sorted by one of their dates, to count or take those in a window by
    bisection: every figure asks about several windows and twelve months, over thousands of rows."""

    def __init__(self, rows: Iterable[Any], attribute: str) -> None:
        # A stable sort on the day alone keeps rows of the same day in their loaded order.
        dated = [(day, row) for row in rows if (day := getattr(row, attribute)) is not None]
        dated.sort(key=itemgetter(0))
        self.days = [day for day, _ in dated]
        self.rows = [row for _, row in dated]

    def _bounds(self, window: Window) -> tuple[int, int]:
        if window.start > window.end:
            return 0, 0  # an empty window (a year to date before the contract began): nothing, not minus something
        return bisect_left(self.days, window.start), bisect_right(self.days, window.end)

    def count(self, window: Window) -> int:
        low, high = self._bounds(window)
        return high - low

    def within(self, window: Window) -> list[Any]:
        low, high = self._bounds(window)
        return self.rows[low:high]


class Rows(list):  # type: ignore[type-arg]
    """A list of rows that keeps its DateIndexes, so each is built once however many figures ask."""

    def __init__(self, rows: Iterable[Any] = ()) -> None:
        super().__init__(rows)
        self.indexes: dict[str, DateIndex] = {}


def indexed(rows: list[Any], attribute: str) -> DateIndex:
    """The DateIndex of `rows` by `attribute`: kept on a Rows list, built afresh for a plain list."""
    if not isinstance(rows, Rows):
        return DateIndex(rows, attribute)
    index = rows.indexes.get(attribute)
    if index is None:
        index = rows.indexes[attribute] = DateIndex(rows, attribute)
    return index


# --- small pure helpers ---------------------------------------------------------------------------


def percent(numerator: int, denominator: int) -> dict[str, int]:
    return {"n": numerator, "d": denominator}


def percent_value(value: dict[str, int] | None) -> Decimal | None:
    """n/d as a percentage to one decimal place (half up); None when there is nothing to divide."""
    if not value or not value.get("d"):
        return None
    return (Decimal(value["n"]) * 100 / Decimal(value["d"])).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def percent_text(value: dict[str, int] | None) -> str:
    shown = percent_value(value)
    return "no data" if shown is None else f"{shown}%"


def median(values: Sequence[int]) -> Decimal | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return Decimal(ordered[middle])
    return (Decimal(ordered[middle - 1] + ordered[middle]) / 2).quantize(Decimal("0.1"))


def hours_of(minutes: int) -> Decimal:
    """Hours delivered, as every page and report shows them: minutes as hours to one decimal place,
    rounded half up (95 -> 1.6). (Invoices count hours to two places, by the billing rules.)"""
    return (Decimal(minutes) / 60).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def hours(minutes: int) -> str:
    return str(hours_of(minutes))


# The end-of-service score: each desired outcome achieved counts 1, partially achieved 0.5, in
# halves so sums and percentages stay exact.
ACHIEVEMENT_HALVES = {"achieved": 2, "partially_achieved": 1, "not_achieved": 0}


def end_of_service_score(achievements: Iterable[str]) -> Decimal:
    """One report's score: 2 achieved and 1 partially achieved -> 2.5."""
    return Decimal(sum(ACHIEVEMENT_HALVES.get(achievement, 0) for achievement in achievements)) / 2


def age_on(date_of_birth: date, day: date) -> int:
    years = day.year - date_of_birth.year
    if (day.month, day.day) < (date_of_birth.month, date_of_birth.day):
        years -= 1
    return years


def age_band(date_of_birth: date | None, day: date) -> str:
    if date_of_birth is None:
        return "not_stated"
    age = age_on(date_of_birth, day)
    for key, _label, low, high in AGE_BANDS:
        if low <= age <= high:
            return key
    return AGE_BANDS[0][0]


def suppress(counts: dict[str, int]) -> tuple[dict[str, int | None], bool]:
    """Hide small numbers: (shown counts with None for hidden ones, whether the total is hidden).

    Counts from 1 to 4 are hidden. If that hides exactly one count, the smallest other non-zero
    count is hidden too, so the hidden one cannot be found by subtracting the others from the
    total; if there is no other, the total is hidden (it would give the hidden count away).
    """
    shown: dict[str, int | None] = {key: (None if 0 < value < SMALL_NUMBER else value) for key, value in counts.items()}
    total = sum(counts.values())
    hidden = [key for key, value in shown.items() if value is None]
    total_hidden = 0 < total < SMALL_NUMBER
    if len(hidden) == 1:
        others = [(value, key) for key, value in counts.items() if key not in hidden and value > 0]
        if others:
            shown[min(others)[1]] = None
        else:
            total_hidden = True
    return shown, total_hidden


# --- the figures ---------------------------------------------------------------------------------------


def _windows(period: Period, contract_start: date | None) -> dict[str, Window]:
    return {
        "period": period.window,
        "previous": period.previous().window,
        "ytd": period.year_to_date(contract_start),
    }


def _row(key: str, label: str, kind: str, values: dict[str, Any], *, indent: bool = False) -> dict[str, Any]:
    return {"key": key, "label": label, "kind": kind, "values": values, "indent": indent}


def _count(rows: Iterable[Any], day: Callable[[Any], date | None], window: Window) -> int:
    return sum(1 for row in rows if day(row) in window)


def referral_figures(referrals: list[ReferralRow], window: Window, today: date) -> dict[str, Any]:
    """The referral, SLA and caseload figures for one window."""

    def inside(attribute: str) -> list[ReferralRow]:
        return indexed(referrals, attribute).within(window)

    answer_due = [r for r in inside("accept_due_on") if _answer_counts(r, today)]
    contact_due = [r for r in inside("first_contact_due_on") if _contact_counts(r, today)]
    accepted = inside("accepted_on")
    contacted = inside("first_contact_on")
    declined = inside("declined_on")
    withdrawn = inside("withdrawn_on")
    to_accept = [working_days_between(r.sent_on, r.accepted_on) for r in accepted if r.sent_on]
    to_contact = [working_days_between(r.accepted_on, r.first_contact_on) for r in contacted if r.accepted_on]
    open_cases = indexed(referrals, "accepted_on").rows
    return {
        "received": indexed(referrals, "sent_on").count(window),
        "accepted": len(accepted),
        "declined": len(declined),
        "declined_by_reason": Counter(r.decline_reason or "other" for r in declined),
        "withdrawn": len(withdrawn),
        "withdrawn_by_reason": Counter(r.withdraw_reason or "other" for r in withdrawn),
        "answered_within_sla": percent(
            sum(1 for r in answer_due if r.answered_on is not None and r.answered_on <= r.accept_due_on),  # type: ignore[operator]
            len(answer_due),
        ),
        "first_contact_within_sla": percent(
            sum(
                1
                for r in contact_due
                if r.first_contact_on is not None and r.first_contact_on <= r.first_contact_due_on  # type: ignore[operator]
            ),
            len(contact_due),
        ),
        "median_days_to_accept": _decimal_text(median(to_accept)),
        "median_days_to_first_contact": _decimal_text(median(to_contact)),
        "caseload_start": sum(1 for r in open_cases if _open_at_start_of(r, window.start)),
        "caseload_end": sum(1 for r in open_cases if _open_at_end_of(r, window.end)),
        "starts": len(contacted),
        "completions": indexed(referrals, "completed_on").count(window),
        "early_endings": sum(1 for r in withdrawn if r.accepted_on is not None),
    }


@lru_cache(maxsize=65_536)
def working_days_between(start: date, end: date) -> int:
    """portal.working_days.working_days_between, remembered: thousands of referrals share a few
    hundred (sent, accepted) pairs of days."""
    from portal.working_days import working_days_between as count

    return count(start, end)


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _answer_counts(r: ReferralRow, today: date) -> bool:
    """Whether a referral whose answer fell due belongs in the SLA figure."""
    assert r.accept_due_on is not None
    if r.answered_on is not None:
        return True
    if r.withdrawn_on is not None and r.withdrawn_on <= r.accept_due_on:
        return False  # withdrawn while there was still time to answer
    return r.accept_due_on < today  # not answered and the time has run out


def _contact_counts(r: ReferralRow, today: date) -> bool:
    assert r.first_contact_due_on is not None
    if r.first_contact_on is not None:
        return True
    ended = r.completed_on or r.withdrawn_on
    if ended is not None and ended <= r.first_contact_due_on:
        return False
    return r.first_contact_due_on < today


def _open_at_start_of(r: ReferralRow, day: date) -> bool:
    return r.accepted_on is not None and r.accepted_on < day and (r.ended_on is None or r.ended_on >= day)


def _open_at_end_of(r: ReferralRow, day: date) -> bool:
    return r.accepted_on is not None and r.accepted_on <= day and (r.ended_on is None or r.ended_on > day)


def session_figures(sessions: list[SessionCount], referrals: list[ReferralRow], window: Window) -> dict[str, Any]:
    inside = indexed(sessions, "day").within(window)

    def total(predicate: Callable[[SessionCount], bool]) -> int:
        return sum(s.sessions for s in inside if predicate(s))

    attended = total(lambda s: s.attendance == "attended")
    late = total(lambda s: s.attendance == "late")
    missed = total(lambda s: s.attendance == "did_not_attend")
    ended = [r for r in indexed(referrals, "ended_on").within(window) if r.rar_days > 0]
    return {
        "scheduled": total(lambda s: True),
        "held": total(lambda s: s.attendance in ("attended", "late", "did_not_attend")),
        "attended": attended,
        "late": late,
        "missed_acceptable": total(
            lambda s: s.attendance == "did_not_attend" and s.non_attendance_reason == "acceptable"
        ),
        "missed_unacceptable": total(
            lambda s: s.attendance == "did_not_attend" and s.non_attendance_reason not in ("acceptable", "logistics")
        ),
        "missed_logistics": total(
            lambda s: s.attendance == "did_not_attend" and s.non_attendance_reason == "logistics"
        ),
        "did_not_happen": total(lambda s: s.attendance == "session_did_not_happen"),
        "awaiting_feedback": total(lambda s: s.attendance is None),
        "attendance_rate": percent(attended + late, attended + late + missed),
        "hours_delivered": hours(sum(s.minutes for s in inside if s.attendance in ATTENDED)),
        "rar_days_delivered": sum(s.rar_days for s in inside),
        "rar_days_against_ordered": percent(
            sum(min(r.rar_days_delivered, r.rar_days) for r in ended), sum(r.rar_days for r in ended)
        ),
    }


def outcome_figures(outcomes: list[OutcomeRow], reports: list[EndOfServiceRow], window: Window) -> dict[str, Any]:
    achievements = Counter(a for report in indexed(reports, "submitted_on").within(window) for a in report.achievements)
    achieved, partly, not_achieved = (
        achievements["achieved"],
        achievements["partially_achieved"],
        achievements["not_achieved"],
    )
    return {
        "claimed": indexed(outcomes, "claimed_on").count(window),
        "verified": indexed(outcomes, "verified_on").count(window),
        "rejected": indexed(outcomes, "rejected_on").count(window),
        "desired_outcomes_assessed": achieved + partly + not_achieved,
        "desired_achieved": achieved,
        "desired_partially_achieved": partly,
        "desired_not_achieved": not_achieved,
        "achievement_score": percent(
            sum(ACHIEVEMENT_HALVES[kind] * count for kind, count in achievements.items() if kind in ACHIEVEMENT_HALVES),
            ACHIEVEMENT_HALVES["achieved"] * (achieved + partly + not_achieved),
        ),
    }


def outcomes_by_type(outcomes: list[OutcomeRow], window: Window) -> list[dict[str, Any]]:
    """A row per outcome type with any claim or decision in the window, by pathway then name (types
    of the same name on several contracts are one row, under the first of their codes)."""
    kinds: dict[tuple[str, str], dict[str, Any]] = {}
    for o in sorted(outcomes, key=lambda o: o.outcome_type):
        events = (o.claimed_on in window, o.verified_on in window, o.rejected_on in window)
        if not any(events):
            continue
        row = kinds.setdefault(
            (o.pathway_label, o.outcome_name),
            {
                "pathway": o.pathway,
                "pathway_label": o.pathway_label,
                "outcome_type": o.outcome_type,
                "label": o.outcome_name,
                "claimed": 0,
                "verified": 0,
                "rejected": 0,
            },
        )
        row["claimed"] += events[0]
        row["verified"] += events[1]
        row["rejected"] += events[2]
    return [kinds[key] for key in sorted(kinds)]


def verified_by_pathway(outcomes: list[OutcomeRow], window: Window) -> list[dict[str, Any]]:
    counts: Counter[tuple[str, str]] = Counter(
        (o.pathway_label, o.pathway) for o in outcomes if o.verified_on in window
    )
    return [{"pathway": key, "label": label, "verified": counts[(label, key)]} for label, key in sorted(counts)]


def safeguarding_figures(concerns: list[ConcernRow], window: Window) -> dict[str, Any]:
    """Safeguarding concerns raised in the window, from the concern records (never a typed number)."""
    inside = indexed(concerns, "raised_on").within(window)
    decided = [c for c in inside if c.acknowledged_in_time is not None]
    return {
        "concerns_raised": len(inside),
        "concerns_urgent": sum(1 for c in inside if c.urgent),
        "concerns_acknowledged_in_time": percent(sum(1 for c in decided if c.acknowledged_in_time), len(decided)),
        "concerns_escalated": sum(1 for c in inside if c.escalated),
        "concerns_rosh_high": sum(1 for c in inside if c.rosh_high),
    }


def release_figures(releases: list[ReleaseRow], window: Window) -> dict[str, Any]:
    """Resettlement on release, from the release-day checklists (never typed numbers)."""
    inside = indexed(releases, "released_on").within(window)
    released = len(inside)

    def share(attribute: str) -> dict[str, int]:
        return percent(sum(1 for r in inside if getattr(r, attribute)), released)

    return {
        "released": released,
        "released_settled": share("settled"),
        "released_nfa": sum(1 for r in inside if r.first_night == "no_fixed_abode"),
        "released_met_at_gate": share("met_at_gate"),
        "released_id_held": share("id_held"),
        "released_bank_account": share("bank_account"),
        "released_benefit_claim": share("benefit_claim"),
        "released_gp_registered": share("gp_registered"),
    }


def money_figures(invoices: list[InvoiceRow], window: Window) -> dict[str, int]:
    live = ("submitted", "queried", "approved", "paid")
    return {
        "invoiced_pence": sum(i.subtotal_pence for i in invoices if i.submitted_on in window and i.status in live),
        "approved_pence": sum(
            i.subtotal_pence for i in invoices if i.approved_on in window and i.status in ("approved", "paid")
        ),
        "paid_pence": sum(i.subtotal_pence for i in invoices if i.paid_on in window and i.status == "paid"),
    }


def payment_figures(invoices: list[InvoiceRow], window: Window) -> dict[str, Any]:
    """How promptly the CRC paid: invoices paid in the window, by portal.invoicing.payment_terms'
    definitions (as the dashboard's prompt payment part counts them in SQL)."""
    figures = paid_figures(
        (i.days_to_pay, bool(i.paid_late))
        for i in invoices
        if i.kind == "invoice" and i.status == "paid" and i.paid_on in window and i.days_to_pay is not None
    )
    return {
        "invoices_paid": figures.paid,
        "paid_late": figures.late,
        "paid_within_terms": figures.within_terms_share,
        "paid_within_30_days": figures.within_30_share,
        "average_days_to_pay": _decimal_text(figures.average_days),
    }


def spend_to(invoices: list[InvoiceRow], day: date) -> int:
    """Spend against the cap at the end of `day`: the invoices that count toward it now
    (portal.invoicing.models.counts_toward_cap, as Invoice.spend_pence) and had begun to by then."""

    def counts(i: InvoiceRow) -> bool:
        since = counts_toward_cap_from(i.kind, i.submitted_on, i.approved_on)
        return counts_toward_cap(i.kind, i.status) and since is not None and since <= day

    return sum(i.subtotal_pence for i in invoices if counts(i))


def location_figures(referrals: list[ReferralRow], window: Window) -> dict[str, Any]:
    received = indexed(referrals, "sent_on").within(window)
    return {
        "custody": sum(1 for r in received if r.location_type == "custody"),
        "community": sum(1 for r in received if r.location_type == "community"),
        "prisons": Counter(r.prison or "Prison not recorded" for r in received if r.location_type == "custody"),
        "offices": Counter(
            r.community_office or "Office not recorded" for r in received if r.location_type == "community"
        ),
    }


def equality_counts(referrals: list[ReferralRow], window: Window) -> dict[str, dict[str, int]]:
    starting = indexed(referrals, "first_contact_on").within(window)
    gender = Counter(r.gender for r in starting)
    ethnicity = Counter(r.ethnicity_group for r in starting)
    ages = Counter(age_band(r.date_of_birth, r.first_contact_on) for r in starting)  # type: ignore[arg-type]
    disability = Counter(r.disability for r in starting)
    return {
        "gender": {key: gender[key] for key, _ in GENDERS},
        "ethnicity": {group: ethnicity[group] for group in ETHNIC_GROUPS},
        "age": {key: ages[key] for key, *_ in AGE_BANDS},
        "disability": {key: disability[key] for key, _ in DISABILITIES},
    }


EQUALITY_TABLES = (
    ("gender", "Gender", GENDERS),
    ("ethnicity", "Ethnic group (ONS 2021 groups)", tuple((group, group) for group in ETHNIC_GROUPS)),
    ("age", "Age when starting", tuple((key, label) for key, label, *_ in AGE_BANDS)),
    ("disability", "Disability", DISABILITIES),
)


def equality_tables(counts_by_window: dict[str, dict[str, dict[str, int]]]) -> list[dict[str, Any]]:
    """Each equality table with small numbers already hidden: the raw counts never leave here."""
    tables = []
    for key, title, categories in EQUALITY_TABLES:
        shown_by_window = {}
        for column, counts in counts_by_window.items():
            shown, total_hidden = suppress(counts[key])
            total = sum(counts[key].values())
            shown_by_window[column] = {
                "cells": {
                    category: (
                        {"count": SUPPRESSED if counts[key][category] < SMALL_NUMBER else HIDDEN, "percent": None}
                        if value is None
                        else {"count": value, "percent": str(percent_value(percent(value, total)) or Decimal("0.0"))}
                    )
                    for category, value in shown.items()
                },
                "total": SUPPRESSED if total_hidden else total,
            }
        rows = [
            {
                "key": category,
                "label": label,
                "values": {column: shown_by_window[column]["cells"][category] for column in counts_by_window},
            }
            for category, label in categories
        ]
        tables.append(
            {
                "key": key,
                "title": title,
                "rows": rows,
                "totals": {column: shown_by_window[column]["total"] for column in counts_by_window},
            }
        )
    return tables


def monthly_series(records: Records, months: list[date]) -> list[dict[str, Any]]:
    series = []
    for month in months:
        window = Period(PeriodKind.MONTH, month).window
        inside = indexed(records.sessions, "day").within(window)
        series.append(
            {
                "month": f"{month:%Y-%m}",
                "label": month_label(month),
                "received": indexed(records.referrals, "sent_on").count(window),
                "accepted": indexed(records.referrals, "accepted_on").count(window),
                "outcomes_claimed": indexed(records.outcomes, "claimed_on").count(window),
                "outcomes_verified": indexed(records.outcomes, "verified_on").count(window),
                "attended": sum(s.sessions for s in inside if s.attendance == "attended"),
                "late": sum(s.sessions for s in inside if s.attendance == "late"),
                "missed": sum(s.sessions for s in inside if s.attendance == "did_not_attend"),
                "did_not_happen": sum(s.sessions for s in inside if s.attendance == "session_did_not_happen"),
            }
        )
    return series


def _reason_rows(
    prefix: str, by_window: dict[str, dict[str, Any]], field_name: str, labels: dict[str, str]
) -> list[dict[str, Any]]:
    keys: set[str] = set()
    for figures in by_window.values():
        keys |= set(figures[field_name])
    ordered = sorted(keys, key=lambda key: (labels.get(key, key) == "Other", labels.get(key, key)))
    return [
        _row(
            f"{prefix}_{key}",
            labels.get(key, key.replace("_", " ").capitalize()),
            "count",
            {column: figures[field_name].get(key, 0) for column, figures in by_window.items()},
            indent=True,
        )
        for key in ordered
    ]


def compute_figures(
    records: Records,
    period: Period,
    *,
    today: date,
    contract_start: date | None = None,
    labels: Labels | None = None,
) -> dict[str, Any]:
    """Every figure of a return for `period`, with the previous period and the year to date beside
    it, as plain JSON (ints, strings, lists, dicts): what is frozen on submission."""
    labels = labels or Labels()
    records = Records(
        referrals=Rows(records.referrals),
        sessions=Rows(records.sessions),
        outcomes=Rows(records.outcomes),
        end_of_service=Rows(records.end_of_service),
        invoices=records.invoices,
        cap_pence=records.cap_pence,
        concerns=Rows(records.concerns),
        releases=Rows(records.releases),
        activities=Rows(records.activities),
        contracts=records.contracts,
        expected_starts=records.expected_starts,
        spend_profile=records.spend_profile,
        to_date=records.to_date,
    )
    windows = _windows(period, contract_start)
    as_of = min(period.end, today)
    months = period.charted_months(contract_start)
    parts = Parts(
        referrals={name: referral_figures(records.referrals, window, today) for name, window in windows.items()},
        sessions={
            name: session_figures(records.sessions, records.referrals, window) for name, window in windows.items()
        },
        outcomes={
            name: outcome_figures(records.outcomes, records.end_of_service, window) for name, window in windows.items()
        },
        safeguarding={name: safeguarding_figures(records.concerns, window) for name, window in windows.items()},
        releases={name: release_figures(records.releases, window) for name, window in windows.items()},
        locations={name: location_figures(records.referrals, window) for name, window in windows.items()},
        equality={name: equality_counts(records.referrals, window) for name, window in windows.items()},
        activities=(
            {name: activity_figures(records.activities, window) for name, window in windows.items()}
            if records.activities or any(c.grant for c in records.contracts)
            else None
        ),
        outcomes_by_type=outcomes_by_type(records.outcomes, windows["period"]),
        months=monthly_series(records, months),
        volume_counts={
            name: _started_and_received(records.referrals, window, as_of) for name, window in windows.items()
        },
    )
    return assemble_figures(parts, records, period, today=today, contract_start=contract_start, labels=labels)


@dataclass
class Parts:
    """The figures of each window (period, previous, year to date) before they are laid out as rows:
    computed from plain rows by the functions of this module (the reference definitions) or counted
    in SQL by portal.figures (what the pages and returns use). Either way assemble_figures lays them
    out, so the two can only differ in what they count."""

    referrals: dict[str, dict[str, Any]]
    sessions: dict[str, dict[str, Any]]
    outcomes: dict[str, dict[str, Any]]
    safeguarding: dict[str, dict[str, Any]]
    releases: dict[str, dict[str, Any]]
    locations: dict[str, dict[str, Any]]
    equality: dict[str, dict[str, dict[str, int]]]
    activities: dict[str, dict[str, Any]] | None
    outcomes_by_type: list[dict[str, Any]]
    months: list[dict[str, Any]]
    # Starts and referrals received in each window up to the day figures are taken to.
    volume_counts: dict[str, tuple[int, int]]


def _started_and_received(referrals: list[ReferralRow], window: Window, as_of: date) -> tuple[int, int]:
    end = min(window.end, as_of)
    if end < window.start:
        return 0, 0
    cut = Window(window.start, end)
    return indexed(referrals, "first_contact_on").count(cut), indexed(referrals, "sent_on").count(cut)


def assemble_figures(
    parts: Parts,
    records: Records,
    period: Period,
    *,
    today: date,
    contract_start: date | None = None,
    labels: Labels | None = None,
) -> dict[str, Any]:
    """The figures laid out as a return freezes them. `records` needs only its invoices, contracts,
    cap, expected starts, spend profile and counts to date (a few rows a contract and month)."""
    labels = labels or Labels()
    windows = _windows(period, contract_start)
    referrals, sessions, outcomes = parts.referrals, parts.sessions, parts.outcomes
    safeguarding, releases, locations = parts.safeguarding, parts.releases, parts.locations
    money = {name: money_figures(records.invoices, window) for name, window in windows.items()}
    payments = {name: payment_figures(records.invoices, window) for name, window in windows.items()}

    def values(source: dict[str, dict[str, Any]], key: str) -> dict[str, Any]:
        return {name: figures[key] for name, figures in source.items()}

    def rows(source: dict[str, dict[str, Any]], spec: Sequence[tuple[str, str, str]]) -> list[dict[str, Any]]:
        return [_row(key, label, kind, values(source, key)) for key, label, kind in spec]

    referral_rows = [
        _row("received", "Referrals received", "count", values(referrals, "received")),
        _row("accepted", "Accepted", "count", values(referrals, "accepted")),
        _row("declined", "Declined", "count", values(referrals, "declined")),
        *_reason_rows("declined", referrals, "declined_by_reason", labels.decline_reasons),
        _row("withdrawn", "Withdrawn", "count", values(referrals, "withdrawn")),
        *_reason_rows("withdrawn", referrals, "withdrawn_by_reason", labels.withdraw_reasons),
        *rows(
            referrals,
            (
                ("answered_within_sla", "Answered within SLA", "percent"),
                ("first_contact_within_sla", "First contact within SLA", "percent"),
                ("median_days_to_accept", "Median working days, sent to accepted", "decimal"),
                ("median_days_to_first_contact", "Median working days, accepted to first contact", "decimal"),
            ),
        ),
    ]
    caseload_rows = rows(
        referrals,
        (
            ("caseload_start", "Caseload at the start", "count"),
            ("caseload_end", "Caseload at the end", "count"),
            ("starts", "Starts (first contact)", "count"),
            ("completions", "Completions", "count"),
            ("early_endings", "Early endings (withdrawn after acceptance)", "count"),
        ),
    )
    session_rows = rows(
        sessions,
        (
            ("scheduled", "Sessions scheduled", "count"),
            ("held", "Held", "count"),
            ("attended", "Attended on time", "count"),
            ("late", "Attended late", "count"),
            ("missed_acceptable", "Did not attend: acceptable absence", "count"),
            ("missed_unacceptable", "Did not attend: unacceptable absence", "count"),
            ("missed_logistics", "Did not attend: logistics", "count"),
            ("did_not_happen", "Did not happen", "count"),
            ("awaiting_feedback", "Waiting for attendance to be recorded", "count"),
            ("attendance_rate", "Attendance rate", "percent"),
            ("hours_delivered", "Hours delivered", "decimal"),
            ("rar_days_delivered", "RAR days delivered", "count"),
            ("rar_days_against_ordered", "RAR days delivered against ordered (cases ended)", "percent"),
        ),
    )
    for row in session_rows:
        row["indent"] = row["key"] in {
            "attended",
            "late",
            "missed_acceptable",
            "missed_unacceptable",
            "missed_logistics",
        }
    outcome_rows = rows(
        outcomes,
        (
            ("claimed", "Outcomes claimed", "count"),
            ("verified", "Verified", "count"),
            ("rejected", "Rejected", "count"),
            ("desired_outcomes_assessed", "Desired outcomes assessed at end of service", "count"),
            ("desired_achieved", "Achieved", "count"),
            ("desired_partially_achieved", "Partially achieved", "count"),
            ("desired_not_achieved", "Not achieved", "count"),
            ("achievement_score", "End-of-service achievement score", "percent"),
        ),
    )
    for row in outcome_rows:
        row["indent"] = row["key"] in {
            "verified",
            "rejected",
            "desired_achieved",
            "desired_partially_achieved",
            "desired_not_achieved",
        }
    location_rows = [_row("custody", "Referrals from custody", "count", values(locations, "custody"))]
    location_rows += _place_rows("prison", locations, "prisons")
    location_rows.append(_row("community", "Referrals in the community", "count", values(locations, "community")))
    location_rows += _place_rows("office", locations, "offices")
    resettlement_rows = rows(
        releases,
        (
            ("released", "Released from custody", "count"),
            ("released_settled", "Settled accommodation on release", "percent"),
            ("released_nfa", "Released to no fixed abode", "count"),
            ("released_met_at_gate", "Met at the gate", "percent"),
            ("released_id_held", "With identification", "percent"),
            ("released_bank_account", "With a bank account", "percent"),
            ("released_benefit_claim", "Benefit claim made", "percent"),
            ("released_gp_registered", "Registered with a GP", "percent"),
        ),
    )
    for row in resettlement_rows[1:]:
        row["indent"] = True
    safeguarding_rows = rows(
        safeguarding,
        (
            ("concerns_raised", "Safeguarding concerns raised", "count"),
            ("concerns_urgent", "Urgent", "count"),
            ("concerns_acknowledged_in_time", "Acknowledged by the referrer within the deadline", "percent"),
            ("concerns_escalated", "Escalated to a team manager", "count"),
            ("concerns_rosh_high", "Risk of serious harm high: transferred to the NPS", "count"),
        ),
    )
    safeguarding_rows[1]["indent"] = True
    money_rows = rows(
        money,
        (
            ("invoiced_pence", "Invoiced (before VAT)", "money"),
            ("approved_pence", "Approved", "money"),
            ("paid_pence", "Paid", "money"),
        ),
    )
    if any(i.kind == GRANT_PAYMENT for i in records.invoices) or any(c.grant for c in records.contracts):
        grant_money = {name: grant_money_figures(records.invoices, window) for name, window in windows.items()}
        money_rows += [
            _row(
                "grant_raised_pence", "Grant payments raised", "money", values(grant_money, "raised_pence"), indent=True
            ),
            _row("grant_paid_pence", "Grant payments paid", "money", values(grant_money, "paid_pence"), indent=True),
        ]
    money_rows += rows(
        payments,
        (
            ("invoices_paid", "Invoices paid", "count"),
            ("paid_late", "Paid late (after the due date)", "count"),
            ("paid_within_terms", "Paid within the contract's payment terms", "percent"),
            ("paid_within_30_days", f"Paid within {PROMPT_PAYMENT_DAYS} days", "percent"),
            ("average_days_to_pay", "Average days to pay (days held in query left out)", "decimal"),
        ),
    )
    spend = spend_to(records.invoices, period.end)
    as_of = min(period.end, today)
    volumes = volume_figures(records, windows, as_of, parts.volume_counts)
    unmet = {name: unmet_need(figures) for name, figures in referrals.items()}
    equality = equality_tables(parts.equality)
    figures = {
        "schema": SCHEMA_VERSION,
        "period": {"code": period.code, "kind": period.kind.value, "label": period.label, **period.window.as_json()},
        "columns": {
            "period": {"label": _window_label(period.window), **windows["period"].as_json()},
            "previous": {"label": _window_label(windows["previous"]), **windows["previous"].as_json()},
            "ytd": {"label": f"Year to date, {_window_label(windows['ytd'])}", **windows["ytd"].as_json()},
        },
        "sections": [
            {"key": "referrals", "title": "Referrals", "rows": referral_rows},
            {"key": "caseload", "title": "Caseload", "rows": caseload_rows},
            {"key": "sessions", "title": "Sessions", "rows": session_rows},
            {"key": "outcomes", "title": "Outcomes", "rows": outcome_rows},
            {"key": "locations", "title": "Custody and community", "rows": location_rows},
            {"key": "resettlement", "title": "Through the Gate: release", "rows": resettlement_rows},
            {"key": "safeguarding", "title": "Safeguarding", "rows": safeguarding_rows},
            {"key": "money", "title": "Money", "rows": money_rows},
            *_grant_sections(parts.activities),
            {"key": "volumes", "title": "Against the contract", "rows": volumes["rows"]},
            {
                "key": "unmet_need",
                "title": "Unmet need",
                "rows": [
                    _row("unmet_need", "Referrals declined for unmet need", "count", values(unmet, "total")),
                    _row("unmet_no_capacity", "No capacity", "count", values(unmet, "no_capacity"), indent=True),
                    _row(
                        "unmet_no_service_in_area",
                        "No service in the person's area",
                        "count",
                        values(unmet, "outside_area"),
                        indent=True,
                    ),
                ],
            },
        ],
        "volumes": volumes["summary"],
        "grant": {
            "paid_to_period_end_pence": grant_paid_to(records.invoices, period.end),
            "is_grant": any(c.grant for c in records.contracts),
        },
        "outcomes_by_type": parts.outcomes_by_type,
        "equality": equality,
        "spend": {
            "to_period_end_pence": spend,
            "cap_pence": records.cap_pence,
            "percent_of_cap": percent(spend, records.cap_pence),
        },
        "months": parts.months,
    }
    figures["headline"] = headline_kpis(figures)
    return figures


def headline_kpis(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """The period's headline figures, each with its target (portal.returns.targets) and whether it was met."""
    headline = []
    for key, label, direction, target in targets.TARGETS:
        value = figure(figures, key)
        headline.append(
            {
                "key": key,
                "label": label,
                "value": value,
                "shown": percent_text(value),
                "target": targets.target_text(direction, target),
                "status": targets.status(percent_value(value), direction, target),
            }
        )
    spend = figures["spend"]["percent_of_cap"]
    headline.append(
        {
            "key": "cap",
            "label": "Spend within the contract cap",
            "value": spend,
            "shown": percent_text(spend),
            "target": targets.target_text("at_most", targets.SPEND_TARGET),
            "status": targets.status(percent_value(spend), "at_most", targets.SPEND_TARGET),
        }
    )
    # Spend is judged against what was expected by now (the profile), not the cap alone: 1.5% of the
    # cap twenty months into twenty-four is far under, however safely within the cap it is.
    volumes = figures.get("volumes") or {}
    profiled = percent(volumes.get("spend_pence", 0), volumes.get("expected_spend_pence", 0))
    headline.append(
        {
            "key": "spend",
            "label": "Spend against the spend profile to date",
            "value": profiled,
            "shown": percent_text(profiled),
            "target": targets.target_text("at_least", targets.SPEND_PROFILE_TARGET),
            "status": targets.status(percent_value(profiled), "at_least", targets.SPEND_PROFILE_TARGET),
        }
    )
    return headline


def _place_rows(prefix: str, locations: dict[str, dict[str, Any]], field_name: str) -> list[dict[str, Any]]:
    places: set[str] = set()
    for figures in locations.values():
        places |= set(figures[field_name])
    return [
        _row(
            f"{prefix}:{place}",
            place,
            "count",
            {name: figures[field_name].get(place, 0) for name, figures in locations.items()},
            indent=True,
        )
        for place in sorted(places)
    ]


def _window_label(window: Window) -> str:
    return f"{format_date(window.start)} to {format_date(window.end)}"


def figure(figures: dict[str, Any], key: str, column: str = "period") -> Any:
    """One figure of a computed (or frozen) set by its row key: figure(f, "received")."""
    for section in figures["sections"]:
        for row in section["rows"]:
            if row["key"] == key:
                return row["values"][column]
    raise KeyError(key)


# --- grants, volumes against the contract, unmet need -----------------------------------------------

GRANT_PAYMENT = "grant_payment"
UNMET_NEED_REASONS = ("no_capacity", "outside_area")


def grant_money_figures(invoices: list[InvoiceRow], window: Window) -> dict[str, int]:
    grants = [i for i in invoices if i.kind == GRANT_PAYMENT]
    return {
        "raised_pence": sum(
            i.subtotal_pence
            for i in grants
            if i.submitted_on in window and i.status in ("submitted", "queried", "approved", "paid")
        ),
        "paid_pence": sum(i.subtotal_pence for i in grants if i.paid_on in window and i.status == "paid"),
    }


def grant_paid_to(invoices: list[InvoiceRow], day: date) -> int:
    return sum(
        i.subtotal_pence
        for i in invoices
        if i.kind == GRANT_PAYMENT and i.status == "paid" and i.paid_on is not None and i.paid_on <= day
    )


def activity_figures(activities: list[ActivityCount], window: Window) -> dict[str, Any]:
    inside = indexed(activities, "day").within(window)
    return {
        "drop_ins": sum(a.held for a in inside if a.kind == "drop_in"),
        "groups": sum(a.held for a in inside if a.kind == "group_work"),
        "attendances": sum(a.attendees for a in inside),
        "hours": hours(sum(a.minutes for a in inside)),
    }


def _grant_sections(by_window: dict[str, dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The grant-funded activity section, for grants (and any contract that records such activity)."""
    if by_window is None:
        return []
    spec = (
        ("activity_drop_ins", "drop_ins", "Drop-in sessions held", "count"),
        ("activity_groups", "groups", "Group work sessions held", "count"),
        ("activity_attendances", "attendances", "Attendances at drop-ins and group work", "count"),
        ("activity_hours", "hours", "Hours of drop-ins and group work", "decimal"),
    )
    rows = [
        _row(key, label, kind, {name: figures[field_name] for name, figures in by_window.items()})
        for key, field_name, label, kind in spec
    ]
    return [{"key": "grant_activity", "title": "Grant-funded activity (no referral)", "rows": rows}]


def unmet_need(referral_figures_of_window: dict[str, Any]) -> dict[str, int]:
    by_reason = referral_figures_of_window["declined_by_reason"]
    counts = {reason: by_reason.get(reason, 0) for reason in UNMET_NEED_REASONS}
    return {**counts, "total": sum(counts.values())}


def _month_count(start: date, end: date) -> int:
    """Calendar months from `start`'s month to `end`'s, both included (0 if end is before start)."""
    return max(0, (end.year - start.year) * 12 + end.month - start.month + 1)


def _months_elapsed(terms: ContractTerms, as_of: date) -> Decimal:
    """Months of the contract run by the end of `as_of`, with the month under way counted by its days."""
    if as_of < terms.start:
        return Decimal(0)
    day = min(as_of, terms.end)
    whole = _month_count(terms.start, day) - 1
    from calendar import monthrange

    days_in = monthrange(day.year, day.month)[1]
    return Decimal(whole) + Decimal(day.day) / Decimal(days_in)


def expected_spend_by_month(terms: ContractTerms, profile: list[MonthlyExpectation]) -> dict[date, int]:
    """The contract's expected spend a month: its profile, or the cap spread evenly over its months."""
    mine = {p.month: p.amount for p in profile if p.contract_id == terms.contract_id}
    if mine:
        return mine
    months = _month_count(terms.start, terms.end)
    if months <= 0:
        return {}
    from portal.dates import add_months
    from portal.money import share_out

    firsts = [add_months(terms.start.replace(day=1), n) for n in range(months)]
    return share_out(terms.cap_pence, dict.fromkeys(firsts, 1))


def _expected_between(by_month: dict[date, int], start: date, end: date) -> int:
    """Expected in the months from `start` to `end`; a month partly inside counts by its share of days."""
    from calendar import monthrange

    total = Decimal(0)
    for month, amount in by_month.items():
        last = month.replace(day=monthrange(month.year, month.month)[1])
        low, high = max(month, start), min(last, end)
        if low > high:
            continue
        total += Decimal(amount) * Decimal((high - low).days + 1) / Decimal(last.day)
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _straight_line(done: int, elapsed: Decimal, total_months: int) -> int | None:
    if elapsed <= 0:
        return None
    return int((Decimal(done) * total_months / elapsed).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def contract_volumes(
    terms: ContractTerms,
    expected_starts: list[MonthlyExpectation],
    spend_profile: list[MonthlyExpectation],
    invoices: list[InvoiceRow],
    to_date: ToDate | None,
    as_of: date,
) -> dict[str, Any]:
    """One contract against what it expected, from its start to `as_of`, with straight-line
    forecasts to its end and the two under-delivery flags (see the module's definitions)."""
    starts_by_month: dict[date, int] = {}
    for row in expected_starts:
        if row.contract_id == terms.contract_id:
            starts_by_month[row.month] = starts_by_month.get(row.month, 0) + row.amount
    spend_by_month = expected_spend_by_month(terms, spend_profile)
    end = min(as_of, terms.end)
    counted = to_date or ToDate(terms.contract_id)
    spent = spend_to([i for i in invoices if i.contract_id == terms.contract_id], end)
    elapsed = _months_elapsed(terms, as_of)
    total_months = _month_count(terms.start, terms.end)
    has_starts = bool(starts_by_month)
    expected = _expected_between(starts_by_month, terms.start, end) if has_starts else None
    tolerance = Decimal(targets.VOLUME_TOLERANCE) / 100
    crc_under = bool(has_starts and expected and counted.received < tolerance * expected)
    could_start = min(counted.accepted, expected) if expected is not None else counted.accepted
    partner_under = bool(could_start and counted.started < tolerance * could_start) or counted.accepted_not_started > 0
    return {
        "contract_id": terms.contract_id,
        "contract": terms.reference,
        "has_expected_starts": has_starts,
        "expected_starts": expected,
        "expected_starts_whole": sum(starts_by_month.values()) if has_starts else None,
        "received": counted.received,
        "accepted": counted.accepted,
        "started": counted.started,
        "accepted_not_started": counted.accepted_not_started,
        "starts_forecast": _straight_line(counted.started, elapsed, total_months),
        "spend_pence": spent,
        "expected_spend_pence": _expected_between(spend_by_month, terms.start, end),
        "expected_spend_whole_pence": sum(spend_by_month.values()),
        "spend_forecast_pence": _straight_line(spent, elapsed, total_months),
        "profiled": any(p.contract_id == terms.contract_id for p in spend_profile),
        "crc_under_referral": crc_under,
        "partner_under_delivery": partner_under,
    }


def volume_figures(
    records: Records, windows: dict[str, Window], as_of: date, counts: dict[str, tuple[int, int]]
) -> dict[str, Any]:
    """The "Against the contract" rows (expected and actual starts and spend in each window) and the
    summary to date across the contracts, with each contract's own figures and flags."""
    to_date = {row.contract_id: row for row in records.to_date}
    # Each contract's rows sorted out in one pass, not a pass over every contract's rows per contract.
    invoices_of: dict[int, list[InvoiceRow]] = {}
    starts_of: dict[int, list[MonthlyExpectation]] = {}
    profile_of: dict[int, list[MonthlyExpectation]] = {}
    for rows_of, rows in ((invoices_of, records.invoices), (starts_of, records.expected_starts)):
        for row in rows:
            rows_of.setdefault(row.contract_id, []).append(row)  # type: ignore[attr-defined]
    for row in records.spend_profile:
        profile_of.setdefault(row.contract_id, []).append(row)
    per_contract = [
        contract_volumes(
            terms,
            starts_of.get(terms.contract_id, []),
            profile_of.get(terms.contract_id, []),
            invoices_of.get(terms.contract_id, []),
            to_date.get(terms.contract_id),
            as_of,
        )
        for terms in records.contracts
    ]

    def window_values(name: str, window: Window) -> dict[str, Any]:
        end = min(window.end, as_of)
        expected_starts = expected_spend = 0
        any_starts = False
        for terms in records.contracts:
            low, high = max(window.start, terms.start), min(end, terms.end)
            if low > high:
                continue
            months: dict[date, int] = {}
            for row in records.expected_starts:
                if row.contract_id == terms.contract_id:
                    months[row.month] = months.get(row.month, 0) + row.amount
            if months:
                any_starts = True
                expected_starts += _expected_between(months, low, high)
            expected_spend += _expected_between(expected_spend_by_month(terms, records.spend_profile), low, high)
        started, received = counts[name]
        before = window.start - timedelta(days=1)
        spent = spend_to(records.invoices, end) - spend_to(records.invoices, before) if end >= window.start else 0
        return {
            "expected_starts": expected_starts if any_starts else None,
            "starts": started,
            "starts_against_expected": percent(started, expected_starts) if any_starts else None,
            "received_against_expected": percent(received, expected_starts) if any_starts else None,
            "expected_spend_pence": expected_spend,
            "spend_pence": spent,
            "spend_against_profile": percent(spent, expected_spend),
        }

    by_window = {name: window_values(name, window) for name, window in windows.items()}
    spec = (
        ("expected_starts", "Starts expected", "count"),
        ("starts", "Starts (first contact)", "count"),
        ("starts_against_expected", "Starts against expected", "percent"),
        ("received_against_expected", "Referrals received against starts expected", "percent"),
        ("expected_spend_pence", "Spend expected (the spend profile)", "money"),
        ("spend_pence", "Spend (before VAT)", "money"),
        ("spend_against_profile", "Spend against the profile", "percent"),
    )
    rows = [
        _row(f"volume_{key}", label, kind, {name: figures[key] for name, figures in by_window.items()})
        for key, label, kind in spec
    ]

    def total(key: str) -> int | None:
        values_ = [c[key] for c in per_contract if c[key] is not None]
        return sum(values_) if values_ else None

    summary = {
        "as_of": as_of.isoformat(),
        "as_of_label": format_date(as_of),
        "expected_starts": total("expected_starts"),
        "expected_starts_whole": total("expected_starts_whole"),
        "received": total("received") or 0,
        "accepted": total("accepted") or 0,
        "started": total("started") or 0,
        "accepted_not_started": total("accepted_not_started") or 0,
        "starts_forecast": total("starts_forecast"),
        "spend_pence": total("spend_pence") or 0,
        "expected_spend_pence": total("expected_spend_pence") or 0,
        "expected_spend_whole_pence": total("expected_spend_whole_pence") or 0,
        "spend_forecast_pence": total("spend_forecast_pence"),
        "crc_under_referral": [c["contract_id"] for c in per_contract if c["crc_under_referral"]],
        "partner_under_delivery": [c["contract_id"] for c in per_contract if c["partner_under_delivery"]],
        "contracts": per_contract,
    }
    return {"rows": rows, "summary": summary}
