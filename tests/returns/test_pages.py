"""Service return pages: a partner manager starts, writes and submits; a contract manager returns or
accepts; the PDF reads back the frozen figures; nobody reaches another partner's return."""

import csv
import io
import time
from datetime import date
from io import BytesIO

import pytest
import time_machine
from pypdf import PdfReader

from portal.audit.models import AuditEvent
from portal.dates import PeriodKind, parse_period
from portal.extensions import db
from portal.figure_cache import forget
from portal.formatting import format_date
from portal.returns.models import ReturnStatus, ServiceReturn
from tests.factories import ServiceReturnFactory
from tests.helpers import STORY_DAY, QueryCounter, text_of
from tests.returns.conftest import EXPECTED_Q3

pytestmark = pytest.mark.on_day(STORY_DAY)  # a worked example set in 2026


NARRATIVE = {
    "achievements": "Eleven people housed on release.",
    "challenges": "Two caseworker vacancies.",
    "case_study": "A man in his thirties, homeless on release, now holds a tenancy.",
    "safeguarding_note": "One concern about a child, passed to the referrer the same day.",
    "complaints": "",
    "staffing": "",
}


@pytest.fixture
def q3_return(quarter, nacro_manager):
    return ServiceReturnFactory(
        contract=quarter["contract"],
        period_kind=PeriodKind.QUARTER,
        period_start=date(2026, 7, 1),
        period_end=date(2026, 9, 30),
        created_by=nacro_manager,
    )


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)


def test_a_partner_manager_starts_a_quarterly_return_and_sees_its_live_figures(portal, quarter, nacro_manager):
    portal.sign_in(nacro_manager)
    assert "2026-Q3" in portal.get("/service-returns/new").get_data(as_text=True)
    response = portal.post("/service-returns/new", {"contract": "BENCH-ACC-01", "period": "2026-Q3"})
    assert response.status_code == 302
    page = portal.get(response.headers["Location"])
    text = text_of(page)
    assert "Service return for July to September 2026" in text
    assert "These figures are live" in text
    assert 'data-figure="received"' in page.get_data(as_text=True)
    assert db.session.scalar(db.select(AuditEvent.action).where(AuditEvent.action == "service_return.created"))


def test_a_second_return_for_the_same_period_is_refused_with_a_clear_message(portal, q3_return, nacro_manager):
    portal.sign_in(nacro_manager)
    response = portal.post("/service-returns/new", {"contract": "BENCH-ACC-01", "period": "2026-Q3"})
    assert response.status_code == 200
    assert "There is already a return for July to September 2026 on this contract" in text_of(response)
    response = portal.post("/service-returns/new", {"contract": "BENCH-ACC-01", "period": "2026-08"})
    assert "The return for July to September 2026 already covers part of August 2026" in text_of(response)
    assert db.session.scalar(db.select(db.func.count()).select_from(ServiceReturn)) == 1


def test_a_period_before_the_contract_or_in_the_future_is_refused(portal, quarter, nacro_manager, today):
    from portal.returns import service

    def quarter_of(day):
        return parse_period(f"{day.year}-Q{(day.month - 1) // 3 + 1}")

    contract = quarter["contract"]
    before = quarter_of(contract.start_date).previous()
    ahead = quarter_of(today).following()
    for period, message in (
        (before, f"{before.label} is before the contract started on {format_date(contract.start_date)}"),
        (ahead, f"{ahead.label} has not started yet"),
    ):
        with pytest.raises(service.ValidationFailed) as refused:
            service.create_return(nacro_manager, contract, period.code)
        assert message in refused.value.errors["period"][0]
    assert db.session.scalar(db.select(db.func.count()).select_from(ServiceReturn)) == 0


