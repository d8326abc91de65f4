"""Invoice pages, as a month's billing goes: the partner manager generates and submits, the
contract manager approves, queries, rejects or pays; credit notes; overdue invoices; every page
within a fixed number of SQL queries."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.contracts.models import ContractStatus, Unit
from portal.contracts.service import end_contract
from portal.dates import london_today
from portal.extensions import db
from portal.invoicing import service
from portal.invoicing.models import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus
from tests.factories import (
    ContractFactory,
    InvoiceFactory,
    RateCardItemFactory,
    RateCardPriceFactory,
    UserFactory,
)
from tests.helpers import STORY_DAY, QueryCounter, text_of
from tests.invoicing.stories import september_of, submitted_september

pytestmark = pytest.mark.on_day(STORY_DAY)  # a worked example set in 2026


def lines_of(invoice):
    return db.session.scalars(
        select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).order_by(InvoiceLine.position)
    ).all()


def generate(portal, contract, month="9", year="2026"):
    portal.get("/invoices/new")
    return portal.post("/invoices/new", {"contract": contract.reference, "period": [month, year]})


def fresh(invoice):
    db.session.expire_all()
    return db.session.get(Invoice, invoice.id)


def audit_actions():
    return db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.record_type == "invoice").order_by(AuditEvent.id)
    ).all()


# --- generating ---------------------------------------------------------------------------------------


def test_partner_manager_generates_a_draft_and_reads_its_lines_and_totals(portal, work, nacro_manager, priced):
    september_of(work)
    portal.sign_in(nacro_manager)
    form = text_of(portal.get("/invoices/new"))
    assert "Generate an invoice" in form and f"{priced.reference}: {priced.title}" in form
    response = generate(portal, priced)
    assert response.status_code == 302
    page = text_of(portal.get(response.headers["Location"]))
    assert "Draft invoice for September 2026 generated from the records" in page
    assert "Draft invoice Draft" in page
    for row in (
        # Item code, description, then the service (TTG, named after its referral fee item).
        "TTG-HOUR TTG-HOUR TTG-REF Per attended hour 2.25 £30.00 £67.50 2 events",
        "TTG-NIGHT TTG-NIGHT TTG-REF Per verified outcome 1 £400.00 £400.00 1 event",
        "TTG-RAR TTG-RAR TTG-REF Per RAR day delivered 1 £110.00 £110.00 1 event",
        "TTG-REF TTG-REF TTG-REF Per referral started 1 £150.00 £150.00 1 event",
        "TTG-SESSION TTG-SESSION TTG-REF Per attended session 2 £45.00 £90.00 2 events",
    ):
        assert row in page
    assert "Subtotal £817.50 VAT at 20% £163.50 Total £981.00" in page
    assert "Submit invoice" in page and "Generate again" in page


@pytest.mark.parametrize(
    ("month", "year", "message"),
    [
        ("", "", "Enter the month to invoice"),
        ("13", "2026", "The month to invoice must be a real month"),
        ("9", "", "The month to invoice must include a year"),
        ("1", "2030", "You cannot invoice for a month that has not started"),
        ("3", "2025", "This month is before the contract started"),
    ],
)
def test_a_month_that_cannot_be_invoiced_is_refused_beside_the_field(
    portal, work, nacro_manager, priced, month, year, message
):
    portal.sign_in(nacro_manager)
    response = generate(portal, priced, month, year)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert message in text_of(response)
    assert 'class="govuk-error-summary' in html and 'href="#period"' in html
    assert 'govuk-input--width-2 govuk-input--error" id="period" name="period"' in html
    assert db.session.scalars(select(Invoice)).first() is None


def test_a_month_after_the_contract_ended_is_refused(portal, work, nacro_manager, priced):
    end_contract(None, priced, end_date=date(2026, 6, 30))
    portal.sign_in(nacro_manager)
    assert "This month is after the contract ended" in text_of(generate(portal, priced, "8", "2026"))


def test_only_billable_contracts_of_ones_own_organisation_are_offered(
    portal, work, nacro_manager, priced, crc, nacro, st_giles_contract
):
    ContractFactory(reference="BENCH-DRAFT-09", crc=crc, partner=nacro, status=ContractStatus.DRAFT)
    portal.sign_in(nacro_manager)
    page = text_of(portal.get("/invoices/new"))
    assert priced.reference in page
    assert "BENCH-DRAFT-09" not in page and st_giles_contract.reference not in page
    response = generate(portal, st_giles_contract)
    assert "Select one of your organisation's active contracts" in text_of(response)


def test_generating_again_replaces_the_draft_and_says_so(portal, work, nacro_manager, priced):
    september_of(work)
    portal.sign_in(nacro_manager)
    first = generate(portal, priced).headers["Location"]
    assert "Generating a draft replaces that contract's current draft" in text_of(portal.get("/invoices/new"))
    assert "BENCH-ACC-01: draft for September 2026" in text_of(portal.get("/invoices/new"))
    second = generate(portal, priced, "10", "2026").headers["Location"]
    assert first == second
    assert len(db.session.scalars(select(Invoice)).all()) == 1


def test_earlier_work_is_labelled_and_work_no_price_covers_is_a_warning(portal, work, nacro_manager, priced):
    referral = september_of(work)
    service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    work.session(referral, date(2026, 9, 28), 60)  # recorded late
    late_item = RateCardItemFactory(contract=priced, code="TTG-LATE", service_code="TTG", unit=Unit.PER_SESSION)
    RateCardPriceFactory(item=late_item, unit_price_pence=999, effective_from=date(2026, 11, 1))
    portal.sign_in(nacro_manager)
    page = text_of(portal.get(generate(portal, priced, "10", "2026").headers["Location"]))
    assert "TTG-SESSION (includes work before October 2026) TTG-REF Includes earlier work" in page
    assert "Work no price covers" in page
    # The new item prices all three attended sessions, but only from November.
    assert "3 pieces of work are not on this invoice: no price on the rate card covers the date it was done" in page
    assert "TTG-LATE: Service item" in page and "Session 28 September 2026" in page


# --- submitting ----------------------------------------------------------------------------------------


def test_submitting_numbers_the_invoice_and_sets_its_due_date(portal, work, nacro_manager, priced):
    september_of(work)
    draft = service.generate_draft(nacro_manager, priced, "2026-09")
    portal.sign_in(nacro_manager)
    portal.get(f"/invoices/{draft.id}")
    response = portal.post(f"/invoices/{draft.id}/submit", {"version": str(draft.version)})
    assert response.status_code == 302
    page = text_of(portal.get(response.headers["Location"]))
    due = london_today() + timedelta(days=30)
    assert f"Invoice NACRO-000001 submitted to the CRC. Payment is due by {due.day} {due:%B %Y}" in page
    assert "Invoice NACRO-000001 Submitted" in page
    assert "Submit invoice" not in page and "Raise a credit note" in page


def test_a_draft_the_records_have_overtaken_is_refreshed_and_the_page_says_why(portal, work, nacro_manager, priced):
    referral = september_of(work)
    draft = service.generate_draft(nacro_manager, priced, "2026-09")
    work.session(referral, date(2026, 9, 25), 30)
    portal.sign_in(nacro_manager)
    portal.get(f"/invoices/{draft.id}")
    response = portal.post(f"/invoices/{draft.id}/submit", {"version": str(draft.version)})
    assert response.status_code == 200
    page = text_of(response)
    assert "There is a problem The records changed since this invoice was generated" in page
    assert "TTG-SESSION TTG-SESSION TTG-REF Per attended session 3 £45.00 £135.00" in page  # the figures shown are new
    assert fresh(draft).status == InvoiceStatus.DRAFT


def test_submitting_a_page_someone_changed_meanwhile_is_refused_clearly(portal, work, nacro_manager, priced):
    september_of(work)
    draft = service.generate_draft(nacro_manager, priced, "2026-09")
    portal.sign_in(nacro_manager)
    portal.get(f"/invoices/{draft.id}")
    response = portal.post(f"/invoices/{draft.id}/submit", {"version": str(draft.version - 1)})
    assert response.status_code == 200
    assert "This invoice was changed by someone else while you were working on it" in text_of(response)
    assert fresh(draft).status == InvoiceStatus.DRAFT


def test_passing_the_cap_shows_the_figures_until_a_contract_manager_approves_the_excess(
    portal, other_portal, work, nacro_manager, contract_manager, priced
):
    september_of(work)
    priced.value_cap_pence = 50_000
    db.session.commit()
    portal.sign_in(nacro_manager)
    location = generate(portal, priced).headers["Location"]
    page = text_of(portal.get(location))
    assert "This invoice takes the contract's spend past its value cap" in page
    assert "Value cap of BENCH-ACC-01 £500.00" in page
    assert "Spent so far (other submitted and approved invoices, less credit notes) £0.00" in page
    assert "This invoice, before VAT £817.50" in page and "Excess over the cap £317.50" in page
    assert "A contract manager has not approved the excess" in page
    draft = db.session.scalars(select(Invoice)).one()
    refused = portal.post(f"/invoices/{draft.id}/submit", {"version": str(draft.version)})
    assert "takes spend £317.50 past the contract's value cap" in text_of(refused)

    other_portal.sign_in(contract_manager)
    assert "Approve the excess of £317.50" in text_of(other_portal.get(location))
    assert "Waiting for approval of an excess over the cap" in text_of(other_portal.get("/invoices/queue"))
    approved = other_portal.post(f"/invoices/{draft.id}/approve-excess", {"version": str(fresh(draft).version)})
    page = text_of(other_portal.get(approved.headers["Location"]))
    assert "The excess over the contract's value cap is approved" in page

    page = text_of(portal.get(location))
    assert "Connie Contracts approved the excess of £317.50" in page
    submitted = portal.post(f"/invoices/{draft.id}/submit", {"version": str(fresh(draft).version)})
    assert submitted.status_code == 302
    assert "invoice.excess_approved" in audit_actions()


# --- the contract manager's decisions -----------------------------------------------------------------


def test_query_then_the_partner_revises_and_resubmits_keeping_the_number(
    portal, other_portal, work, nacro_manager, contract_manager, priced
):
    invoice = submitted_september(work, nacro_manager)
    other_portal.sign_in(contract_manager)
    other_portal.get(f"/invoices/{invoice.id}/query")
    empty = other_portal.post(f"/invoices/{invoice.id}/query", {"version": str(invoice.version), "reason": " "})
    assert "Say what needs checking" in text_of(empty)
    response = other_portal.post(
        f"/invoices/{invoice.id}/query",
        {"version": str(invoice.version), "reason": "Is the 10 September session a duplicate?"},
    )
    assert "Invoice NACRO-000001 queried" in text_of(other_portal.get(response.headers["Location"]))

    portal.sign_in(nacro_manager)
    page = text_of(portal.get(f"/invoices/{invoice.id}"))
    assert "The CRC queried this invoice" in page and "Is the 10 September session a duplicate?" in page
    assert "Generate again from the records" in page and "Submit invoice again" in page
    revised = portal.post(f"/invoices/{invoice.id}/revise", {"version": str(fresh(invoice).version)})
    assert "has been generated again from the records" in text_of(portal.get(revised.headers["Location"]))
    resubmitted = portal.post(f"/invoices/{invoice.id}/submit", {"version": str(fresh(invoice).version)})
    assert "Invoice NACRO-000001 submitted" in text_of(portal.get(resubmitted.headers["Location"]))
    assert fresh(invoice).number == "NACRO-000001"


def test_reject_needs_a_reason_and_frees_the_work(portal, work, nacro_manager, contract_manager, priced):
    invoice = submitted_september(work, nacro_manager)
    portal.sign_in(contract_manager)
    portal.get(f"/invoices/{invoice.id}/reject")
    empty = portal.post(f"/invoices/{invoice.id}/reject", {"version": str(invoice.version), "reason": ""})
    assert "Say why the invoice is rejected" in text_of(empty)
    response = portal.post(f"/invoices/{invoice.id}/reject", {"version": str(invoice.version), "reason": "Wrong month"})
    page = text_of(portal.get(response.headers["Location"]))
    assert "Invoice NACRO-000001 rejected" in page and "Wrong month" in page
    assert "Its work can be billed again on a new invoice" in page


def test_approve_then_mark_paid_with_a_gov_uk_date(portal, work, nacro_manager, contract_manager, priced):
    invoice = submitted_september(work, nacro_manager)
    portal.sign_in(contract_manager)
    portal.get(f"/invoices/{invoice.id}")
    approved = portal.post(f"/invoices/{invoice.id}/approve", {"version": str(invoice.version)})
    assert "Invoice NACRO-000001 approved" in text_of(portal.get(approved.headers["Location"]))
    version = str(fresh(invoice).version)
    portal.get(f"/invoices/{invoice.id}/mark-paid")
    empty = portal.post(f"/invoices/{invoice.id}/mark-paid", {"version": version, "paid_on": ["", "", ""]})
    assert "Enter the date it was paid" in text_of(empty) and 'href="#paid_on-day"' in empty.get_data(as_text=True)
    tomorrow = london_today() + timedelta(days=1)
    future = portal.post(
        f"/invoices/{invoice.id}/mark-paid",
        {"version": version, "paid_on": [str(tomorrow.day), str(tomorrow.month), str(tomorrow.year)]},
    )
    assert "The payment date cannot be in the future" in text_of(future)
    far_off = portal.post(f"/invoices/{invoice.id}/mark-paid", {"version": version, "paid_on": ["31", "12", "9999"]})
    assert "Date paid must be between 1 January 1900 and 31 December 2099" in text_of(far_off)
    today = london_today()
    no_reference = portal.post(
        f"/invoices/{invoice.id}/mark-paid",
        {"version": version, "paid_on": [str(today.day), str(today.month), str(today.year)]},
    )
    assert "Enter the payment reference, as it appears on the bank transfer" in text_of(no_reference)
    assert 'href="#payment_reference"' in no_reference.get_data(as_text=True)
    paid = portal.post(
        f"/invoices/{invoice.id}/mark-paid",
        {
            "version": version,
            "paid_on": [str(today.day), str(today.month), str(today.year)],
            "payment_reference": "BACS 004417",
        },
    )
    page = text_of(portal.get(paid.headers["Location"]))
    assert f"Invoice NACRO-000001 marked as paid on {today.day} {today:%B %Y}, payment reference BACS 004417" in page
    assert "Payment reference BACS 004417" in page
    assert fresh(invoice).status == InvoiceStatus.PAID
    assert audit_actions()[-2:] == ["invoice.approved", "invoice.paid"]


def test_a_decision_taken_meanwhile_makes_the_form_say_so(portal, work, nacro_manager, contract_manager, priced):
    invoice = submitted_september(work, nacro_manager)
    seen = invoice.version
    service.approve_invoice(contract_manager, invoice)
    portal.sign_in(contract_manager)
    portal.get("/invoices/")
    response = portal.post(f"/invoices/{invoice.id}/reject", {"version": str(seen), "reason": "Too late"})
    assert response.status_code == 200
    assert "This invoice was changed by someone else" in text_of(response)
    assert fresh(invoice).status == InvoiceStatus.APPROVED


def test_a_decision_page_for_an_invoice_no_longer_waiting_goes_back_to_it(
    portal, work, nacro_manager, contract_manager, priced
):
    invoice = submitted_september(work, nacro_manager)
    service.approve_invoice(contract_manager, invoice)
    portal.sign_in(contract_manager)
    response = portal.get(f"/invoices/{invoice.id}/query")
    assert response.status_code == 302
    assert "Only a submitted invoice can be queried" in text_of(portal.get(response.headers["Location"]))


def test_who_may_do_what(portal, work, nacro_manager, nacro_caseworker, referrer, contract_manager, priced):
    invoice = submitted_september(work, nacro_manager)
    portal.sign_in(nacro_caseworker)
    assert portal.get(f"/invoices/{invoice.id}").status_code == 200  # read-only
    assert portal.get("/invoices/new").status_code == 403
    assert portal.get(f"/invoices/{invoice.id}/credit-note").status_code == 403
    assert "Raise a credit note" not in text_of(portal.get(f"/invoices/{invoice.id}"))
    portal.sign_out()
    portal.sign_in(nacro_manager)
    assert portal.get(f"/invoices/{invoice.id}/query").status_code == 403
    assert portal.get("/invoices/queue").status_code == 403
    assert portal.post(f"/invoices/{invoice.id}/approve", {"version": str(invoice.version)}).status_code == 403
    portal.sign_out()
    portal.sign_in(referrer)
    assert portal.get(f"/invoices/{invoice.id}").status_code == 200
    assert portal.get(f"/invoices/{invoice.id}/mark-paid").status_code == 403
    assert fresh(invoice).status == InvoiceStatus.SUBMITTED


# --- lists, queue, totals, overdue ----------------------------------------------------------------------


@pytest.fixture
def st_giles_priced(st_giles_contract):
    item = RateCardItemFactory(
        contract=st_giles_contract, code="ETE-FIXED", service_code="ETE", unit=Unit.MONTHLY_FIXED
    )
    RateCardPriceFactory(item=item, unit_price_pence=100_000, effective_from=date(2026, 4, 1))
    return st_giles_contract


def test_the_approval_queue_lists_submitted_work_across_partners_oldest_first(
    portal, work, nacro_manager, st_giles_manager, contract_manager, priced, st_giles_priced
):
    nacro_invoice = submitted_september(work, nacro_manager)
    st_giles_invoice = service.submit_invoice(
        st_giles_manager, service.generate_draft(st_giles_manager, st_giles_priced, "2026-09")
    )
    st_giles_invoice.submitted_at = nacro_invoice.submitted_at - timedelta(days=3)
    db.session.commit()
    portal.sign_in(contract_manager)
    page = text_of(portal.get("/invoices/queue"))
    assert "2 waiting for a decision" in page
    assert page.index("SGT-000001") < page.index("NACRO-000001")  # the older first
    filtered = text_of(portal.get(f"/invoices/queue?partner={st_giles_priced.partner_id}"))
    assert "SGT-000001" in filtered and "NACRO-000001" not in filtered


def test_lists_filter_by_status_contract_partner_and_overdue_and_total_by_status(
    portal, work, nacro_manager, st_giles_manager, contract_manager, priced, st_giles_priced
):
    nacro_invoice = submitted_september(work, nacro_manager)
    service.approve_invoice(contract_manager, nacro_invoice)
    st_giles_invoice = service.submit_invoice(
        st_giles_manager, service.generate_draft(st_giles_manager, st_giles_priced, "2026-09")
    )
    nacro_invoice.due_date = london_today() - timedelta(days=1)  # unpaid past its due date
    db.session.commit()
    portal.sign_in(contract_manager)
    page = text_of(portal.get("/invoices/"))
    assert "Approved 1 £981.00 0 £0.00" in page and "Submitted 1 £6,000.00 0 £0.00" in page
    assert "NACRO-000001" in page and "SGT-000001" in page
    assert "Overdue" in page
    cases = {
        "status=approved": ("NACRO-000001", "SGT-000001"),
        f"contract={st_giles_priced.reference}": ("SGT-000001", "NACRO-000001"),
        f"partner={priced.partner_id}": ("NACRO-000001", "SGT-000001"),
        "overdue=yes": ("NACRO-000001", "SGT-000001"),
    }
    for query, (shown, hidden) in cases.items():
        page = text_of(portal.get(f"/invoices/?{query}"))
        assert shown in page and hidden not in page, query
    assert st_giles_invoice.number == "SGT-000001"


def test_the_list_pages_keep_their_filters(portal, work, nacro_manager, priced):
    for month in range(4, 12):
        InvoiceFactory(contract=priced, period_start=date(2026, month, 1), submitted=True)  # many, cheaply
    from portal.invoicing import views

    views.PAGE_SIZE, previous = 3, views.PAGE_SIZE
    try:
        portal.sign_in(nacro_manager)
        html = portal.get("/invoices/?status=submitted").get_data(as_text=True)
    finally:
        views.PAGE_SIZE = previous
    assert re.search(r'href="/invoices/\?status=submitted&amp;after=[\w-]+" rel="next"', html)


def test_overdue_invoices_are_flagged_to_both_sides_on_their_home_pages(
    portal, other_portal, work, nacro_manager, contract_manager, priced
):
    invoice = submitted_september(work, nacro_manager)
    invoice.due_date = london_today() - timedelta(days=2)
    db.session.commit()
    portal.sign_in(nacro_manager)
    home = text_of(portal.get("/"))
    assert "1 invoice unpaid past the due date" in home
    other_portal.sign_in(contract_manager)
    home = text_of(other_portal.get("/"))
    assert "1 invoice unpaid past the due date" in home
    assert "1 invoice or credit note to approve, query or reject" in home
    assert "Overdue" in text_of(other_portal.get(f"/invoices/{invoice.id}"))


# --- drill-down ------------------------------------------------------------------------------------------


def test_each_line_drills_down_to_the_events_it_bills_and_they_add_up_to_it(
    portal, work, nacro_manager, contract_manager, priced
):
    from portal.people.models import Person

    referral = september_of(work)
    person = db.session.get(Person, referral.person_id)
    invoice = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    hour_line = next(line for line in lines_of(invoice) if line.item_code == "TTG-HOUR")
    portal.sign_in(contract_manager)
    response = portal.get(f"/invoices/{invoice.id}/lines/{hour_line.id}")
    page = text_of(response)
    assert "TTG-HOUR: the work this line bills" in page
    assert (
        "Events 2 Minutes attended 135 Quantity (hours, to 2 decimal places) 2.25 Unit price £30.00 Amount £67.50"
        in page
    )
    assert "This equals the line on the invoice: quantity 2.25, amount £67.50" in page
    assert "3 September 2026 10am 90 Attended" in page and "10 September 2026 10am 45 Attended" in page
    assert f'href="/referrals/{referral.reference}"' in response.get_data(as_text=True)
    assert f"{person.given_name} {person.family_name} {person.crn} 2 September 2026 September 2026" in page


def test_the_drill_down_names_people_only_as_the_user_may_see_them(portal, work, nacro_manager, priced):
    from portal.people.models import Person
    from portal.referrals.models import Referral

    referral = september_of(work)
    invoice = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    person = db.session.get(Person, db.session.get(Referral, referral.id).person_id)
    line = next(line for line in lines_of(invoice) if line.item_code == "TTG-REF")
    portal.sign_in(nacro_manager)
    assert person.crn in text_of(portal.get(f"/invoices/{invoice.id}/lines/{line.id}"))
    referral.status = referral.status.DRAFT  # staged, as no operation could: a record the partner may not see
    db.session.commit()
    page = text_of(portal.get(f"/invoices/{invoice.id}/lines/{line.id}"))
    assert person.crn not in page and person.family_name not in page and "Not shown" in page


def test_a_line_of_another_invoice_is_not_found(portal, work, nacro_manager, priced):
    invoice = submitted_september(work, nacro_manager)
    other = service.generate_draft(nacro_manager, priced, "2026-10")
    line = lines_of(invoice)[0]
    portal.sign_in(nacro_manager)
    assert portal.get(f"/invoices/{other.id}/lines/{line.id}").status_code == 404
    assert portal.get(f"/invoices/{other.id}/lines/{line.id}.csv").status_code == 404


# --- credit notes -----------------------------------------------------------------------------------------


def test_a_partner_manager_credits_a_session_and_the_contract_manager_approves_it(
    portal, other_portal, work, nacro_manager, contract_manager, priced
):
    invoice = submitted_september(work, nacro_manager)
    session_line = next(line for line in lines_of(invoice) if line.item_code == "TTG-SESSION")
    event = next(e for e in service.creditable_events(invoice) if e.line_id == session_line.id)
    portal.sign_in(nacro_manager)
    form = text_of(portal.get(f"/invoices/{invoice.id}/credit-note"))
    assert "Line 5: TTG-SESSION, TTG-SESSION (£45.00 each)" in form
    empty = portal.post(f"/invoices/{invoice.id}/credit-note", {"version": str(invoice.version), "reason": "x"})
    page = text_of(empty)
    assert "Choose the work to credit" in page and "Select whether this work can be billed again" in page
    response = portal.post(
        f"/invoices/{invoice.id}/credit-note",
        {
            "version": str(invoice.version),
            "event_ids": [str(event.id)],
            "reason": "Session recorded in error",
            "rebill": "no",
        },
    )
    assert response.status_code == 302
    page = text_of(portal.get(response.headers["Location"]))
    assert "Credit note NACRO-000002 raised for -£54.00" in page
    assert "This credit note corrects invoice NACRO-000001" in page and "Session recorded in error" in page
    assert "TTG-SESSION Credit: TTG-SESSION TTG-REF Per attended session -1 £45.00 -£45.00" in page
    assert "Subtotal -£45.00 VAT at 20% -£9.00 Total -£54.00" in page
    assert "Approve credit note" not in page

    note = db.session.scalars(select(Invoice).where(Invoice.kind == InvoiceKind.CREDIT_NOTE)).one()
    other_portal.sign_in(contract_manager)
    assert "NACRO-000002" in text_of(other_portal.get("/invoices/queue"))
    assert "Query" not in text_of(other_portal.get(f"/invoices/{note.id}")).split("Download")[0]
    approved = other_portal.post(f"/invoices/{note.id}/approve", {"version": str(note.version)})
    assert "Credit note NACRO-000002 approved" in text_of(other_portal.get(approved.headers["Location"]))
    invoice_page = text_of(other_portal.get(f"/invoices/{invoice.id}"))
    assert "Number Status Reason Total NACRO-000002 Approved Session recorded in error -£54.00" in invoice_page
    assert "Credited" in text_of(other_portal.get(f"/invoices/{invoice.id}/lines/{session_line.id}"))


def test_a_credit_note_can_be_rejected_with_a_reason(portal, work, nacro_manager, contract_manager, priced):
    invoice = submitted_september(work, nacro_manager)
    note = service.raise_credit_note(
        nacro_manager, invoice, event_ids=[service.creditable_events(invoice)[0].id], reason="x", rebill=True
    )
    portal.sign_in(contract_manager)
    portal.get(f"/invoices/{note.id}/reject")
    response = portal.post(f"/invoices/{note.id}/reject", {"version": str(note.version), "reason": "Not needed"})
    assert "Credit note NACRO-000002 rejected" in text_of(portal.get(response.headers["Location"]))


def test_a_whole_line_too_long_to_list_is_credited_in_one_tick(portal, work, nacro_manager, contract_manager, priced):
    from portal.invoicing import views

    invoice = submitted_september(work, nacro_manager)
    hour_line = next(line for line in lines_of(invoice) if line.item_code == "TTG-HOUR")
    views.LISTED_EVENTS, previous = 1, views.LISTED_EVENTS
    try:
        portal.sign_in(contract_manager)
        assert "Credit all 2 on this line" in text_of(portal.get(f"/invoices/{invoice.id}/credit-note"))
        response = portal.post(
            f"/invoices/{invoice.id}/credit-note",
            {"version": str(invoice.version), "line_ids": [str(hour_line.id)], "reason": "Wrong rate", "rebill": "yes"},
        )
    finally:
        views.LISTED_EVENTS = previous
    page = text_of(portal.get(response.headers["Location"]))
    assert "TTG-HOUR Credit: TTG-HOUR TTG-REF Per attended hour -2.25 £30.00 -£67.50" in page
    assert "The credited work can be billed again, correctly, once the credit note is approved" in page


# --- the number of queries does not grow with the rows ---------------------------------------------------------


def _invoices(manager, contract, months):
    for month in months:
        InvoiceFactory(contract=contract, period_start=date(2026, month, 1), submitted=True)


def test_the_list_issues_as_many_queries_for_many_invoices_as_for_few(
    app, portal, work, nacro_manager, contract_manager, priced, crc, nacro
):
    september_of(work)
    _invoices(nacro_manager, priced, [4, 5])
    portal.sign_in(contract_manager)
    portal.get("/invoices/")
    with QueryCounter(app) as few:
        portal.get("/invoices/")
    for n in range(6):
        contract = ContractFactory(reference=f"BENCH-MORE-{n}", crc=crc, partner=nacro)
        item = RateCardItemFactory(contract=contract, unit=Unit.MONTHLY_FIXED)
        RateCardPriceFactory(item=item, unit_price_pence=100)
        _invoices(nacro_manager, contract, [6, 7])
    with QueryCounter(app) as many:
        portal.get("/invoices/")
    assert many.count == few.count


def test_an_invoice_and_its_drill_down_issue_as_many_queries_for_many_events_as_for_few(
    app, portal, work, nacro_manager, priced
):
    referral = work.referral(date(2026, 9, 2), rar_days=40)
    work.session(referral, date(2026, 9, 3), 60, rar=True)
    invoice = service.generate_draft(nacro_manager, priced, "2026-09")
    portal.sign_in(nacro_manager)
    counts = []
    for _ in range(2):
        line = next(line for line in lines_of(invoice) if line.item_code == "TTG-HOUR")
        urls = [f"/invoices/{invoice.id}", f"/invoices/{invoice.id}/lines/{line.id}", f"/invoices/{invoice.id}.pdf"]
        for url in urls:
            assert portal.get(url).status_code == 200
        with QueryCounter(app) as counter:
            for url in urls:
                portal.get(url)
        counts.append(counter.count)
        for day in range(4, 24):
            other = work.referral(date(2026, 9, 2))
            work.session(other, date(2026, 9, day), 30 + day, rar=True)
        service.generate_draft(nacro_manager, priced, "2026-09")
    assert len(lines_of(invoice)) == 4
    assert counts[0] == counts[1]


def test_a_caseworker_reads_invoices_read_only_without_an_invoices_entry(portal, work, nacro_manager, nacro_caseworker):
    invoice = submitted_september(work, nacro_manager)
    portal.sign_in(nacro_caseworker)
    html = portal.get("/").get_data(as_text=True)
    assert 'href="/invoices/"' not in html
    page = text_of(portal.get(f"/invoices/{invoice.id}"))
    assert "Invoice NACRO-000001" in page and "Raise a credit note" not in page and "Approve" not in page


def test_another_partners_user_of_the_same_name_role_cannot_see_nacros_invoices(portal, work, nacro_manager, st_giles):
    invoice = submitted_september(work, nacro_manager)
    outsider = UserFactory(organisation=st_giles, role=nacro_manager.role, email="manager2@stgiles.example")
    portal.sign_in(outsider)
    assert "NACRO-000001" not in text_of(portal.get("/invoices/"))
    for url in (f"/invoices/{invoice.id}", f"/invoices/{invoice.id}.pdf", f"/invoices/{invoice.id}/lines.csv"):
        assert portal.get(url).status_code == 404
    assert "NACRO" not in portal.get("/invoices/export.csv").get_data(as_text=True)


def test_a_submitted_invoice_and_a_page_of_its_events_issue_as_many_queries_for_many_events_as_for_few(
    app, portal, work, nacro_manager, priced
):
    """At national scale an invoice bills tens of thousands of events: its page shows each line's
    count as the line stores it, and a page of a line's events asks who may see only those shown."""
    referral = work.referral(date(2026, 9, 2))
    work.session(referral, date(2026, 9, 3), 60)
    small = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    for day in range(1, 29):
        other = work.referral(date(2026, 10, 1))
        work.session(other, date(2026, 10, day), 30 + day)
    big = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-10"))
    portal.sign_in(nacro_manager)
    counts = []
    for invoice in (small, big):
        line = next(line for line in lines_of(invoice) if line.item_code == "TTG-HOUR")
        urls = [f"/invoices/{invoice.id}", f"/invoices/{invoice.id}/lines/{line.id}"]
        for url in urls:
            assert portal.get(url).status_code == 200
        with QueryCounter(app) as counter:
            for url in urls:
                portal.get(url)
        counts.append(counter.count)
    assert counts[0] == counts[1]
    line = next(line for line in lines_of(big) if line.item_code == "TTG-HOUR")
    page = text_of(portal.get(f"/invoices/{big.id}/lines/{line.id}"))
    assert "Events 28" in page and "add up to" not in page
    assert "TTG-HOUR TTG-HOUR TTG-REF Per attended hour" in text_of(portal.get(f"/invoices/{big.id}"))
    assert "28 events" in text_of(portal.get(f"/invoices/{big.id}"))


