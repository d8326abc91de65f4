"""A month's invoice through a real browser (issue 6, "Done means"): the partner manager generates
it, checks the work behind a line and submits it; the contract manager queries it; the partner
revises and resubmits it; the contract manager approves it, downloads the PDF — whose every
figure equals the stored invoice — and marks it paid."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from io import BytesIO

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader
from sqlalchemy import select

from portal.contracts.models import Unit
from portal.dates import london_today
from portal.delivery.models import Attendance
from portal.extensions import db
from portal.formatting import format_money
from portal.invoicing.models import Invoice, InvoiceLine, InvoiceStatus
from portal.referrals.models import ReferralStatus
from tests.browser.conftest import assert_accessible, sign_in
from tests.browser.test_referral_journey import fill_date, sign_out
from tests.factories import PersonFactory, RateCardItemFactory, RateCardPriceFactory, ReferralFactory, SessionFactory

pytestmark = pytest.mark.browser

MONEY = re.compile(r"-?£[\d,]+\.\d\d")


def last_month() -> date:
    first = london_today().replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


@pytest.fixture
def month_of_work(nacro_contract, referrer, nacro_caseworker):
    """Last month on Nacro's contract: a referral accepted, two sessions attended, one missed."""
    month = last_month()
    nacro_contract.start_date, nacro_contract.end_date = month - timedelta(days=365), month + timedelta(days=365)
    nacro_contract.vat_rate_bp = 2000
    prices = {"ACC-REF": (Unit.PER_REFERRAL, 15_000), "ACC-SESSION": (Unit.PER_SESSION, 4_500)}
    for code, (unit, pence) in prices.items():
        item = RateCardItemFactory(
            contract=nacro_contract, code=code, service_code="ACC", unit=unit, name=f"Accommodation {code[4:].lower()}"
        )
        RateCardPriceFactory(item=item, unit_price_pence=pence, effective_from=nacro_contract.start_date)
    referral = ReferralFactory(
        reference="IJ2345AB",
        contract=nacro_contract,
        service_code="ACC",
        referrer=referrer,
        status=ReferralStatus.IN_PROGRESS,
        accepted_at=datetime.combine(month + timedelta(days=1), time(10), tzinfo=UTC),
        caseworker=nacro_caseworker,
        person=PersonFactory(given_name="Ava", family_name="Ashdown"),
    )
    for day, attendance in ((3, Attendance.ATTENDED), (10, Attendance.LATE), (17, Attendance.DID_NOT_ATTEND)):
        SessionFactory(
            referral=referral,
            date=month.replace(day=day),
            start_time=time(10, 30),
            attendance=attendance,
            recorded_by=nacro_caseworker,
        )
    return nacro_contract


def the_invoice() -> Invoice:
    db.session.expire_all()
    return db.session.scalars(select(Invoice)).one()


def success(page: Page, text: str) -> None:
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(text)


