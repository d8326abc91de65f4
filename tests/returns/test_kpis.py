"""The figures as pure functions over plain rows: worked examples of every rule, and properties
that hold for any records (Hypothesis)."""

from datetime import date, time, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.dates import PeriodKind, Window, parse_period
from portal.returns.kpis import (
    HIDDEN,
    SUPPRESSED,
    EndOfServiceRow,
    InvoiceRow,
    OutcomeRow,
    Records,
    ReferralRow,
    SessionCount,
    age_band,
    compute_figures,
    equality_tables,
    figure,
    hours,
    median,
    money_figures,
    outcome_figures,
    percent_text,
    referral_figures,
    session_figures,
    spend_to,
    suppress,
)
from tests.helpers import STORY_DAY

pytestmark = pytest.mark.on_day(STORY_DAY)  # a worked example set in 2026


JULY = Window(date(2026, 7, 1), date(2026, 7, 31))
TODAY = date(2026, 12, 2)


def referral(**fields):
    return ReferralRow(id=fields.pop("id", 1), contract_id=1, sent_on=fields.pop("sent_on", date(2026, 7, 6)), **fields)


# --- periods -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "start", "end", "label", "previous"),
    [
        ("2026-05", date(2026, 5, 1), date(2026, 5, 31), "May 2026", "2026-04"),
        ("2026-Q2", date(2026, 4, 1), date(2026, 6, 30), "April to June 2026", "2026-Q1"),
        ("2027-Q1", date(2027, 1, 1), date(2027, 3, 31), "January to March 2027", "2026-Q4"),
        ("2026-01", date(2026, 1, 1), date(2026, 1, 31), "January 2026", "2025-12"),
    ],
)
def test_periods_are_months_or_calendar_quarters(code, start, end, label, previous):
    period = parse_period(code)
    assert (period.start, period.end, period.label, period.previous().code) == (start, end, label, previous)


@pytest.mark.parametrize("text", ["", "2026", "2026-13", "2026-Q5", "26-01", "May 2026"])
def test_anything_else_is_not_a_period(text):
    assert parse_period(text) is None


def test_the_year_to_date_starts_on_1_april_or_the_contracts_start():
    assert parse_period("2027-Q1").year_to_date() == Window(date(2026, 4, 1), date(2027, 3, 31))
    assert parse_period("2026-05").year_to_date(date(2026, 4, 15)).start == date(2026, 4, 15)
    assert parse_period("2026-Q3").charted_months(date(2026, 6, 10))[0] == date(2026, 6, 1)


# --- referrals and SLAs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        # answered on the due day: met
        ([referral(accept_due_on=date(2026, 7, 8), accepted_on=date(2026, 7, 8))], "100.0%"),
        # declined a day late: not met
        ([referral(accept_due_on=date(2026, 7, 8), declined_on=date(2026, 7, 9))], "0.0%"),
        # never answered and the time has run out: not met
        ([referral(accept_due_on=date(2026, 7, 8))], "0.0%"),
        # withdrawn before the due date, unanswered: left out
        ([referral(accept_due_on=date(2026, 7, 8), withdrawn_on=date(2026, 7, 7))], "no data"),
        # withdrawn after the due date, unanswered: the clock had already run out
        ([referral(accept_due_on=date(2026, 7, 8), withdrawn_on=date(2026, 7, 10))], "0.0%"),
        # due next month: not this month's figure
        ([referral(accept_due_on=date(2026, 8, 3), accepted_on=date(2026, 7, 31))], "no data"),
    ],
)
def test_answered_within_sla_counts_the_referrals_whose_answer_fell_due(rows, expected):
    assert percent_text(referral_figures(rows, JULY, TODAY)["answered_within_sla"]) == expected


def test_a_referral_not_yet_due_is_left_out_of_the_sla_figure():
    rows = [referral(accept_due_on=date(2026, 7, 20))]
    assert referral_figures(rows, JULY, date(2026, 7, 15))["answered_within_sla"] == {"n": 0, "d": 0}


