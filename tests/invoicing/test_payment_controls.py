"""The controls finance teams expect (issue 18): a query stops the payment clock, a month still
running is invoiced early only with a reason, a payment has its reference, a credit note is
approved by someone other than who raised it, and an invoice shows what is left after credit notes."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.errors import ValidationFailed
from portal.extensions import db
from portal.invoicing import payment_terms, service
from portal.invoicing.models import Invoice
from tests.api import conftest as api_fixtures
from tests.helpers import STORY_DAY, text_of
from tests.invoicing.stories import september_of, submitted_september

pytestmark = pytest.mark.on_day(STORY_DAY)  # Monday 7 December 2026

LONDON = ZoneInfo("Europe/London")
api_as = api_fixtures.api_as  # the API's client fixture, here too


def on(day: date, hour: int = 11):
    return time_machine.travel(datetime.combine(day, time(hour), tzinfo=LONDON), tick=False)


def test_the_last_working_day_skips_weekends_and_bank_holidays():
    assert payment_terms.last_working_day(date(2026, 12, 1)) == date(2026, 12, 31)
    assert payment_terms.last_working_day(date(2026, 10, 1)) == date(2026, 10, 30)  # 31st a Saturday
    assert payment_terms.last_working_day(date(2027, 5, 1)) == date(2027, 5, 28)  # 31st a bank holiday
    assert payment_terms.days_to_pay(date(2026, 12, 7), date(2027, 1, 20), 10) == 34


def test_a_query_stops_the_payment_clock_and_the_invoice_records_how_long_it_was_held(
    work, nacro_manager, contract_manager
):
    invoice = submitted_september(work, nacro_manager)  # received 7 December, 30 days' terms
    assert (invoice.received_on, invoice.due_date, invoice.days_held) == (STORY_DAY, date(2027, 1, 6), 0)
    service.query_invoice(contract_manager, invoice, reason="Is the 10 September session a duplicate?")
    invoice.due_date = STORY_DAY - timedelta(days=1)  # even past its due date, a queried invoice is held
    assert not invoice.overdue
    assert invoice.id not in db.session.scalars(select(Invoice.id).where(Invoice.overdue)).all()
    invoice.due_date = date(2027, 1, 6)
    db.session.commit()
    with on(date(2026, 12, 17)):
        service.submit_invoice(nacro_manager, invoice)
    assert invoice.days_held == 10 and invoice.due_date == date(2027, 1, 16)
    assert invoice.received_on == STORY_DAY  # the clock restarts where it stopped, not from zero
    service.approve_invoice(contract_manager, invoice)
    with on(date(2027, 1, 20)):
        service.mark_paid(contract_manager, invoice, paid_on=date(2027, 1, 20), payment_reference="BACS 004417")
    assert (invoice.days_to_pay, invoice.paid_late) == (34, True)  # 44 days, less 10 held; due the 16th
    paid = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "invoice.paid")).one()
    assert paid.details["payment_reference"] == "BACS 004417" and paid.details["days_to_pay"] == 34


def test_paid_within_its_terms_is_not_late(work, nacro_manager, contract_manager):
    invoice = submitted_september(work, nacro_manager)
    service.approve_invoice(contract_manager, invoice)
    with on(date(2027, 1, 6)):
        service.mark_paid(contract_manager, invoice, paid_on=date(2027, 1, 6), payment_reference="BACS 1")
    assert (invoice.days_to_pay, invoice.paid_late) == (30, False)


def test_mark_paid_needs_a_payment_reference(work, nacro_manager, contract_manager):
    invoice = submitted_september(work, nacro_manager)
    service.approve_invoice(contract_manager, invoice)
    with pytest.raises(ValidationFailed) as refused:
        service.mark_paid(contract_manager, invoice, paid_on=STORY_DAY, payment_reference="  ")
    assert list(refused.value.errors) == ["payment_reference"]
    with pytest.raises(ValidationFailed) as refused:
        service.mark_paid(contract_manager, invoice, paid_on=STORY_DAY, payment_reference="x" * 61)
    assert list(refused.value.errors) == ["payment_reference"]


def test_a_month_still_running_is_invoiced_before_its_last_working_day_only_with_a_reason(work, nacro_manager, priced):
    september_of(work)
    with pytest.raises(ValidationFailed) as refused:
        service.generate_draft(nacro_manager, priced, "2026-12")
    assert list(refused.value.errors) == ["early_reason"]
    assert "its last working day is 31 December 2026" in refused.value.errors["early_reason"][0]
    draft = service.generate_draft(nacro_manager, priced, "2026-12", early_reason="The project closes on the 18th")
    assert draft.early_reason == "The project closes on the 18th"
    service.submit_invoice(nacro_manager, draft)
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.record_id == str(draft.id))).all()
    assert {e.action: e.details.get("early_reason") for e in events} == {
        "invoice.generated": "The project closes on the 18th",
        "invoice.submitted": "The project closes on the 18th",
    }


def test_on_the_last_working_day_the_month_is_invoiced_without_a_reason(work, nacro_manager, priced):
    september_of(work)
    with on(date(2026, 12, 31)):
        draft = service.generate_draft(nacro_manager, priced, "2026-12", early_reason="ignored: not early")
    assert draft.early_reason is None
    assert service.generate_draft(nacro_manager, priced, "2026-11").early_reason is None


def test_the_generate_page_names_the_missing_reason(portal, work, nacro_manager, priced):
    september_of(work)
    portal.sign_in(nacro_manager)
    portal.get("/invoices/new")
    refused = portal.post("/invoices/new", {"contract": priced.reference, "period": ["12", "2026"]})
    assert 'href="#early_reason"' in refused.get_data(as_text=True)
    assert "December 2026 is still running" in text_of(refused)
    made = portal.post(
        "/invoices/new",
        {"contract": priced.reference, "period": ["12", "2026"], "early_reason": "Closing for the holidays"},
    )
    page = text_of(portal.get(made.headers["Location"]))
    assert "Invoiced before the month ended" in page and "Closing for the holidays" in page


def test_who_raised_a_credit_note_never_approves_it(work, nacro_manager, contract_manager, portal):
    invoice = submitted_september(work, nacro_manager)
    note = service.raise_credit_note(
        contract_manager, invoice, event_ids=[service.creditable_events(invoice)[0].id], reason="Twice", rebill=False
    )
    portal.sign_in(contract_manager)
    page = portal.get(f"/invoices/{note.id}")
    assert "another contract manager must approve it" in text_of(page)
    assert f"/invoices/{note.id}/approve" not in page.get_data(as_text=True)
    refused = portal.post(f"/invoices/{note.id}/approve", {"version": str(note.version)})
    assert refused.status_code == 403
    assert db.session.get(Invoice, note.id).status.value == "submitted"


def test_an_invoice_shows_what_its_credit_notes_took_off_and_what_is_outstanding(
    work, nacro_manager, contract_manager, portal, api_as
):
    invoice = submitted_september(work, nacro_manager)  # total £981.00
    event = service.creditable_events(invoice)[0]
    note = service.raise_credit_note(nacro_manager, invoice, event_ids=[event.id], reason="Twice", rebill=False)
    waiting = service.balance(invoice)
    assert (waiting.credited_pence, waiting.outstanding_pence) == (0, 98100)
    assert waiting.pending_credit_pence == -note.total_pence
    service.approve_invoice(contract_manager, note)
    balance = service.balance(invoice)
    assert balance.credited_pence == -note.total_pence
    assert balance.outstanding_pence == 98100 + note.total_pence == balance.net_pence
    portal.sign_in(nacro_manager)
    page = text_of(portal.get(f"/invoices/{invoice.id}"))
    assert "Credited by approved credit notes" in page and "Outstanding" in page
    body = api_as(nacro_manager).get(f"/invoices/{invoice.id}").get_json()
    assert body["credited_pence"] == balance.credited_pence
    assert body["outstanding_pence"] == balance.outstanding_pence
    assert body["days_held"] == 0 and body["received_on"] == STORY_DAY.isoformat()
    service.approve_invoice(contract_manager, invoice)
    service.mark_paid(contract_manager, invoice, paid_on=STORY_DAY, payment_reference="BACS 9")
    assert service.balance(invoice).outstanding_pence == 0


def test_the_api_marks_paid_with_a_reference_and_names_it_when_missing(work, nacro_manager, contract_manager, api_as):
    invoice = submitted_september(work, nacro_manager)
    service.approve_invoice(contract_manager, invoice)
    api = api_as(contract_manager)
    missing = api.post(f"/invoices/{invoice.id}/mark-paid", json={"paid_on": STORY_DAY.isoformat()})
    assert missing.status_code == 422 and "payment_reference" in missing.get_json()["errors"]
    paid = api.post(
        f"/invoices/{invoice.id}/mark-paid",
        json={"paid_on": STORY_DAY.isoformat(), "payment_reference": "BACS 004417"},
    )
    assert paid.status_code == 200
    body = paid.get_json()
    assert body["payment_reference"] == "BACS 004417" and body["days_to_pay"] == 0 and body["paid_late"] is False


def test_the_api_asks_for_the_reason_to_invoice_a_running_month(work, nacro_manager, priced, api_as):
    september_of(work)
    api = api_as(nacro_manager)
    refused = api.post("/invoices", json={"contract": priced.reference, "period": "2026-12"})
    assert refused.status_code == 422 and "early_reason" in refused.get_json()["errors"]
    made = api.post(
        "/invoices", json={"contract": priced.reference, "period": "2026-12", "early_reason": "Closing early"}
    )
    assert made.status_code == 201 and made.get_json()["early_reason"] == "Closing early"
