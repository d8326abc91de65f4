"""The PDF invoice: every figure on it read back with pypdf equals the stored invoice; drafts say
they are not valid; credit notes say what they correct; long invoices paginate with their header;
tagged PDF/UA; downloadable by those who may see the invoice and nobody else."""

from __future__ import annotations

import re
from datetime import date
from io import BytesIO

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from portal.contracts.models import Unit
from portal.dates import london_day, london_today
from portal.extensions import db
from portal.formatting import format_date, format_money
from portal.invoicing import service
from portal.invoicing.documents import invoice_pdf, vat_rate_label
from portal.invoicing.models import InvoiceLine
from tests.factories import RateCardItemFactory, RateCardPriceFactory
from tests.helpers import STORY_DAY
from tests.invoicing.stories import september_of

pytestmark = pytest.mark.on_day(STORY_DAY)  # a worked example set in 2026


MONEY = re.compile(r"-?£[\d,]+\.\d\d")
TABLE_HEADER = "Item code Description Unit Quantity Unit price Amount"


def pdf_text(data: bytes) -> tuple[list[str], PdfReader]:
    reader = PdfReader(BytesIO(data))
    return [re.sub(r"\s+", " ", page.extract_text()) for page in reader.pages], reader


def lines_of(invoice):
    return db.session.scalars(
        select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).order_by(InvoiceLine.position)
    ).all()


def shown_quantity(line) -> str:
    return str(line.quantity) if line.unit == Unit.PER_HOUR else str(int(line.quantity))


@pytest.fixture
def addressed(priced, crc, nacro):
    nacro.address_line_1, nacro.town, nacro.postcode = "Park Place, 10-12 Lawn Lane", "London", "SW8 1UD"
    nacro.charity_number, nacro.company_number, nacro.vat_number = "226171", "00936544", "GB123456789"
    crc.address_line_1, crc.town, crc.postcode = "Wootton Hall Park", "Northampton", "NN4 0JA"
    db.session.commit()
    return priced


def render(app, invoice) -> bytes:
    with app.test_request_context():
        return invoice_pdf(invoice)


def test_every_figure_on_the_pdf_equals_the_stored_invoice(app, work, nacro_manager, addressed, crc, nacro):
    september_of(work)
    invoice = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, addressed, "2026-09"))
    pages, reader = pdf_text(render(app, invoice))
    text = " ".join(pages)

    for expected in (
        "Invoice NACRO-000001",
        "Nacro Park Place, 10-12 Lawn Lane London SW8 1UD",
        "Registered charity number 226171",
        "Company number 00936544",
        "VAT registration number GB123456789",
        "To (customer) BeNCH CRC Wootton Hall Park Northampton NN4 0JA",
        f"Invoice date {format_date(london_day(invoice.submitted_at))}",
        f"Due date {format_date(invoice.due_date)}",
        "Contract BENCH-ACC-01: Through the Gate accommodation",
        "Period September 2026 (1 September 2026 to 30 September 2026)",
        TABLE_HEADER,
        f"Subtotal {format_money(invoice.subtotal_pence)}",
        f"VAT at {vat_rate_label(invoice.vat_rate_bp)} {format_money(invoice.vat_pence)}",
        f"Total due {format_money(invoice.total_pence)}",
        f"Payment is due 30 days after the invoice is submitted, by {format_date(invoice.due_date)}",
    ):
        assert expected in text, expected
    expected_money = {format_money(invoice.subtotal_pence), format_money(invoice.vat_pence)}
    expected_money.add(format_money(invoice.total_pence))
    lines = lines_of(invoice)
    assert len(lines) == 5
    for line in lines:
        row = f"{shown_quantity(line)} {format_money(line.unit_price_pence)} {format_money(line.amount_pence)}"
        assert f"{line.item_code} {line.description}" in text and row in text, row
        expected_money |= {format_money(line.unit_price_pence), format_money(line.amount_pence)}
    # No other amount of money appears anywhere on the invoice.
    assert set(MONEY.findall(text)) == expected_money
    assert "DRAFT" not in text
    assert reader.metadata.title == "Invoice NACRO-000001 – Nacro – BENCH-ACC-01 – September 2026"
    assert "/StructTreeRoot" in reader.trailer["/Root"]  # tagged for screen readers (PDF/UA)
    assert (round(float(reader.pages[0].mediabox.width)), round(float(reader.pages[0].mediabox.height))) == (595, 842)


def test_a_draft_is_watermarked_as_not_a_valid_invoice(app, work, nacro_manager, priced):
    september_of(work)
    draft = service.generate_draft(nacro_manager, priced, "2026-09")
    pages, reader = pdf_text(render(app, draft))
    assert "DRAFT — not a valid invoice. It has not been submitted to BeNCH CRC and cannot be paid." in pages[0]
    assert "Invoice number Draft: numbered when submitted" in pages[0]
    assert "Due date 30 days after submission" in pages[0]
    assert reader.metadata.title.startswith("Draft invoice – Nacro")


