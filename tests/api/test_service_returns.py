"""Service returns through the API, as a partner's system and the CRC's would use them: start one,
write its narrative a part at a time, submit it (its figures freeze), and the contract manager
accepts or returns it; every refusal is the status API.md gives it and changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import BytesIO

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select, update

from portal.audit.models import AuditEvent
from portal.dates import london_today
from portal.extensions import db
from portal.returns import service as returns
from portal.returns.models import ServiceReturn
from tests.api.conftest import NARRATIVE, World, month_start
from tests.api.test_bad_input import assert_problem
from tests.helpers import STORY_DAY
from tests.returns.conftest import quarter  # noqa: F401 - the worked quarter, as a fixture here

pytestmark = pytest.mark.on_day(STORY_DAY)  # a worked example set in 2026


def audit_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def figure(body: dict, key: str, column: str = "period"):
    rows = [row for section in body["kpis"]["sections"] for row in section["rows"] if row["key"] == key]
    assert len(rows) == 1, key
    return rows[0]["values"][column]


def attended_session(world: World, day) -> None:
    response = world["nacro_caseworker"].post(
        f"/referrals/{world.open.reference}/sessions",
        {"date": day.isoformat(), "start_time": "11:00", "duration_minutes": 45, "kind": "one_to_one",
         "attendance": "attended"},
    )  # fmt: skip
    assert response.status_code == 201, response.get_json()


def test_a_partner_manager_starts_a_draft_with_its_figures(world: World):
    period = world.months["m3"].strftime("%Y-%m")
    response = world["nacro_manager"].post("/service-returns", {"contract": "bench-acc-01", "period": period})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/service-returns/{body['id']}")
    assert body["status"] == "draft" and body["contract"] == "BENCH-ACC-01" and body["period"] == period
    assert body["period_kind"] == "month" and body["period_start"] == world.months["m3"].isoformat()
    assert body["figures_frozen"] is False and body["version"] >= 1
    assert set(body["missing_narrative"]) == {"achievements", "challenges", "case_study"}
    assert figure(body, "concerns_raised") == 0  # counted from the concern records
    assert body["kpis"]["schema"] == 1 and body["kpis"]["period"]["code"] == period
    assert figure(body, "attended") == 1  # the one session `open` had that month
    assert [headline["key"] for headline in body["kpis"]["headline"]][-1] == "spend"
    assert body["submitted_by"] is None and body["narrative"]["achievements"] is None


def quarter_of(day) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def test_a_quarter_is_a_period_too_but_not_one_overlapping_a_month_already_returned(world: World):
    client = world["nacro_manager"]
    half_a_year_ago = month_start(london_today(), 6)
    response = client.post("/service-returns", {"contract": "BENCH-ACC-01", "period": quarter_of(half_a_year_ago)})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["period_kind"] == "quarter" and body["period_start"][5:7] in ("01", "04", "07", "10")
    assert body["kpis"]["months"][-1]["month"] == body["period_end"][:7]  # charted to the quarter's end
    problem = assert_problem(
        client.post("/service-returns", {"contract": "BENCH-ACC-01", "period": quarter_of(world.months["m1"])}), 422
    )
    assert "already covers part" in problem["errors"]["period"][0]


def test_periods_the_pages_refuse_are_refused_naming_the_field(world: World):
    client = world["nacro_manager"]
    taken = world.months["m1"].strftime("%Y-%m")
    future = (london_today().replace(day=1) + timedelta(days=40)).strftime("%Y-%m")
    before = audit_count()
    for period, words in ((taken, "already a return"), (future, "not started"), ("October", "as a month")):
        problem = assert_problem(client.post("/service-returns", {"contract": "BENCH-ACC-01", "period": period}), 422)
        assert list(problem["errors"]) == ["period"] and words in problem["errors"]["period"][0], problem
    problem = assert_problem(client.post("/service-returns", {"contract": 12, "period": taken, "extra": True}), 422)
    assert set(problem["errors"]) == {"contract", "extra"}
    assert audit_count() == before


def test_the_narrative_is_written_a_part_at_a_time_and_guarded_by_version(world: World):
    client = world["nacro_manager"]
    created = client.post(
        "/service-returns", {"contract": "BENCH-ACC-01", "period": world.months["m3"].strftime("%Y-%m")}
    ).get_json()
    path = f"/service-returns/{created['id']}/narrative"

    first = client.post(path, {"achievements": "  Housed two people.  ", "version": created["version"]})
    assert first.status_code == 200, first.get_json()
    first = first.get_json()
    assert first["narrative"]["achievements"] == "Housed two people."
    assert "achievements" not in first["missing_narrative"]

    second = client.post(path, {"safeguarding_concerns": 2, "complaints": "None."}).get_json()
    assert second["narrative"]["achievements"] == "Housed two people."  # what was not sent is kept
    assert second["narrative"]["safeguarding_concerns"] is None  # deprecated: ignored, the records count them

    before = audit_count()
    assert_problem(client.post(path, {"achievements": "Overwritten", "version": created["version"]}), 409)
    problem = assert_problem(client.post(path, {"complaints": "x" * 5001, "challenges": "x" * 5001}), 422)
    assert set(problem["errors"]) == {"complaints", "challenges"}
    problem = assert_problem(client.post(path, {"safeguarding_concerns": "two", "summary": "?"}), 422)
    assert set(problem["errors"]) == {"safeguarding_concerns", "summary"}
    assert audit_count() == before

    cleared = client.post(path, {"achievements": None}).get_json()
    assert cleared["narrative"]["achievements"] is None and "achievements" in cleared["missing_narrative"]


def test_submitting_needs_the_period_over_and_the_narrative_written(world: World):
    client = world["nacro_manager"]
    this_month = client.post(
        "/service-returns", {"contract": "BENCH-ACC-01", "period": london_today().strftime("%Y-%m")}
    ).get_json()
    client.post(f"/service-returns/{this_month['id']}/narrative", NARRATIVE | {"safeguarding_concerns": 0})
    problem = assert_problem(client.post(f"/service-returns/{this_month['id']}/submit"), 409)
    assert "once the period has ended" in problem["detail"]

    earlier = client.post(
        "/service-returns", {"contract": "BENCH-ACC-01", "period": world.months["m3"].strftime("%Y-%m")}
    ).get_json()
    client.post(f"/service-returns/{earlier['id']}/narrative", {"achievements": "Housed two people."})
    problem = assert_problem(client.post(f"/service-returns/{earlier['id']}/submit"), 422)
    assert set(problem["errors"]) == {"narrative.challenges", "narrative.case_study"}
    assert client.get(f"/service-returns/{earlier['id']}").get_json()["status"] == "draft"


def test_submitted_figures_are_frozen_while_a_drafts_follow_the_records(world: World):
    manager, path = world["nacro_manager"], f"/service-returns/{world.draft_return.id}"
    day = world.months["m1"] + timedelta(days=10)
    draft = manager.get(path).get_json()
    attended_session(world, day)
    assert figure(manager.get(path).get_json(), "attended") == figure(draft, "attended") + 1

    submitted = manager.post(f"{path}/submit", {"version": manager.get(path).get_json()["version"]})
    assert submitted.status_code == 200, submitted.get_json()
    submitted = submitted.get_json()
    assert submitted["status"] == "submitted" and submitted["figures_frozen"] is True
    assert submitted["submitted_by"]["email"] == world.people["nacro_manager"].email
    assert submitted["missing_narrative"] == {}
    attended_session(world, day + timedelta(days=1))
    assert manager.get(path).get_json()["kpis"] == submitted["kpis"]

    problem = assert_problem(manager.post(f"{path}/narrative", {"achievements": "Rewritten"}), 409)
    assert "can no longer change" in problem["detail"]
    assert_problem(manager.post(f"{path}/submit"), 409)


def test_the_contract_manager_returns_it_with_a_reason_and_accepts_the_resubmission(world: World):
    finance, manager = world["contract_manager"], world["nacro_manager"]
    decider = world.people["contract_manager"].email
    path = f"/service-returns/{world.submitted_return.id}"
    before = audit_count()
    problem = assert_problem(finance.post(f"{path}/return", {"reason": "   "}), 422)
    assert list(problem["errors"]) == ["reason"]
    assert_problem(finance.post(f"{path}/return", {}), 422)
    assert audit_count() == before

    returned = finance.post(f"{path}/return", {"reason": "The case study gives a date of birth."}).get_json()
    assert returned["status"] == "returned" and returned["return_reason"] == "The case study gives a date of birth."
    assert returned["figures_frozen"] is False and returned["returned_by"]["email"] == decider
    assert_problem(finance.post(f"{path}/accept"), 409)  # only a submitted return

    manager.post(f"{path}/narrative", {"case_study": "A woman in her forties now holds a tenancy."})
    resubmitted = manager.post(f"{path}/submit").get_json()
    assert resubmitted["status"] == "submitted"
    assert_problem(finance.post(f"{path}/accept", {"version": resubmitted["version"] - 1}), 409)
    accepted = finance.post(f"{path}/accept", {"version": resubmitted["version"]}).get_json()
    assert accepted["status"] == "accepted" and accepted["accepted_by"]["email"] == decider
    assert_problem(finance.post(f"{path}/return", {"reason": "Too late"}), 409)


def test_the_pdf_is_the_returns_and_says_who_signed_it_off(world: World):
    path = f"/service-returns/{world.submitted_return.id}"
    world["contract_manager"].post(f"{path}/accept")
    response = world["contract_manager"].get(f"{path}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    db.session.expire_all()
    service_return = db.session.get(ServiceReturn, world.submitted_return.id)
    assert response.headers["Content-Disposition"] == f'attachment; filename="{service_return.filename}"'
    text = " ".join(page.extract_text() for page in PdfReader(BytesIO(response.data)).pages)
    assert "BENCH-ACC-01" in text and service_return.period.label in text


def test_lists_filter_by_status_contract_period_and_updated_since(world: World):
    client = world["contract_manager"]
    everything = client.get("/service-returns").get_json()
    assert [item["id"] for item in everything["items"]] == sorted(item["id"] for item in everything["items"])
    assert everything["total"] == 3  # Nacro's two and St Giles Trust's
    assert "kpis" not in everything["items"][0]  # figures come with the return itself

    submitted = client.get("/service-returns", status="submitted").get_json()
    assert [item["id"] for item in submitted["items"]] == [world.submitted_return.id]
    assert client.get("/service-returns", contract="BENCH-ETE-02").get_json()["total"] == 1
    m1 = world.months["m1"].strftime("%Y-%m")
    assert client.get("/service-returns", period=m1).get_json()["total"] == 2
    assert client.get("/service-returns", period=f"{world.months['m1'].year}-Q9").status_code == 422
    assert client.get("/service-returns", status="lost").status_code == 422

    long_ago = datetime(2026, 1, 1, tzinfo=UTC)
    db.session.execute(update(ServiceReturn).values(updated_at=long_ago))
    db.session.commit()
    since = (long_ago + timedelta(hours=1)).isoformat()
    assert client.get("/service-returns", updated_since=since).get_json()["total"] == 0
    world["nacro_manager"].post(f"/service-returns/{world.draft_return.id}/narrative", {"staffing": "Fully staffed."})
    changed = client.get("/service-returns", updated_since=since).get_json()
    assert [item["id"] for item in changed["items"]] == [world.draft_return.id]


def test_a_retried_start_makes_one_return(world: World):
    body = {"contract": "BENCH-ACC-01", "period": world.months["m3"].strftime("%Y-%m")}
    headers = {"Idempotency-Key": "start-return-m3"}
    first = world["nacro_manager"].post("/service-returns", body, headers=headers)
    again = world["nacro_manager"].post("/service-returns", body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.get_json()["id"] == again.get_json()["id"]
    assert db.session.scalar(select(func.count()).select_from(ServiceReturn)) == 4


def test_an_invoice_pdf_is_named_as_on_the_pages(world: World):
    draft = world["nacro_manager"].get(f"/invoices/{world.draft.id}.pdf")
    assert draft.status_code == 200 and draft.data.startswith(b"%PDF-")
    assert draft.headers["Content-Disposition"] == f'attachment; filename="draft-invoice-{world.draft.id}.pdf"'
    submitted = world["contract_manager"].get(f"/invoices/{world.submitted.id}.pdf")
    assert submitted.headers["Content-Disposition"] == f'attachment; filename="{world.submitted.number}.pdf"'
    assert "DRAFT" in PdfReader(BytesIO(draft.data)).pages[0].extract_text()
    assert_problem(world["nacro_manager"].get("/invoices/999999.pdf"), 404)


@pytest.mark.usefixtures("quarter")
def test_the_kpis_are_every_figure_of_the_return_nothing_lost_or_changed(api_as, nacro_manager):
    """The worked quarter of tests/returns (declines and withdrawals by reason, prisons, outcomes by type,
    equality tables with small numbers hidden): the JSON is the figures the page and the PDF show."""
    client = api_as(nacro_manager)
    body = client.post("/service-returns", {"contract": "BENCH-ACC-01", "period": "2026-Q3"}).get_json()
    service_return = db.session.get(ServiceReturn, body["id"])
    assert body["kpis"] == json.loads(json.dumps(returns.figures_of(service_return)))
    assert figure(body, "declined_no_capacity") == 1 and figure(body, "prison:HMP Bedford") == 3
    assert {"count": "fewer than 5", "percent": None} in [
        row["values"]["period"] for table in body["kpis"]["equality"] for row in table["rows"]
    ]
    assert body["kpis"]["outcomes_by_type"][0]["outcome_type"] == "housed_on_release"
