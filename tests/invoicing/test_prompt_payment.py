"""Prompt payment (issue 18): how promptly the CRC pays, by partner, contract and month, counted
in SQL on the dashboard and from plain rows in the service return, one definition for both; a
partner sees its own figures, the contract manager everyone's."""

from datetime import date, timedelta

import pytest

from portal.dates import Window
from portal.invoicing import prompt_payment
from portal.invoicing.models import InvoiceKind, InvoiceStatus
from portal.invoicing.payment_terms import paid_figures
from portal.returns.kpis import InvoiceRow, payment_figures
from tests.factories import InvoiceFactory
from tests.helpers import STORY_DAY, QueryCounter, text_of

pytestmark = pytest.mark.on_day(STORY_DAY)

OCTOBER, NOVEMBER = date(2026, 10, 1), date(2026, 11, 1)


def paid(contract, paid_on: date, days: int, *, late: bool, kind=InvoiceKind.INVOICE):
    return InvoiceFactory(
        contract=contract,
        kind=kind,
        paid=True,
        paid_on=paid_on,
        received_on=paid_on - timedelta(days=days),
        days_to_pay=days,
        paid_late=late,
        lines=0,
    )


@pytest.fixture
def payments(nacro_contract, st_giles_contract):
    made = [
        paid(nacro_contract, date(2026, 10, 20), 12, late=False),
        paid(nacro_contract, date(2026, 10, 28), 31, late=True),  # past 30 days and its terms
        paid(nacro_contract, date(2026, 11, 3), 30, late=False),  # on the 30th day: within both
        paid(st_giles_contract, date(2026, 11, 10), 19, late=True),  # 14-day terms
        # Not counted: a credit note, and an invoice approved but not paid.
        paid(nacro_contract, date(2026, 11, 11), 5, late=False, kind=InvoiceKind.CREDIT_NOTE),
        InvoiceFactory(contract=nacro_contract, status=InvoiceStatus.APPROVED, approved=True, lines=0),
    ]
    return made


def test_the_figures_by_partner_contract_and_month(payments, nacro_contract, st_giles_contract):
    report = prompt_payment.report([nacro_contract.id, st_giles_contract.id], OCTOBER, date(2026, 11, 30))
    assert [(r.contract, r.month, r.paid, r.late, r.within_30) for r in report.rows] == [
        ("BENCH-ACC-01", OCTOBER, 2, 1, 1),
        ("BENCH-ACC-01", NOVEMBER, 1, 0, 1),
        ("BENCH-ETE-02", NOVEMBER, 1, 1, 1),
    ]
    overall = report.overall
    assert (overall.paid, overall.late, overall.within_terms, overall.within_30) == (4, 2, 2, 3)
    assert overall.within_terms_text == "50.0%" and overall.within_30_text == "75.0%"
    assert str(overall.average_days) == "23.0" and overall.longest == 31
    assert [(month, figures.paid) for month, figures in report.grouped("month")] == [(OCTOBER, 2), (NOVEMBER, 2)]
    assert [partner for partner, _ in report.grouped("partner")] == ["Nacro", "St Giles Trust"]


def test_the_service_return_counts_as_the_dashboard_does(payments, nacro_contract, st_giles_contract):
    """One definition: the return's figures from plain rows equal the dashboard's SQL aggregate."""
    rows = [
        InvoiceRow(
            contract_id=i.contract_id,
            kind=i.kind.value,
            status=i.status.value,
            subtotal_pence=i.subtotal_pence,
            paid_on=i.paid_on,
            days_to_pay=i.days_to_pay,
            paid_late=i.paid_late,
        )
        for i in payments
    ]
    window = Window(OCTOBER, date(2026, 11, 30))
    from_rows = payment_figures(rows, window)
    in_sql = prompt_payment.report([nacro_contract.id, st_giles_contract.id], window.start, window.end).overall
    assert from_rows == {
        "invoices_paid": in_sql.paid,
        "paid_late": in_sql.late,
        "paid_within_terms": in_sql.within_terms_share,
        "paid_within_30_days": in_sql.within_30_share,
        "average_days_to_pay": str(in_sql.average_days),
    }
    assert paid_figures([(30, False), (31, True)]).within_30 == 1


def test_the_contract_manager_sees_every_partner_and_a_partner_only_its_own(
    portal, payments, contract_manager, nacro_manager, st_giles_manager
):
    portal.sign_in(contract_manager)
    page = text_of(portal.get("/dashboard/?view=payments&period=2026-11"))
    assert "Prompt payment" in page and "By partner" in page
    assert "BENCH-ACC-01" in page and "BENCH-ETE-02" in page and "St Giles Trust" in page
    portal.sign_out()
    portal.sign_in(st_giles_manager)
    own = text_of(portal.get("/dashboard/?view=payments&period=2026-11"))
    assert "BENCH-ETE-02" in own and "BENCH-ACC-01" not in own and "By partner" not in own
    assert "Within 30 days" in own


def test_each_contract_by_month_is_shown_for_one_partner_and_downloaded_for_the_whole_crc(
    portal, payments, contract_manager, st_giles_manager, nacro_contract, st_giles_contract
):
    """For the whole CRC, a row for every contract and month is a download (670 rows at national
    scale); chosen one partner, they are on the page."""
    portal.sign_in(contract_manager)
    whole = text_of(portal.get("/dashboard/?view=payments&period=2026-11"))
    assert "3 rows, one for each contract and month" in whole and "download every row (CSV)" in whole
    assert "Download these rows (CSV)" not in whole
    nacro = text_of(portal.get(f"/dashboard/?view=payments&period=2026-11&partner={nacro_contract.partner_id}"))
    assert "Download these rows (CSV)" in nacro and "BENCH-ACC-01 Nacro October 2026" in nacro

    download = portal.get("/dashboard/payments.csv?period=2026-11")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    lines = download.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("Partner,Contract,Month paid,Invoices paid,Paid late")
    assert sorted(tuple(line.split(",")[:3]) for line in lines[1:]) == sorted(
        (row.partner, row.contract, row.month.strftime("%B %Y"))
        for row in prompt_payment.report(
            [nacro_contract.id, st_giles_contract.id], date(2026, 4, 1), date(2026, 11, 30)
        ).rows
    )
    assert len(lines) == 4
    portal.sign_out()

    # A partner has one partner's contracts: the rows are on its page, and its download holds its own.
    portal.sign_in(st_giles_manager)
    assert "Download these rows (CSV)" in text_of(portal.get("/dashboard/?view=payments&period=2026-11"))
    own = portal.get("/dashboard/payments.csv?period=2026-11").get_data(as_text=True)
    assert "BENCH-ETE-02" in own and "BENCH-ACC-01" not in own and "Nacro" not in own


def test_the_payments_part_takes_the_same_queries_for_more_invoices(
    app, portal, payments, contract_manager, nacro_contract
):
    portal.sign_in(contract_manager)
    portal.get("/dashboard/?view=payments&period=2026-11")
    with QueryCounter(app) as few:
        portal.get("/dashboard/?view=payments&period=2026-11")
    for day in range(1, 20):
        paid(nacro_contract, date(2026, 9, day), day * 3, late=day > 10)
    with QueryCounter(app) as many:
        portal.get("/dashboard/?view=payments&period=2026-11")
    assert many.count == few.count


def test_the_invoice_list_shows_days_to_pay_and_paid_late(portal, payments, contract_manager):
    portal.sign_in(contract_manager)
    page = text_of(portal.get("/invoices/?status=paid"))
    assert "in 31 days Paid late" in page and "in 12 days" in page