def test_a_credit_note_is_titled_as_one_and_names_the_invoice_it_corrects(app, work, nacro_manager, priced):
    september_of(work)
    invoice = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    session_line = next(line for line in lines_of(invoice) if line.item_code == "TTG-SESSION")
    event = next(e for e in service.creditable_events(invoice) if e.line_id == session_line.id)
    note = service.raise_credit_note(
        nacro_manager, invoice, event_ids=[event.id], reason="Session recorded in error", rebill=False
    )
    text = " ".join(pdf_text(render(app, note))[0])
    assert "Credit note NACRO-000002" in text
    assert "This credit note corrects invoice NACRO-000001" in text
    assert "Corrects Invoice NACRO-000001 Reason Session recorded in error" in text
    # The line's description, then its service (TTG, named after its referral fee item).
    assert "TTG-SESSION Credit: TTG-SESSION TTG-REF Per attended session -1 £45.00 -£45.00" in text
    assert "Subtotal -£45.00 VAT at 20% -£9.00 Total credited -£54.00" in text
    assert set(MONEY.findall(text)) == {"£45.00", "-£45.00", "-£9.00", "-£54.00", "£54.00"}


def test_many_lines_paginate_with_the_table_header_on_every_page_and_long_descriptions_wrap(
    app, work, nacro_manager, priced
):
    referral = work.referral(date(2026, 9, 2))
    work.session(referral, date(2026, 9, 3), 60)
    long_name = (
        "Through the Gate resettlement support with accommodation casework, benefits advice and liaison "
        "with the local authority housing options team, in custody or the community"
    )
    for n in range(40):
        item = RateCardItemFactory(
            contract=priced, code=f"TTG-EXTRA-{n:02d}", service_code="TTG", unit=Unit.PER_SESSION, name=long_name
        )
        RateCardPriceFactory(item=item, unit_price_pence=1000 + n, effective_from=date(2025, 4, 1))
    invoice = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    pages, _ = pdf_text(render(app, invoice))
    assert len(pages) > 2
    # Every page the lines run over repeats the header (the terms and remittance may follow on a page of their own).
    assert all(TABLE_HEADER in page for page in pages if "TTG-EXTRA" in page)
    assert all(f"Page {number} of {len(pages)}" in page for number, page in enumerate(pages, start=1))
    text = " ".join(pages)
    assert all(f"TTG-EXTRA-{n:02d} {long_name}" in text for n in range(40))  # whole, wrapped in its cell
    assert f"Total due {format_money(invoice.total_pence)}" in text


def test_the_pdf_downloads_for_those_who_may_see_the_invoice_and_is_not_found_for_others(
    portal, work, nacro_manager, contract_manager, st_giles_manager, priced
):
    september_of(work)
    invoice = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    for user in (nacro_manager, contract_manager):
        portal.sign_in(user)
        response = portal.get(f"/invoices/{invoice.id}.pdf")
        assert response.status_code == 200 and response.mimetype == "application/pdf"
        assert response.headers["Content-Disposition"] == 'attachment; filename="NACRO-000001.pdf"'
        assert response.headers["Cache-Control"] == "no-store"
        portal.sign_out()
    portal.sign_in(st_giles_manager)
    assert portal.get(f"/invoices/{invoice.id}.pdf").status_code == 404


def test_a_paid_invoice_says_when_it_was_paid(app, work, nacro_manager, contract_manager, priced):
    september_of(work)
    invoice = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    service.approve_invoice(contract_manager, invoice)
    service.mark_paid(contract_manager, invoice, paid_on=london_today(), payment_reference="BACS 1")
    text = " ".join(pdf_text(render(app, invoice))[0])
    assert f"Status Paid on {format_date(london_today())}" in text


def test_the_pdf_renders_in_an_app_context_alone_as_the_api_will_call_it(work, nacro_manager, priced):
    """No request needed: the test already runs inside an app context, and nothing more."""
    from flask import has_request_context

    september_of(work)
    draft = service.generate_draft(nacro_manager, priced, "2026-09")
    assert not has_request_context()
    assert invoice_pdf(draft).startswith(b"%PDF-")


def test_invoice_lines_name_their_service_on_the_page_and_the_pdf(app, portal, work, nacro_manager, priced):
    from portal.contracts.models import Service

    record = db.session.scalars(select(Service).where(Service.code == "TTG")).one()
    record.name = "Through the Gate resettlement"
    db.session.commit()
    september_of(work)
    draft = service.generate_draft(nacro_manager, priced, "2026-09")
    pages, _reader = pdf_text(render(app, draft))
    assert " ".join(pages).count("Through the Gate resettlement") == len(lines_of(draft))
    portal.sign_in(nacro_manager)
    page = portal.get(f"/invoices/{draft.id}").get_data(as_text=True)
    assert page.count("Through the Gate resettlement") == len(lines_of(draft))
    line = lines_of(draft)[0]
    assert "Service: Through the Gate resettlement (TTG)" in portal.get(
        f"/invoices/{draft.id}/lines/{line.id}"
    ).get_data(as_text=True)