def test_first_contact_within_sla_and_its_exclusions():
    rows = [
        referral(
            id=1, accepted_on=date(2026, 7, 1), first_contact_due_on=date(2026, 7, 8), first_contact_on=date(2026, 7, 8)
        ),
        referral(
            id=2, accepted_on=date(2026, 7, 1), first_contact_due_on=date(2026, 7, 8), first_contact_on=date(2026, 7, 9)
        ),
        referral(
            id=3, accepted_on=date(2026, 7, 1), first_contact_due_on=date(2026, 7, 8), withdrawn_on=date(2026, 7, 2)
        ),
        referral(id=4, accepted_on=date(2026, 7, 1), first_contact_due_on=date(2026, 7, 8)),
    ]
    assert referral_figures(rows, JULY, TODAY)["first_contact_within_sla"] == {"n": 1, "d": 3}


def test_medians_count_working_days_skipping_weekends_and_bank_holidays():
    rows = [
        # Friday 28 August to Tuesday 1 September 2026: Monday 31 August is a bank holiday -> 1 working day
        referral(id=1, sent_on=date(2026, 8, 28), accepted_on=date(2026, 9, 1)),
        referral(id=2, sent_on=date(2026, 9, 1), accepted_on=date(2026, 9, 4)),  # 3
    ]
    figures = referral_figures(rows, Window(date(2026, 9, 1), date(2026, 9, 30)), TODAY)
    assert figures["median_days_to_accept"] == "2.0"


def test_caseload_counts_cases_open_at_the_start_and_at_the_end():
    rows = [
        referral(id=1, accepted_on=date(2026, 6, 1)),  # open throughout
        referral(id=2, accepted_on=date(2026, 6, 1), completed_on=date(2026, 7, 1)),  # open at the start only
        referral(id=3, accepted_on=date(2026, 7, 1)),  # accepted on the first day: not open at the start
        referral(id=4, accepted_on=date(2026, 6, 1), withdrawn_on=date(2026, 6, 30)),  # ended before
    ]
    figures = referral_figures(rows, JULY, TODAY)
    assert (figures["caseload_start"], figures["caseload_end"]) == (2, 2)
    assert figures["completions"] == 1
    assert figures["early_endings"] == 0


def test_reasons_are_counted_and_unknown_reasons_are_other():
    rows = [
        referral(id=1, declined_on=date(2026, 7, 2), decline_reason="no_capacity"),
        referral(id=2, declined_on=date(2026, 7, 3), decline_reason="no_capacity"),
        referral(id=3, withdrawn_on=date(2026, 7, 3)),
    ]
    figures = referral_figures(rows, JULY, TODAY)
    assert figures["declined_by_reason"] == {"no_capacity": 2}
    assert figures["withdrawn_by_reason"] == {"other": 1}


# --- sessions ----------------------------------------------------------------------------------------------


def test_attendance_leaves_out_sessions_that_did_not_happen_or_await_feedback():
    day = date(2026, 7, 10)
    sessions = [
        SessionCount(1, day, "attended", sessions=6, minutes=360),
        SessionCount(1, day, "late", sessions=1, minutes=45),
        SessionCount(1, day, "did_not_attend", "unacceptable", sessions=2, minutes=120),
        SessionCount(1, day, "did_not_attend", "logistics", sessions=1, minutes=60),
        SessionCount(1, day, "session_did_not_happen", sessions=3, minutes=180),
        SessionCount(1, day, None, sessions=4, minutes=240),
        SessionCount(1, day, "attended", counts_as_rar_day=True, sessions=2, minutes=120),
        # ...which were one referral's two RAR sessions that day: one RAR day.
        SessionCount(1, day, "attended", counts_as_rar_day=True, sessions=0, minutes=0, rar_days=1),
    ]
    figures = session_figures(sessions, [], JULY)
    assert figures["scheduled"] == 19
    assert figures["held"] == 12
    assert percent_text(figures["attendance_rate"]) == "75.0%"  # 9 of 12
    assert figures["hours_delivered"] == "8.8"  # 525 minutes
    assert (figures["missed_unacceptable"], figures["missed_logistics"], figures["awaiting_feedback"]) == (2, 1, 4)
    assert figures["rar_days_delivered"] == 1


def test_rar_days_against_ordered_caps_each_case_at_the_days_ordered():
    rows = [
        referral(
            id=1, accepted_on=date(2026, 5, 1), completed_on=date(2026, 7, 20), rar_days=10, rar_days_delivered=12
        ),
        referral(id=2, accepted_on=date(2026, 5, 1), withdrawn_on=date(2026, 7, 21), rar_days=10, rar_days_delivered=4),
        referral(id=3, accepted_on=date(2026, 5, 1), rar_days=10, rar_days_delivered=1),  # still open: not counted
    ]
    assert session_figures([], rows, JULY)["rar_days_against_ordered"] == {"n": 14, "d": 20}