def test_submitting_without_the_required_narrative_names_what_is_missing(portal, q3_return, nacro_manager):
    portal.sign_in(nacro_manager)
    portal.get(f"/service-returns/{q3_return.id}")
    response = portal.post(f"/service-returns/{q3_return.id}/submit", {"version": q3_return.version})
    assert response.status_code == 400
    text = text_of(response)
    assert "There is a problem" in text and "Enter achievements" in text and "Enter an anonymised case study" in text
    db.session.refresh(q3_return)
    assert q3_return.status == ReturnStatus.DRAFT and q3_return.kpis is None


def _write_and_submit(portal, service_return):
    portal.get(f"/service-returns/{service_return.id}/narrative")
    response = portal.post(
        f"/service-returns/{service_return.id}/narrative", {**NARRATIVE, "version": service_return.version}
    )
    assert response.status_code == 302, text_of(response)
    db.session.refresh(service_return)
    portal.get(f"/service-returns/{service_return.id}")
    response = portal.post(f"/service-returns/{service_return.id}/submit", {"version": service_return.version})
    assert response.status_code == 302, text_of(response)
    db.session.refresh(service_return)


def test_submission_freezes_the_figures_so_later_edits_do_not_change_the_pdf(
    portal, other_portal, q3_return, quarter, nacro_manager, contract_manager
):
    portal.sign_in(nacro_manager)
    _write_and_submit(portal, q3_return)
    assert q3_return.status == ReturnStatus.SUBMITTED
    assert q3_return.kpis["period"]["code"] == "2026-Q3"
    before = pdf_text(portal.get(f"/service-returns/{q3_return.id}.pdf").data)

    # Someone then records another referral in the quarter and changes a session.
    from tests.factories import ReferralFactory
    from tests.returns.conftest import at

    ReferralFactory(
        contract=quarter["contract"],
        service_code="ACC-TTG",
        sent_at=at(date(2026, 8, 12)),
        reference="LATE0001",
        referrer=quarter["a"].referrer,
    )
    db.session.commit()
    after = pdf_text(portal.get(f"/service-returns/{q3_return.id}.pdf").data)
    assert after == before
    page = text_of(portal.get(f"/service-returns/{q3_return.id}"))
    assert "These figures were fixed when the return was submitted" in page


def test_the_pdf_states_the_figures_the_records_give(portal, q3_return, nacro_manager):
    portal.sign_in(nacro_manager)
    _write_and_submit(portal, q3_return)
    text = pdf_text(portal.get(f"/service-returns/{q3_return.id}.pdf").data)
    lines = [" ".join(line.split()) for line in text.splitlines()]

    def row(label):
        return next(line for line in lines if line.startswith(label + " "))

    assert row("Referrals received").split()[2] == str(EXPECTED_Q3["received"])
    assert row("Attendance rate").split()[2] == EXPECTED_Q3["attendance_rate"]
    assert row("Hours delivered").split()[2] == EXPECTED_Q3["hours_delivered"]
    assert "Official-Sensitive" in text and "Page 1 of" in text
    assert "Eleven people housed on release." in text
    assert "Submitted Mo Manager" in " ".join(lines)


def test_a_contract_manager_returns_it_with_a_reason_then_accepts_the_resubmission(
    portal, other_portal, q3_return, nacro_manager, contract_manager
):
    portal.sign_in(nacro_manager)
    _write_and_submit(portal, q3_return)
    other_portal.sign_in(contract_manager)
    other_portal.get(f"/service-returns/{q3_return.id}/return")
    response = other_portal.post(
        f"/service-returns/{q3_return.id}/return", {"reason": "", "version": q3_return.version}
    )
    assert "Enter why the return needs changes" in text_of(response)
    response = other_portal.post(
        f"/service-returns/{q3_return.id}/return",
        {"reason": "Say more about the vacancies.", "version": q3_return.version},
    )
    assert response.status_code == 302
    db.session.refresh(q3_return)
    assert q3_return.status == ReturnStatus.RETURNED
    assert "Say more about the vacancies." in text_of(portal.get(f"/service-returns/{q3_return.id}"))

    _write_and_submit(portal, q3_return)
    assert q3_return.status == ReturnStatus.SUBMITTED
    other_portal.get(f"/service-returns/{q3_return.id}")
    response = other_portal.post(f"/service-returns/{q3_return.id}/accept", {"version": q3_return.version})
    assert response.status_code == 302
    db.session.refresh(q3_return)
    assert q3_return.status == ReturnStatus.ACCEPTED and q3_return.accepted_by_id == contract_manager.id
    actions = db.session.scalars(
        db.select(AuditEvent.action).where(AuditEvent.record_type == "service_return").order_by(AuditEvent.id)
    ).all()
    assert [action for action in actions if action != "service_return.narrative_updated"] == [
        "service_return.submitted",
        "service_return.returned",
        "service_return.submitted",
        "service_return.accepted",
    ]


