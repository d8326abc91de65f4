"""A contract's expected volumes against what happened: starts expected a month by service and a
spend profile, set from CSV files; spend judged against the profile (or the cap spread evenly), not
the cap alone; the CRC's under-referral and the partner's under-delivery flagged apart; declines for
no capacity and no service in the area reported as unmet need."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from portal.csv_files import FileRejected
from portal.dates import parse_period
from portal.errors import NotAllowed
from portal.grants import volumes
from portal.referrals.models import DeclineReason, ReferralStatus
from portal.returns.kpis import figure
from portal.returns.records import figures_for
from tests.factories import InvoiceFactory, ReferralFactory
from tests.helpers import STORY_DAY, text_of

pytestmark = pytest.mark.on_day(STORY_DAY)  # 7 December 2026; the contract runs 1 April 2026 to 31 March 2028


def moment(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 11, tzinfo=UTC)


def starts_csv(per_month: int, service: str = "ACC-TTG") -> bytes:
    rows = ["month,service_code,expected_starts"]
    month = date(2026, 4, 1)
    while month <= date(2028, 3, 1):
        rows.append(f"{month:%Y-%m},{service},{per_month}")
        month = (month + timedelta(days=32)).replace(day=1)
    return ("\n".join(rows) + "\n").encode()


def headline(figures, key):
    return next((kpi["shown"], kpi["status"]) for kpi in figures["headline"] if kpi["key"] == key)


def test_spend_is_judged_against_what_was_expected_by_now_not_the_cap_alone(ttg_service, contract_manager):
    # 1.5% of the cap spent eight months into twenty-four: within the cap, far under the even line.
    InvoiceFactory(contract=ttg_service, submitted=True, lines__quantity_hundredths=100, lines__amount_pence=375_000)
    figures = figures_for(ttg_service, parse_period("2026-12"), today=STORY_DAY)
    assert headline(figures, "cap") == ("1.5%", "met")
    assert headline(figures, "spend")[1] == "not_met"
    summary = figures["volumes"]["contracts"][0]
    assert summary["expected_spend_whole_pence"] == ttg_service.value_cap_pence and not summary["profiled"]
    # With a profile that expected almost nothing yet, the same spend is on course.
    profile = "month,expected_spend\n2026-04,100.00\n2026-05,100.00\n2026-06,100.00\n2027-04,200000.00\n"
    volumes.import_spend_profile(contract_manager, ttg_service, profile.encode())
    figures = figures_for(ttg_service, parse_period("2026-12"), today=STORY_DAY)
    assert headline(figures, "spend")[1] == "met"
    assert figures["volumes"]["contracts"][0]["profiled"]


def test_too_few_referrals_flag_the_crc_and_accepted_work_not_started_flags_the_partner(
    ttg_service, contract_manager, referrer
):
    volumes.import_expected_starts(contract_manager, ttg_service, starts_csv(5))
    # Two referrals in eight months, against forty starts expected: the CRC under-refers.
    for n in range(2):
        ReferralFactory(
            contract=ttg_service,
            service_code="ACC-TTG",
            referrer=referrer,
            in_progress=True,
            reference=f"VV{n:04d}AA",
            sent_at=moment(date(2026, 11, 5)),
        )
    figures = figures_for(ttg_service, parse_period("2026-11"), today=STORY_DAY)
    mine = figures["volumes"]["contracts"][0]
    assert mine["expected_starts"] == 40 and mine["received"] == 2
    assert mine["crc_under_referral"] and not mine["partner_under_delivery"]
    assert figures["volumes"]["crc_under_referral"] == [ttg_service.id]
    assert figure(figures, "volume_expected_starts") == 5 and figure(figures, "volume_starts", "ytd") == 2
    # An accepted referral waiting past its first-contact date is the partner's to answer for.
    ReferralFactory(
        contract=ttg_service,
        service_code="ACC-TTG",
        referrer=referrer,
        accepted=True,
        first_contact_due_on=date(2026, 11, 16),
        reference="VW0001AA",
        sent_at=moment(date(2026, 11, 5)),
    )
    figures = figures_for(ttg_service, parse_period("2026-11"), today=STORY_DAY)
    assert figures["volumes"]["contracts"][0]["partner_under_delivery"]
    assert figures["volumes"]["contracts"][0]["accepted_not_started"] == 1


def test_expected_starts_import_all_or_nothing_naming_row_and_column(ttg_service, contract_manager, nacro_manager):
    bad = b"month,service_code,expected_starts\n2026-04,ACC-TTG,5\n2031-01,ACC-TTG,5\n2026-05,NOPE,x\n"
    with pytest.raises(FileRejected) as rejected:
        volumes.import_expected_starts(contract_manager, ttg_service, bad)
    assert {(e.row, e.column) for e in rejected.value.errors} == {
        (3, "month"),
        (4, "service_code"),
        (4, "expected_starts"),
    }
    assert volumes.expected_starts_of(ttg_service) == []
    with pytest.raises(NotAllowed):
        volumes.import_expected_starts(nacro_manager, ttg_service, starts_csv(1))


def test_declines_for_no_capacity_and_no_service_in_the_area_are_unmet_need(ttg_service, referrer):
    for n, reason in enumerate(
        (DeclineReason.NO_CAPACITY, DeclineReason.NO_CAPACITY, DeclineReason.OUTSIDE_AREA, DeclineReason.DUPLICATE)
    ):
        ReferralFactory(
            contract=ttg_service,
            service_code="ACC-TTG",
            referrer=referrer,
            status=ReferralStatus.DECLINED,
            declined_at=moment(date(2026, 11, 10)),
            decline_reason=reason,
            sent_at=moment(date(2026, 11, 9)),
            reference=f"UN{n:04d}AA",
        )
    figures = figures_for(ttg_service, parse_period("2026-11"), today=STORY_DAY)
    assert figure(figures, "unmet_need") == 3
    assert figure(figures, "unmet_no_capacity") == 2 and figure(figures, "unmet_no_service_in_area") == 1


def test_the_dashboard_and_the_contracts_page_show_the_contract_against_what_it_expected(
    ttg_service, contract_manager, referrer, portal
):
    volumes.import_expected_starts(contract_manager, ttg_service, starts_csv(5))
    portal.sign_in(contract_manager)
    dashboard = text_of(portal.get("/dashboard/?view=contracts"))
    assert "Under-referred by the CRC" in dashboard
    summary = text_of(portal.get("/dashboard/"))
    assert "Under-referred by the CRC (referrals below 80% of the starts expected): BENCH-ACC-01" in summary
    page = portal.get(f"/contracts/{ttg_service.reference}/volumes")
    assert page.status_code == 200 and "Under-referred by the CRC" in text_of(page)