@pytest.mark.parametrize(("minutes", "shown"), [(0, "0.0"), (95, "1.6"), (3, "0.1"), (90, "1.5"), (1, "0.0")])
def test_hours_are_rounded_half_up_to_one_place(minutes, shown):
    assert hours(minutes) == shown


# --- outcomes and end-of-service ----------------------------------------------------------------------------


def test_outcome_decisions_count_in_the_period_they_were_made():
    rows = [
        OutcomeRow(
            1, "housed", "Housed", "accommodation", "Accommodation", date(2026, 6, 30), verified_on=date(2026, 7, 2)
        ),
        OutcomeRow(
            1, "housed", "Housed", "accommodation", "Accommodation", date(2026, 7, 3), rejected_on=date(2026, 8, 1)
        ),
    ]
    figures = outcome_figures(rows, [], JULY)
    assert (figures["claimed"], figures["verified"], figures["rejected"]) == (1, 1, 0)


def test_the_achievement_score_counts_partial_achievement_as_half():
    reports = [
        EndOfServiceRow(1, date(2026, 7, 5), ("achieved", "partially_achieved", "not_achieved")),
        EndOfServiceRow(1, date(2026, 7, 9), ("achieved",)),
        EndOfServiceRow(1, date(2026, 8, 9), ("achieved",)),  # next month
    ]
    figures = outcome_figures([], reports, JULY)
    assert figures["desired_outcomes_assessed"] == 4
    assert percent_text(figures["achievement_score"]) == "62.5%"  # 2.5 of 4


# --- money ------------------------------------------------------------------------------------------------


def test_money_counts_each_step_on_its_own_day_and_credit_notes_once_approved():
    invoices = [
        InvoiceRow(1, "invoice", "paid", 10_000, date(2026, 7, 3), date(2026, 7, 10), date(2026, 8, 1)),
        InvoiceRow(1, "invoice", "rejected", 5_000, date(2026, 7, 4)),
        InvoiceRow(1, "invoice", "submitted", 2_500, date(2026, 7, 30)),
        InvoiceRow(1, "credit_note", "approved", -1_000, date(2026, 7, 20), date(2026, 8, 2)),
    ]
    assert money_figures(invoices, JULY) == {"invoiced_pence": 11_500, "approved_pence": 10_000, "paid_pence": 0}
    assert spend_to(invoices, date(2026, 7, 31)) == 12_500
    assert spend_to(invoices, date(2026, 8, 31)) == 11_500


# --- small numbers ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "shown", "total_hidden"),
    [
        ({"a": 10, "b": 7, "c": 0}, {"a": 10, "b": 7, "c": 0}, False),
        # one small count: the next smallest is hidden too, or b = total - a
        ({"a": 10, "b": 3, "c": 7}, {"a": 10, "b": None, "c": None}, False),
        ({"a": 2, "b": 3, "c": 20}, {"a": None, "b": None, "c": 20}, False),
        # one small count and nothing else: the total would give it away
        ({"a": 3, "b": 0}, {"a": None, "b": 0}, True),
        ({"a": 0, "b": 0}, {"a": 0, "b": 0}, False),
        ({"a": 5, "b": 4, "c": 5}, {"a": None, "b": None, "c": 5}, False),  # ties: the first by name
    ],
)
def test_small_numbers_are_hidden_with_a_second_cell_when_one_alone_would_be_recoverable(counts, shown, total_hidden):
    assert suppress(counts) == (shown, total_hidden)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from("abcdef"), st.integers(min_value=0, max_value=40), min_size=1))
def test_no_hidden_count_can_be_worked_out_from_what_is_shown(counts):
    shown, total_hidden = suppress(counts)
    hidden = [key for key, value in shown.items() if value is None]
    # nothing from 1 to 4 is ever shown
    assert all(value is None or value == 0 or value >= 5 for value in shown.values())
    # a total that is shown never pins down exactly one hidden count
    if not total_hidden:
        assert len(hidden) != 1
    # shown counts are the real ones
    assert all(counts[key] == value for key, value in shown.items() if value is not None)