def test_a_drafts_page_shows_the_work_no_price_covers_as_generated_until_it_is_generated_again(
    app, portal, work, nacro_manager, priced
):
    """The draft keeps what its generation found beside its lines (its page does not read the
    contract's whole history again on every view); generating it again brings both up to date."""
    september_of(work)
    draft = service.generate_draft(nacro_manager, priced, "2026-09")
    assert fresh(draft).unpriced_count == 0
    late_item = RateCardItemFactory(contract=priced, code="TTG-LATE", service_code="TTG", unit=Unit.PER_SESSION)
    RateCardPriceFactory(item=late_item, unit_price_pence=999, effective_from=date(2026, 11, 1))
    portal.sign_in(nacro_manager)
    with QueryCounter(app) as shown:
        page = text_of(portal.get(f"/invoices/{draft.id}"))
    assert "Work no price covers" not in page
    response = portal.post(f"/invoices/{draft.id}/regenerate", {"version": str(fresh(draft).version)})
    page = text_of(portal.get(response.headers["Location"]))
    assert "Work no price covers" in page and "TTG-LATE: Service item" in page
    assert fresh(draft).unpriced_count == 2
    assert [work["item_code"] for work in fresh(draft).unpriced] == ["TTG-LATE", "TTG-LATE"]
    with QueryCounter(app) as again:
        portal.get(f"/invoices/{draft.id}")
    assert again.count == shown.count