def test_an_invoice_generated_checked_submitted_queried_resubmitted_approved_downloaded_and_paid(
    page: Page, live_server: str, month_of_work, nacro_manager, contract_manager, tmp_path
) -> None:
    month = last_month()
    month_name = f"{month:%B %Y}"

    # The partner manager generates last month's invoice from the records.
    sign_in(page, live_server, nacro_manager)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Invoices").click()
    page.get_by_role("button", name="Generate an invoice").click()
    page.get_by_label("Contract").select_option(month_of_work.reference)
    group = page.get_by_role("group", name="Month to invoice")
    group.get_by_label("Month").fill(str(month.month))
    group.get_by_label("Year").fill(str(month.year))
    page.get_by_role("button", name="Generate draft invoice").click()
    success(page, f"Draft invoice for {month_name} generated from the records")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Draft invoice")
    expect(page.get_by_role("row", name="Subtotal £240.00")).to_be_visible()
    assert_accessible(page)

    # They check the sessions behind the session line: the missed one is not billed.
    page.get_by_role("link", name=re.compile("2 events billed by line 2, ACC-SESSION")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("ACC-SESSION: the work this line bills")
    expect(page.get_by_text("This equals the line on the invoice: quantity 2, amount £90.00")).to_be_visible()
    rows = page.locator("table").last.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Attended")
    expect(rows.last).to_contain_text("Attended late")
    expect(rows.first.get_by_role("link", name="IJ2345AB")).to_be_visible()
    expect(rows.first).to_contain_text("Ava Ashdown")
    assert_accessible(page)
    page.get_by_role("link", name="Back to draft invoice").click()

    page.get_by_role("button", name="Submit invoice").click()
    success(page, "Invoice NACRO-000001 submitted to the CRC")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Submitted")
    sign_out(page)

    # The contract manager finds it in the queue and queries it.
    sign_in(page, live_server, contract_manager)
    page.get_by_role("link", name=re.compile("invoice or credit note to approve, query or reject")).click()
    page.get_by_role("link", name="NACRO-000001").click()
    page.get_by_role("button", name="Query invoice").click()
    page.get_by_label("What needs checking?").fill("Was the session on the 10th attended? It says late.")
    assert_accessible(page)
    page.get_by_role("button", name="Query invoice").click()
    success(page, "Invoice NACRO-000001 queried")
    sign_out(page)

    # The partner reads the query, generates the invoice again and resubmits it: same number.
    sign_in(page, live_server, nacro_manager)
    page.get_by_role("link", name=re.compile("invoice queried by the CRC, to answer")).click()
    page.get_by_role("link", name=re.compile("^NACRO-000001")).click()
    expect(page.get_by_text("Was the session on the 10th attended? It says late.")).to_be_visible()
    page.get_by_label("Reply to the CRC").fill("Yes: 20 minutes late, recorded as late. Resubmitting unchanged.")
    page.get_by_role("button", name="Send").click()
    success(page, "Your message has been sent")
    expect(page.locator("#query ~ .portal-thread")).to_contain_text("Resubmitting unchanged")
    assert_accessible(page)
    page.get_by_role("button", name="Generate again from the records").click()
    success(page, "has been generated again from the records")
    page.get_by_role("button", name="Submit invoice again").click()
    success(page, "Invoice NACRO-000001 submitted to the CRC")
    sign_out(page)

    # The contract manager approves it and downloads the PDF.
    sign_in(page, live_server, contract_manager)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Invoices").click()
    page.get_by_role("button", name="Approval queue").click()
    page.get_by_role("link", name="NACRO-000001").click()
    expect(
        page.get_by_text("Yes: 20 minutes late, recorded as late.")
    ).to_be_visible()  # the thread outlives resubmission
    page.get_by_role("button", name="Approve invoice").click()
    success(page, "Invoice NACRO-000001 approved")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download this invoice (PDF)").click()
    assert download.value.suggested_filename == "NACRO-000001.pdf"
    saved = tmp_path / "invoice.pdf"
    download.value.save_as(saved)
    text = " ".join(re.sub(r"\s+", " ", p.extract_text()) for p in PdfReader(BytesIO(saved.read_bytes())).pages)

    invoice = the_invoice()
    lines = db.session.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)).all()
    assert (invoice.subtotal_pence, invoice.vat_pence, invoice.total_pence) == (24_000, 4_800, 28_800)
    assert "Invoice NACRO-000001" in text and f"Period {month_name}" in text
    assert f"Subtotal {format_money(invoice.subtotal_pence)}" in text
    assert f"VAT at 20% {format_money(invoice.vat_pence)}" in text
    assert f"Total due {format_money(invoice.total_pence)}" in text
    expected = {
        format_money(invoice.subtotal_pence),
        format_money(invoice.vat_pence),
        format_money(invoice.total_pence),
    }
    for line in lines:
        row = f"{int(line.quantity)} {format_money(line.unit_price_pence)} {format_money(line.amount_pence)}"
        assert f"{line.item_code} {line.description}" in text and row in text
        expected |= {format_money(line.unit_price_pence), format_money(line.amount_pence)}
    assert set(MONEY.findall(text)) == expected

    # … and marks it paid today.
    page.get_by_role("button", name="Mark as paid").click()
    fill_date(page, "When was it paid?", london_today())
    page.get_by_label("Payment reference").fill("BACS 004417")
    assert_accessible(page)
    page.get_by_role("button", name="Mark as paid").click()
    success(page, "Invoice NACRO-000001 marked as paid")
    expect(page.get_by_text("BACS 004417").first).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Paid")
    assert the_invoice().status == InvoiceStatus.PAID
