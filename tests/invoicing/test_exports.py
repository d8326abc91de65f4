"""CSV files of invoices, their lines and a line's events: text/csv, figures as stored, the
filtered list only, and no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy import select

from portal.csv_files import csv_text, spreadsheet_safe
from portal.extensions import db
from portal.invoicing import service
from portal.invoicing.models import InvoiceLine
from portal.people.models import Person
from tests.helpers import STORY_DAY
from tests.invoicing.stories import september_of

pytestmark = pytest.mark.on_day(STORY_DAY)  # a worked example set in 2026


def rows_of(response):
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and response.mimetype_params["charset"] == "utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def lines_of(invoice):
    return db.session.scalars(
        select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).order_by(InvoiceLine.position)
    ).all()


def test_cells_that_a_spreadsheet_would_run_are_defused_and_numbers_are_left_alone():
    from decimal import Decimal

    assert spreadsheet_safe('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    # "+1" alone is a number, which a spreadsheet reads as the number it is: nothing to defuse.
    assert [spreadsheet_safe(v) for v in ("+1", "-2+3", "@SUM(A1)", "\tx", "plain")] == [
        "+1",
        "'-2+3",
        "'@SUM(A1)",
        "'\tx",
        "plain",
    ]
    assert spreadsheet_safe(Decimal("-12.50")) == "-12.50" and spreadsheet_safe(-3) == "-3"
    assert spreadsheet_safe(date(2026, 9, 1)) == "2026-09-01" and spreadsheet_safe(None) == ""
    assert csv_text(["a"], [["=1+1"]]) == "a\n'=1+1\n"


def test_the_invoice_list_exports_what_the_filters_show(portal, work, nacro_manager, contract_manager, priced):
    september_of(work)
    invoice = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    note = service.raise_credit_note(
        nacro_manager, invoice, event_ids=[service.creditable_events(invoice)[0].id], reason="x", rebill=False
    )
    service.generate_draft(nacro_manager, priced, "2026-10")
    portal.sign_in(contract_manager)
    rows = rows_of(portal.get("/invoices/export.csv"))
    numbers = [row["number"] for row in rows]
    assert numbers[0].startswith("draft ") and numbers[1:] == [note.number, "NACRO-000001"]
    first = next(row for row in rows if row["number"] == "NACRO-000001")
    assert first == first | {
        "kind": "invoice",
        "status": "submitted",
        "partner": "Nacro",
        "contract": "BENCH-ACC-01",
        "period": "2026-09",
        "subtotal": "817.50",
        "vat_rate": "20",
        "vat": "163.50",
        "total": "981.00",
        "due_date": invoice.due_date.isoformat(),
        "overdue": "no",
    }
    credit = next(row for row in rows if row["number"] == "NACRO-000002")
    assert (
        credit["kind"] == "credit_note"
        and credit["total"].startswith("-")
        and credit["credits_invoice"] == ("NACRO-000001")
    )
    only_submitted = rows_of(portal.get("/invoices/export.csv?status=submitted"))
    assert {row["number"] for row in only_submitted} == {"NACRO-000001", "NACRO-000002"}


def test_lines_export_with_text_made_safe(portal, work, nacro_manager, priced):
    from portal.contracts.models import RateCardItem

    september_of(work)
    item = db.session.scalars(select(RateCardItem).where(RateCardItem.code == "TTG-REF")).one()
    item.name = '=HYPERLINK("http://evil.example","Click")'
    db.session.commit()
    invoice = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    portal.sign_in(nacro_manager)
    for url in ("/invoices/lines.csv", f"/invoices/{invoice.id}/lines.csv"):
        rows = rows_of(portal.get(url))
        assert [row["item_code"] for row in rows] == [line.item_code for line in lines_of(invoice)]
        item_line = next(row for row in rows if row["item_code"] == "TTG-REF")
        assert item_line["description"].startswith("'=HYPERLINK")
        hours = next(row for row in rows if row["item_code"] == "TTG-HOUR")
        assert (hours["quantity"], hours["unit_price"], hours["amount"]) == ("2.25", "30.00", "67.50")


def test_a_lines_events_export_matches_the_drill_down(portal, work, nacro_manager, contract_manager, priced):
    referral = september_of(work)
    person = db.session.get(Person, referral.person_id)
    person.given_name = "@SUM(1+1)"
    db.session.commit()
    invoice = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    line = next(line for line in lines_of(invoice) if line.item_code == "TTG-HOUR")
    portal.sign_in(contract_manager)
    rows = rows_of(portal.get(f"/invoices/{invoice.id}/lines/{line.id}.csv"))
    assert [(row["session_date"], row["start_time"], row["duration_minutes"], row["attendance"]) for row in rows] == [
        ("2026-09-03", "10:00", "90", "attended"),
        ("2026-09-10", "10:00", "45", "attended"),
    ]
    assert {row["referral"] for row in rows} == {referral.reference}
    assert {row["crn"] for row in rows} == {person.crn}
    assert {row["person"] for row in rows} == {f"'@SUM(1+1) {person.family_name}"}
    assert {row["month"] for row in rows} == {"2026-09"} and {row["referral_accepted_on"] for row in rows} == {
        "2026-09-02"
    }
    assert sum(int(row["minutes_billed"]) for row in rows) == 135  # 2.25 hours: the line's quantity


def test_the_performance_exports_invoiced_column_adds_up_to_the_invoice(work, nacro_manager, today):
    """Each referral's invoiced amount is its share of the invoice's lines, to the penny: the hours
    line of 65 minutes (1.08 hours at £30, £32.40) is shared 20:20:25 between three referrals."""
    from portal.dashboards.performance import COLUMNS, invoiced_by_referral, rows
    from portal.dates import add_months, month_end

    month = add_months(today, -1)
    referrals = [work.referral(month.replace(day=2)) for _ in range(3)]
    for referral, minutes in zip(referrals, (20, 20, 25), strict=True):
        work.session(referral, month.replace(day=3), minutes)
    invoice = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, work.contract, month))
    hours_line = next(line for line in lines_of(invoice) if line.unit.value == "per_hour")
    assert hours_line.amount_pence == 3240

    shares = invoiced_by_referral([work.contract.id])
    assert sum(shares.values()) == invoice.subtotal_pence
    # £150 to start and £45 a session each, and the hours shared by minutes: 997, 997 and 1246 pence.
    assert [shares[referral.id] for referral in referrals] == [
        15000 + 4500 + 997,
        15000 + 4500 + 997,
        15000 + 4500 + 1246,
    ]
    column = COLUMNS.index("invoiced_before_vat")
    exported = {line[0]: line[column] for line in rows([work.contract.id], month, month_end(today))}
    assert [exported[referral.reference] for referral in referrals] == ["204.97", "204.97", "207.46"]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_invoiced_shares_worked_out_in_sql_are_money_share_out_to_the_penny(
    work, nacro_manager, contract_manager, today, seed
):
    """The performance export reads each referral's share of the invoice lines from SQL (window
    functions), so a national quarter never holds every line in memory. On a random month of work,
    with equal minutes making ties and a credit note taking some of it back, every referral's
    share is what money.share_out gives: rounded down, the pence left to the largest remainders,
    ties to the lowest referral id."""
    import random

    from portal.contracts.models import Unit
    from portal.dashboards.performance import invoiced_by_referral
    from portal.dates import add_months
    from portal.invoicing.models import InvoiceEvent
    from portal.money import share_out

    rng = random.Random(seed)
    month = add_months(today, -1)
    referrals = [work.referral(month.replace(day=2)) for _ in range(rng.randint(2, 6))]
    for referral in referrals:
        for day in rng.sample(range(3, 28), rng.randint(1, 4)):
            work.session(referral, month.replace(day=day), rng.choice((15, 20, 25, 45, 60, 61)))
    invoice = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, work.contract, month))
    events = db.session.scalars(select(InvoiceEvent).where(InvoiceEvent.invoice_id == invoice.id)).all()
    credited = rng.sample([event.id for event in service.creditable_events(invoice)], 2)
    note = service.raise_credit_note(nacro_manager, invoice, event_ids=credited, reason="Recorded twice", rebill=False)

    expected: dict[int, int] = {}
    for bill in (invoice, note):
        for line in lines_of(bill):
            of_line = db.session.scalars(select(InvoiceEvent).where(InvoiceEvent.line_id == line.id)).all()
            weights: dict[int | None, int] = {}
            for event in sorted(of_line, key=lambda event: (event.referral_id is None, event.referral_id or 0)):
                piece = event.minutes if line.unit == Unit.PER_HOUR else 1
                weights[event.referral_id] = weights.get(event.referral_id, 0) + piece
            for referral_id, share in share_out(line.amount_pence, weights).items():
                if referral_id is not None:
                    expected[referral_id] = expected.get(referral_id, 0) + share
    assert len(events) > len(referrals)
    assert invoiced_by_referral([work.contract.id]) == expected
    assert sum(expected.values()) == invoice.subtotal_pence + note.subtotal_pence