def test_a_drafts_line_is_paged_with_the_figures_the_rules_give_now_from_one_reading_of_them(
    app, portal, work, nacro_manager, priced
):
    """A draft's line page works its events out once for both the page and the line's figures:
    every page shows the figures line_totals gives, and the pages together are event_rows."""
    from portal.invoicing import queries
    from portal.invoicing.views import EVENTS_PAGE_SIZE

    for index in range(EVENTS_PAGE_SIZE + 5):
        referral = work.referral(date(2026, 9, 1))
        work.session(referral, date(2026, 9, 2 + index % 27), 30 + index % 7)
    draft = service.generate_draft(nacro_manager, priced, "2026-09")
    line = next(line for line in lines_of(draft) if line.item_code == "TTG-HOUR")
    totals = queries.line_totals(line)
    assert totals.events == EVENTS_PAGE_SIZE + 5
    window, shown = queries.line_page(nacro_manager, line, per_page=EVENTS_PAGE_SIZE)
    assert shown == totals
    following, shown_after = queries.line_page(nacro_manager, line, per_page=EVENTS_PAGE_SIZE, after=window.next_cursor)
    assert shown_after == totals
    assert [e.event_key for e in window.items + following.items] == [
        e.event_key for e in queries.event_rows(nacro_manager, line)
    ]
    assert window.items + following.items == queries.event_rows(nacro_manager, line)
    back, shown_back = queries.line_page(
        nacro_manager, line, per_page=EVENTS_PAGE_SIZE, before=following.previous_cursor
    )
    assert back.items == window.items and shown_back == totals
    portal.sign_in(nacro_manager)
    first = text_of(portal.get(f"/invoices/{draft.id}/lines/{line.id}"))
    assert f"Events {EVENTS_PAGE_SIZE + 5}" in first
    # Work recorded since the draft was generated: the figures move, on every page alike.
    work.session(work.referral(date(2026, 9, 1)), date(2026, 9, 29), 45)
    moved = queries.line_totals(line)
    assert moved.events == EVENTS_PAGE_SIZE + 6
    assert queries.line_page(nacro_manager, line, per_page=EVENTS_PAGE_SIZE)[1] == moved
    assert f"Events {EVENTS_PAGE_SIZE + 6}" in text_of(portal.get(f"/invoices/{draft.id}/lines/{line.id}"))
