"""The dashboard: contract managers across partners, partner managers their own; filters; links to
the records; a bounded number of queries; the per-referral performance export."""

import csv
import io
from datetime import date

import pytest

from portal.contracts.models import Pathway, Service, Setting
from portal.dashboards.performance import COLUMNS
from portal.dashboards.views import invoices_url
from portal.extensions import db
from portal.figure_cache import forget
from tests.factories import (
    InvoiceEventFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    RateCardItemFactory,
    ReferralFactory,
)
from tests.helpers import STORY_DAY, QueryCounter, text_of
from tests.returns.conftest import at

pytestmark = pytest.mark.on_day(STORY_DAY)  # a worked example set in 2026


@pytest.fixture
def st_giles_work(st_giles_contract, referrer):
    for n in range(3):
        ReferralFactory(
            contract=st_giles_contract,
            service_code="ETE-REL",
            referrer=referrer,
            reference=f"SG{n:04d}ZZ",
            sent_at=at(date(2026, 8, 10)),
            prison="HMP The Mount",
        )


def test_a_contract_manager_sees_every_partners_contracts(portal, quarter, st_giles_work, contract_manager):
    portal.sign_in(contract_manager)
    response = portal.get("/dashboard/?period=2026-Q3")
    assert response.status_code == 200
    text = text_of(response)
    assert "BENCH-ACC-01" in text and "BENCH-ETE-02" in text
    html = response.get_data(as_text=True)
    # 4 Nacro referrals and 3 St Giles referrals received in the quarter, linked to the list
    assert '<p class="portal-tile__number">7</p>' in html
    assert "/referrals/?tab=all&amp;sent_from=2026-07-01&amp;sent_to=2026-09-30" in html


def test_filters_narrow_the_figures_to_one_partner(portal, quarter, st_giles_work, contract_manager, st_giles):
    portal.sign_in(contract_manager)
    html = portal.get(f"/dashboard/?period=2026-Q3&partner={st_giles.id}").get_data(as_text=True)
    assert '<p class="portal-tile__number">3</p>' in html
    assert f"partner_id={st_giles.id}" in html
    html = portal.get("/dashboard/?period=2026-Q3&area=HMP+The+Mount").get_data(as_text=True)
    assert '<p class="portal-tile__number">3</p>' in html
    html = portal.get("/dashboard/?period=2026-Q3&pathway=accommodation").get_data(as_text=True)
    assert '<p class="portal-tile__number">4</p>' in html  # St Giles' service has no rate card item


def test_a_service_without_rate_card_items_counts_under_its_own_pathway(
    portal, quarter, st_giles_work, st_giles_contract, contract_manager
):
    """A grant's services have no rate-card items: the pathway filters ask the service record, so
    their referrals are not lost from a pathway's dashboard, return or inbox."""
    db.session.add(
        Service(
            contract_id=st_giles_contract.id,
            code="ETE-REL",
            name="Resettlement ETE",
            pathway=Pathway.ETE,
            setting=Setting.BOTH,
        )
    )
    db.session.commit()
    portal.sign_in(contract_manager)
    html = portal.get("/dashboard/?period=2026-Q3&pathway=ete").get_data(as_text=True)
    assert '<p class="portal-tile__number">3</p>' in html
    listed = text_of(portal.get("/referrals/?tab=all&pathway=ete"))
    assert all(f"SG{n:04d}ZZ" in listed for n in range(3))
    assert "SG0000ZZ" not in text_of(portal.get("/referrals/?tab=all&pathway=accommodation"))


def test_a_partner_manager_sees_only_their_own_contracts(portal, quarter, st_giles_work, nacro_manager, st_giles):
    portal.sign_in(nacro_manager)
    response = portal.get(f"/dashboard/?period=2026-Q3&partner={st_giles.id}&contract=BENCH-ETE-02")
    text = text_of(response)
    assert "BENCH-ETE-02" not in text and "St Giles" not in text
    assert '<p class="portal-tile__number">4</p>' in response.get_data(as_text=True)


def test_caseworkers_and_referrers_have_no_dashboard(portal, nacro_caseworker):
    portal.sign_in(nacro_caseworker)
    assert portal.get("/dashboard/").status_code == 403


def test_the_dashboard_takes_the_same_queries_for_few_or_many_records(
    app,
    portal,
    quarter,
    contract_manager,
    referrer,
    st_giles_contract,
):
    portal.sign_in(contract_manager)
    portal.get("/dashboard/?period=2026-Q3")
    forget()  # counted, not remembered (portal.figure_cache), both times
    with QueryCounter(app) as few:
        portal.get("/dashboard/?period=2026-Q3")
    for n in range(40):
        ReferralFactory(
            contract=st_giles_contract if n % 2 else quarter["contract"],
            service_code="ACC-TTG",
            referrer=referrer,
            reference=f"DQ{n:04d}AA",
            sent_at=at(date(2026, 8, 3)),
        )
    forget()
    with QueryCounter(app) as many:
        portal.get("/dashboard/?period=2026-Q3")
    assert many.count == few.count