def test_equality_tables_never_carry_a_small_number_or_its_percentage():
    counts = {
        "gender": {"male": 12, "female": 3, "other": 0, "not_stated": 0},
        "ethnicity": {g: 0 for g in ("Asian", "Black", "Mixed", "White", "Other", "Not stated")},
        "age": {k: 0 for k in ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")},
        "disability": {"yes": 0, "no": 15, "not_stated": 0},
    }
    gender = equality_tables({"period": counts})[0]
    cells = {row["key"]: row["values"]["period"] for row in gender["rows"]}
    assert cells["female"] == {"count": SUPPRESSED, "percent": None}
    # else female = 15 - 12; and male is not "fewer than 5", so it must not say so
    assert cells["male"] == {"count": HIDDEN, "percent": None}
    assert gender["totals"]["period"] == 15


@pytest.mark.parametrize(
    ("born", "on", "band"),
    [
        (date(2000, 7, 2), date(2024, 7, 1), "18-24"),
        (date(2000, 7, 1), date(2025, 7, 1), "25-34"),
        (date(1950, 1, 1), date(2026, 1, 1), "65+"),
        (None, date(2026, 1, 1), "not_stated"),
    ],
)
def test_age_bands_use_the_age_on_the_day_of_starting(born, on, band):
    assert age_band(born, on) == band


# --- properties of the whole set of figures ------------------------------------------------------------------------


days = st.dates(min_value=date(2026, 4, 1), max_value=date(2026, 12, 31))


@st.composite
def referral_rows(draw):
    sent = draw(days)
    accepted = draw(st.none() | st.integers(0, 10).map(lambda n: sent + timedelta(days=n)))
    contact = (
        None if accepted is None else draw(st.none() | st.integers(0, 15).map(lambda n: accepted + timedelta(days=n)))
    )
    return ReferralRow(
        id=draw(st.integers(1, 10**6)),
        contract_id=1,
        sent_on=sent,
        accept_due_on=sent + timedelta(days=2),
        accepted_on=accepted,
        first_contact_due_on=None if accepted is None else accepted + timedelta(days=7),
        first_contact_on=contact,
        gender=draw(st.sampled_from(["male", "female", "other", "not_stated"])),
        ethnicity_group=draw(st.sampled_from(["Asian", "Black", "White", "Not stated"])),
        date_of_birth=date(1990, 1, 1),
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(referral_rows(), max_size=40), st.sampled_from(["2026-Q2", "2026-Q3", "2026-07", "2026-11"]))
def test_for_any_records_the_figures_are_consistent(rows, code):
    period = parse_period(code)
    figures = compute_figures(
        Records(referrals=rows, cap_pence=100), period, today=TODAY, contract_start=date(2026, 4, 1)
    )
    window = period.window
    assert figure(figures, "received") == sum(1 for r in rows if r.sent_on in window)
    assert figure(figures, "received", "ytd") >= figure(figures, "received")
    met = figure(figures, "answered_within_sla")
    assert 0 <= met["n"] <= met["d"]
    assert figure(figures, "starts") == sum(1 for r in rows if r.first_contact_on in window)
    for table in figures["equality"]:
        for row in table["rows"]:
            count = row["values"]["period"]["count"]
            assert count in (SUPPRESSED, HIDDEN) or count == 0 or count >= 5
    if period.kind == PeriodKind.MONTH:
        assert figures["months"][-1]["received"] == figure(figures, "received")


@given(st.lists(st.integers(0, 100), min_size=1, max_size=30))
def test_the_median_has_as_many_values_above_as_below(values):
    middle = median(values)
    assert isinstance(middle, Decimal)
    assert sum(1 for v in values if v < middle) <= len(values) // 2
    assert sum(1 for v in values if v > middle) <= len(values) // 2


def test_two_rar_sessions_of_one_referral_on_one_day_are_one_rar_day_in_the_figures(quarter, nacro_caseworker):
    from sqlalchemy import select

    from portal.delivery.models import Attendance
    from portal.extensions import db
    from portal.referrals.models import Referral
    from portal.returns.records import load_records
    from tests.factories import SessionFactory

    a = db.session.scalars(select(Referral).where(Referral.reference == "QA0001AA")).one()
    SessionFactory(
        referral=a,
        date=date(2026, 7, 10),
        start_time=time(15),
        attendance=Attendance.ATTENDED,
        counts_as_rar_day=True,
        recorded_by=nacro_caseworker,
    )
    records = load_records([a.contract_id], date(2026, 7, 1), date(2026, 7, 31))
    assert session_figures(records.sessions, records.referrals, JULY)["rar_days_delivered"] == 2  # 10 and 17 July