def test_partners_cannot_decide_and_contract_managers_cannot_write(portal, q3_return, nacro_manager, contract_manager):
    portal.sign_in(contract_manager)
    assert portal.get(f"/service-returns/{q3_return.id}/narrative").status_code == 403
    assert portal.get("/service-returns/new").status_code == 403
    portal.sign_out()
    portal.sign_in(nacro_manager)
    assert portal.post(f"/service-returns/{q3_return.id}/accept", {"version": 1}).status_code == 403
    assert portal.get(f"/service-returns/{q3_return.id}/return").status_code == 403


def test_caseworkers_and_referrers_do_not_see_returns(portal, q3_return, nacro_caseworker, referrer):
    portal.sign_in(nacro_caseworker)
    assert portal.get("/service-returns/").status_code == 403
    assert portal.get(f"/service-returns/{q3_return.id}.pdf").status_code == 403


def test_another_partners_return_is_not_found(portal, q3_return, st_giles_manager):
    portal.sign_in(st_giles_manager)
    for url in (
        f"/service-returns/{q3_return.id}",
        f"/service-returns/{q3_return.id}.pdf",
        f"/service-returns/{q3_return.id}/figures.csv",
    ):
        assert portal.get(url).status_code == 404
    assert "BENCH-ACC-01" not in portal.get("/service-returns/").get_data(as_text=True)


def test_the_figures_download_as_csv(portal, q3_return, nacro_manager):
    portal.sign_in(nacro_manager)
    response = portal.get(f"/service-returns/{q3_return.id}/figures.csv")
    text = response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    assert "Referrals,Referrals received,4,1,5" in text
    assert "Equality: Gender,Male,fewer than 5" in text


def test_the_figures_download_as_a_spreadsheet_with_numbers_as_numbers(portal, q3_return, nacro_manager):
    from openpyxl import load_workbook

    portal.sign_in(nacro_manager)
    response = portal.get(f"/service-returns/{q3_return.id}/figures.xlsx")
    assert response.headers["Content-Disposition"].endswith('2026-Q3.xlsx"')
    sheet = load_workbook(BytesIO(response.data))["Figures"]
    rows = {row[1]: row[2:] for row in sheet.iter_rows(min_row=3, values_only=True)}
    assert rows["Referrals received"] == (4, 1, 5)
    assert float(rows["Attendance rate"][0]) == 66.7
    assert float(rows["Invoiced (before VAT)"][0]) == 1000
    assert rows["Male"][0] == "fewer than 5"


def test_the_return_page_takes_the_same_queries_for_few_or_many_records(
    app, portal, q3_return, quarter, nacro_manager, referrer
):
    from tests.factories import ReferralFactory

    portal.sign_in(nacro_manager)
    url = f"/service-returns/{q3_return.id}"
    portal.get(url)
    forget()  # each visit counts its figures, rather than remembering the last visit's
    with QueryCounter(app) as few:
        assert portal.get(url).status_code == 200
    for n in range(25):
        ReferralFactory(
            contract=quarter["contract"],
            service_code="ACC-TTG",
            referrer=referrer,
            reference=f"MQ{n:04d}AA",
            sent_at=quarter["b"].sent_at,
        )
    forget()
    with QueryCounter(app) as many:
        assert portal.get(url).status_code == 200
    assert many.count == few.count