def test_waiting_work_links_to_the_invoices_and_returns_behind_it(portal, quarter, contract_manager, nacro_manager):
    from tests.factories import ServiceReturnFactory

    ServiceReturnFactory(
        contract=quarter["contract"], period_start=date(2026, 7, 1), created_by=nacro_manager, submitted=True
    )
    portal.sign_in(contract_manager)
    html = portal.get("/dashboard/?period=2026-Q3").get_data(as_text=True)
    assert 'href="/invoices/?status=submitted"' in html
    assert 'href="/service-returns/?status=submitted"' in html


def test_the_invoice_link_uses_the_invoice_list_once_it_exists(app):
    with app.test_request_context():
        assert invoices_url(status="submitted", contract="", overdue="yes") == "/invoices/?status=submitted&overdue=yes"


def test_the_performance_export_has_the_refer_and_monitor_columns_and_our_own(portal, quarter, nacro_manager):
    portal.sign_in(nacro_manager)
    response = portal.get("/dashboard/performance.csv?period=2026-Q3")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == list(COLUMNS) and len(COLUMNS) >= 27 + 10
    by_reference = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert set(by_reference) == {"QA0001AA", "QB0002BB", "QC0003CC", "QD0004DD", "QE0005EE"}
    a = by_reference["QA0001AA"]
    assert (a["sessions_expected"], a["sessions_attended"], a["sessions_not_attended"]) == ("4", "2", "2")
    assert (a["date_first_appointment_held"], a["first_appointment_attended_on_time"]) == ("2026-07-10", "yes")
    assert (a["answered_within_sla"], a["first_contact_within_sla"], a["rar_days_delivered"]) == ("yes", "yes", "2")
    assert by_reference["QB0002BB"]["answered_within_sla"] == "no"
    assert by_reference["QC0003CC"]["decline_reason"] == "No capacity"
    assert by_reference["QD0004DD"]["end_state"] == "cancelled"
    e = by_reference["QE0005EE"]
    assert (e["end_state"], e["outcomes_achieved_score"], e["end_of_service_report_submitted_at"]) == (
        "completed",
        "1.5",
        "2026-08-20",
    )


def test_the_dashboard_figures_download_as_csv_and_xlsx(portal, quarter, nacro_manager):
    from io import BytesIO

    from openpyxl import load_workbook

    portal.sign_in(nacro_manager)
    text = portal.get("/dashboard/figures.csv?period=2026-Q3").get_data(as_text=True)
    assert "Referrals,Referrals received,4,1,5" in text
    workbook = load_workbook(BytesIO(portal.get("/dashboard/figures.xlsx?period=2026-Q3").data))
    assert workbook["Figures"]["A1"].value == "Dashboard: BENCH-ACC-01, July to September 2026"


def test_the_performance_export_shows_what_each_referral_was_invoiced(portal, quarter, nacro_manager):
    """On PostgreSQL the sums arrive as NUMERIC: the export once failed there (money.pounds)."""
    from portal.contracts.models import Unit
    from portal.extensions import db
    from portal.invoicing.models import Invoice

    invoice = db.session.query(Invoice).filter_by(number="NACRO-000001").one()
    item = RateCardItemFactory(contract=quarter["contract"], code="QA-REF", service_code="QA", unit=Unit.PER_REFERRAL)
    line = InvoiceLineFactory(
        invoice=invoice, item=item, price=None, description="Referral", unit_price_pence=72_000, position=1
    )
    InvoiceEventFactory(
        line=line, event_key=f"referral:{quarter['a'].id}", referral_id=quarter["a"].id, event_date=date(2026, 7, 2)
    )
    db.session.commit()
    portal.sign_in(nacro_manager)
    response = portal.get("/dashboard/performance.csv?period=2026-Q3")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    invoiced = [
        value for row in rows if row["referral_ref"] == "QA0001AA" for key, value in row.items() if "invoiced" in key
    ]
    assert invoiced == ["720.00"]


