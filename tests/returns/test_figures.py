"""The figures of a return, from the records, against the worked example counted by hand."""

from datetime import date

import pytest

from portal.dates import parse_period
from portal.returns.kpis import SUPPRESSED, figure
from portal.returns.records import figures_for, load_records
from portal.returns.views import figure_text
from tests.helpers import STORY_DAY, QueryCounter
from tests.returns.conftest import EXPECTED_Q3

pytestmark = pytest.mark.on_day(STORY_DAY)  # a worked example set in 2026


TODAY = date(2026, 12, 2)
KINDS = {}


def shown(figures, key, column="period"):
    for section in figures["sections"]:
        for row in section["rows"]:
            if row["key"] == key:
                return figure_text(row["values"][column], row["kind"])
    raise KeyError(key)


@pytest.mark.parametrize("key", sorted(EXPECTED_Q3))
def test_every_figure_of_the_quarter_matches_the_records_counted_by_hand(quarter, key):
    figures = figures_for(quarter["contract"], parse_period("2026-Q3"), today=TODAY)
    assert shown(figures, key) == str(EXPECTED_Q3[key])


def test_the_previous_quarter_and_the_year_to_date_sit_beside_the_period(quarter):
    figures = figures_for(quarter["contract"], parse_period("2026-Q3"), today=TODAY)
    assert figure(figures, "received", "previous") == 1  # E, in May
    assert figure(figures, "received", "ytd") == 5  # from 1 April
    assert figure(figures, "starts", "previous") == 1
    assert figures["columns"]["ytd"]["start"] == "2026-04-01"


def test_reasons_for_declines_and_withdrawals_are_counted_under_their_labels(quarter):
    figures = figures_for(quarter["contract"], parse_period("2026-Q3"), today=TODAY)
    assert figure(figures, "declined_no_capacity") == 1
    referrals = next(s for s in figures["sections"] if s["key"] == "referrals")
    labels = {row["key"]: row["label"] for row in referrals["rows"]}
    assert labels["declined_no_capacity"] == "No capacity"
    assert labels["withdrawn_moved_out_of_area"] == "Moved out of the area"


def test_prisons_and_probation_offices_break_down_custody_and_community(quarter):
    figures = figures_for(quarter["contract"], parse_period("2026-Q3"), today=TODAY)
    assert figure(figures, "prison:HMP Bedford") == 3
    assert figure(figures, "office:Bedford probation office") == 1


def test_two_people_starting_are_both_hidden_as_fewer_than_5_and_so_is_the_total(quarter):
    figures = figures_for(quarter["contract"], parse_period("2026-Q3"), today=TODAY)
    gender = next(t for t in figures["equality"] if t["key"] == "gender")
    cells = {row["key"]: row["values"]["period"]["count"] for row in gender["rows"]}
    assert cells == {"male": SUPPRESSED, "female": SUPPRESSED, "other": 0, "not_stated": 0}
    assert gender["totals"]["period"] == SUPPRESSED


def test_outcomes_are_listed_by_pathway_and_type(quarter):
    figures = figures_for(quarter["contract"], parse_period("2026-Q3"), today=TODAY)
    assert figures["outcomes_by_type"] == [
        {
            "pathway": "accommodation",
            "pathway_label": "Accommodation",
            "outcome_type": "housed_on_release",
            "label": "Housed on release",
            "claimed": 2,
            "verified": 1,
            "rejected": 1,
        }
    ]


def test_the_months_charted_are_the_contracts_months_up_to_the_period_end(quarter):
    figures = figures_for(quarter["contract"], parse_period("2026-Q3"), today=TODAY)
    assert [m["month"] for m in figures["months"]] == ["2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09"]
    july = figures["months"][3]
    assert (july["received"], july["attended"], july["late"], july["missed"]) == (2, 2, 1, 1)


def test_headline_figures_are_measured_against_their_targets(quarter):
    figures = figures_for(quarter["contract"], parse_period("2026-Q3"), today=TODAY)
    results = {kpi["key"]: (kpi["shown"], kpi["status"]) for kpi in figures["headline"]}
    assert results["answered_within_sla"] == ("66.7%", "not_met")
    assert results["attendance_rate"] == ("66.7%", "not_met")
    assert results["achievement_score"] == ("75.0%", "met")
    assert results["cap"] == ("0.4%", "met")
    # Against the cap spread evenly over the contract's months, 0.4% spent is far under what was expected by now.
    assert results["spend"] == ("1.6%", "not_met")


def test_loading_the_records_takes_the_same_few_queries_for_few_or_many_rows(app, quarter, ttg_service, referrer):
    from tests.factories import ReferralFactory

    contract = quarter["contract"]
    with QueryCounter(app) as few:
        load_records([contract.id], date(2026, 4, 1), date(2026, 9, 30))
    for n in range(30):
        ReferralFactory(
            contract=contract,
            service_code="ACC-TTG",
            referrer=referrer,
            reference=f"MN{n:04d}AA",
            sent_at=quarter["a"].sent_at,
        )
    with QueryCounter(app) as many:
        records = load_records([contract.id], date(2026, 4, 1), date(2026, 9, 30))
    assert len(records.referrals) == 35
    assert many.count == few.count <= 11