def test_a_contract_manager_downloads_a_periods_accepted_returns_as_one_zip(
    portal, quarter, contract_manager, app, tmp_path
):
    import zipfile

    app.config["STORAGE_DIR"] = tmp_path
    ServiceReturnFactory(
        contract=quarter["contract"],
        period_kind=PeriodKind.QUARTER,
        period_start=date(2026, 7, 1),
        period_end=date(2026, 9, 30),
        accepted=True,  # its figures frozen when it was submitted
    )
    portal.sign_in(contract_manager)
    portal.get("/service-returns/bulk")
    response = portal.post("/service-returns/bulk", {"period": "2026-Q3"})
    assert response.status_code == 302
    status_url = response.headers["Location"]
    assert "Your ZIP file is ready" in text_of(portal.get(status_url))
    assert portal.get(status_url + "/status.json").json["import_status"] == "finished"
    download = portal.get(status_url + "/download")
    names = zipfile.ZipFile(BytesIO(download.data)).namelist()
    assert names == ["service-return-BENCH-ACC-01-2026-Q3.pdf"]


def test_zip_exports_older_than_a_week_are_removed_when_the_next_is_made(app, tmp_path, monkeypatch):
    import os

    from portal.returns import bulk

    monkeypatch.setitem(app.config, "STORAGE_DIR", tmp_path)
    old, recent = bulk.export_path("a" * 32 + ".zip"), bulk.export_path("b" * 32 + ".zip")
    # Stamped by the portal's clock (the file system's is the real one, whatever the suite is pinned to).
    now = time.time()
    for path, made in ((old, now - 8 * 24 * 3600), (recent, now - 3600)):
        path.write_bytes(b"PK")
        os.utime(path, (made, made))
    assert bulk.remove_old_exports() == 1
    assert not old.exists() and recent.exists()


def test_a_return_cannot_be_submitted_before_its_period_ends(portal, quarter, nacro_manager):
    from portal.returns import service

    with time_machine.travel(date(2026, 9, 15)):
        service_return = service.create_return(nacro_manager, quarter["contract"], "2026-Q3")
        service.update_narrative(nacro_manager, service_return, NARRATIVE)
        with pytest.raises(service.ValidationFailed) as refused:
            service.submit_return(nacro_manager, service_return)
    assert "You can submit this return from 1 October 2026" in refused.value.errors["return"][0]


def test_the_return_page_links_the_contract_and_shows_the_narrative_as_written(portal, q3_return, nacro_manager):
    from portal.returns import service

    service.update_narrative(nacro_manager, q3_return, {"achievements": "<b>Housed</b> & settled"})
    portal.sign_in(nacro_manager)
    html = portal.get(f"/service-returns/{q3_return.id}").get_data(as_text=True)
    assert '<a class="govuk-link" href="/contracts/BENCH-ACC-01">BENCH-ACC-01</a>' in html
    assert "&lt;b&gt;Housed&lt;/b&gt; &amp; settled" in html
    assert "&lt;span" not in html and "&lt;a class" not in html


def test_a_contract_manager_opens_the_list_on_returns_to_review_and_downloads_what_is_filtered(
    portal, quarter, q3_return, contract_manager
):
    submitted = ServiceReturnFactory(
        contract=quarter["contract"],
        period_kind=PeriodKind.MONTH,
        period_start=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
        submitted=True,
    )
    portal.sign_in(contract_manager)
    listed = portal.get("/service-returns/").get_data(as_text=True)
    assert f"/service-returns/{submitted.id}" in listed and f"/service-returns/{q3_return.id}" not in listed
    rows = list(csv.DictReader(io.StringIO(portal.get("/service-returns/export.csv").get_data(as_text=True))))
    assert [(row["period"], row["status"]) for row in rows] == [("October 2026", "submitted")]
    everything = portal.get("/service-returns/export.csv?status=").get_data(as_text=True)
    assert "July to September 2026" in everything and "October 2026" in everything