def test_the_performance_export_shows_what_each_referral_has_been_invoiced(portal, quarter, nacro_manager):
    """PostgreSQL sums money as NUMERIC: the amounts must still come out as pounds and pence."""
    from sqlalchemy import select

    from portal.contracts.models import Contract
    from portal.delivery.models import Session
    from portal.extensions import db
    from portal.referrals.models import Referral

    referral = db.session.scalar(select(Referral).where(Referral.reference == "QA0001AA"))
    session_ids = db.session.scalars(select(Session.id).where(Session.referral_id == referral.id)).all()[:2]
    contract = db.session.get(Contract, referral.contract_id)
    item = RateCardItemFactory(contract=contract, code="QA-SES", service_code=referral.service_code)
    # A submitted invoice billing two of the referral's sessions at £45 each.
    invoice = InvoiceFactory(contract=contract, submitted=True, period_start=date(2026, 7, 1), vat_rate_bp=0, lines=0)
    line = InvoiceLineFactory(
        invoice=invoice, item=item, price=None, description="Sessions", quantity_hundredths=200, unit_price_pence=4500
    )
    invoice.subtotal_pence = invoice.total_pence = line.amount_pence
    for session_id in session_ids:
        InvoiceEventFactory(
            line=line,
            event_key=f"session:{session_id}",
            referral_id=referral.id,
            session_id=session_id,
            event_date=date(2026, 7, 10),
        )
    db.session.commit()
    portal.sign_in(nacro_manager)

    response = portal.get("/dashboard/performance.csv?period=2026-Q3")

    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    by_reference = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert by_reference["QA0001AA"]["invoiced_before_vat"] == "90.00"


def test_the_dashboard_opens_on_a_summary_with_the_detail_one_part_at_a_time(portal, contract_manager, nacro_contract):
    from tests.helpers import text_of

    portal.sign_in(contract_manager)
    summary = text_of(portal.get("/dashboard/"))
    assert "referrals received" in summary and "Equality monitoring of people starting" not in summary
    assert "Attendance per month" not in summary
    assert "Equality monitoring of people starting" in text_of(portal.get("/dashboard/?view=equality"))
    assert "Attendance per month" in text_of(portal.get("/dashboard/?view=charts"))
    figures = portal.get("/dashboard/?view=figures&period=2026-Q3").get_data(as_text=True)
    assert 'href="/dashboard/?view=equality&amp;period=2026-Q3"' in figures  # each part keeps the filters


DASHBOARD_PAGES = (
    "/dashboard/?period=2026-Q3",
    "/dashboard/?period=2026-Q3&view=figures",
    "/dashboard/?period=2026-Q3&view=contracts",
    "/dashboard/?period=2026-Q3&view=charts",
    "/dashboard/?period=2026-Q3&view=equality",
    "/dashboard/?period=2026-09&pathway=accommodation",
    "/dashboard/?period=2026-Q3&area=HMP+Bedford",
    "/dashboard/?period=2026-Q3&contract=BENCH-ACC-01",
    "/dashboard/figures.csv?period=2026-Q3",
    "/dashboard/?period=2026-Q3&view=payments",
    "/dashboard/?period=2026-Q3&view=export",
)


def test_every_part_and_filter_of_the_dashboard_takes_the_same_queries_for_a_few_records_or_a_history(
    app, portal, quarter, contract_manager, referrer, nacro_caseworker, st_giles_contract
):
    """The figures are counted in SQL: a year of referrals, sessions of every kind, outcomes,
    concerns, releases and reports adds no query to any part of the dashboard."""
    import random

    from tests.test_figures_match_records import random_history

    portal.sign_in(contract_manager)
    few = {}
    for url in DASHBOARD_PAGES:
        portal.get(url)
        forget()  # counted, not remembered (portal.figure_cache), before and after the history
        with QueryCounter(app) as queries:
            assert portal.get(url).status_code == 200
        few[url] = queries.count
    random_history(random.Random(11), [quarter["contract"], st_giles_contract], referrer, nacro_caseworker)
    for url in DASHBOARD_PAGES:
        forget()
        with QueryCounter(app) as queries:
            assert portal.get(url).status_code == 200
        assert queries.count == few[url], url
        assert queries.count <= 45, url  # the figures take about twenty of them


def test_the_area_filter_offers_the_places_referrals_on_the_contracts_name(
    portal, quarter, st_giles_work, contract_manager, nacro_manager, referrer, crc
):
    """By the place's record (its name now), or the name a referral carried before the records
    existed; a place no sent referral on the user's contracts names is not offered."""
    from portal.extensions import db
    from portal.places.models import ProbationOffice

    db.session.add(ProbationOffice(crc_id=crc.id, name="Nowhere Street probation office"))  # no referral names it
    ReferralFactory(
        contract=quarter["contract"],
        service_code="ACC-TTG",
        referrer=referrer,
        reference="AR0001AA",
        sent_at=at(date(2026, 8, 4)),
        community_office="Old Kempston office",
    )
    portal.sign_in(contract_manager)
    html = portal.get("/dashboard/?period=2026-Q3").get_data(as_text=True)
    assert 'value="Old Kempston office"' in html and 'value="HMP The Mount"' in html
    assert 'value="Nowhere Street probation office"' not in html
    portal.sign_in(nacro_manager)
    html = portal.get("/dashboard/?period=2026-Q3").get_data(as_text=True)
    assert 'value="Old Kempston office"' in html
