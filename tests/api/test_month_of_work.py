"""A month of work, through the API alone, as the CRC's and the partner's systems would do it:
referral → accept → sessions → outcome → verify → invoice → submit → approve → PDF, then the
month's service return → narrative → submit → accept → PDF. The invoice's figures (and the total
printed on its PDF) and the return's figures are checked against calculations written here, from
the sessions as recorded, independently of portal.invoicing and portal.returns."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from io import BytesIO

import pytest
import time_machine
from pypdf import PdfReader

from portal.contracts.models import Unit
from portal.extensions import db
from portal.formatting import LONDON
from tests.api.conftest import ApiClient
from tests.factories import OutcomeTypeFactory, RateCardItemFactory, RateCardPriceFactory

PENNY = Decimal(1)
TOTAL_DUE = re.compile(r"Total due\s+£([\d,]+\.\d\d)")


@dataclass(frozen=True)
class Held:
    day: int  # of October 2026
    minutes: int
    attendance: str | None
    rar: bool = False
    reason: str | None = None


OCTOBER = [
    Held(2, 60, "attended", rar=True),
    Held(6, 90, "late", rar=True),
    Held(9, 60, "did_not_attend", reason="unacceptable"),
    Held(13, 45, "attended", rar=True),
    Held(16, 60, "attended", rar=True),  # a fourth RAR day: only 3 were ordered
    Held(20, 75, "attended"),
    Held(23, 60, "session_did_not_happen", reason="logistics"),
    Held(27, 50, "attended"),
]
RAR_DAYS = 3
PRICES = {  # pence, and from when
    "ACC-TTG-REF": [(date(2026, 10, 1), 15_000)],
    "ACC-TTG-SESSION": [(date(2026, 10, 1), 4_500), (date(2026, 10, 16), 5_000)],
    "ACC-TTG-HOUR": [(date(2026, 10, 1), 3_000)],
    "ACC-TTG-RAR": [(date(2026, 10, 1), 11_000)],
    "ACC-TTG-NIGHT": [(date(2026, 10, 1), 40_000)],
    "GRANT": [(date(2026, 10, 1), 250_000)],
}
VAT_RATE = Decimal("0.20")


def at(day: int, hour: int, month: int = 10):
    return time_machine.travel(datetime(2026, month, day, hour, tzinfo=LONDON), tick=False)


def pdf_text(data: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)


def pounds_as_pence(text: str) -> int:
    return int(Decimal(text.replace(",", "")) * 100)


def expected_return_figures() -> dict[str, object]:
    """October's session figures, counted here from the sessions above."""
    attended = sum(1 for held in OCTOBER if held.attendance == "attended")
    late = sum(1 for held in OCTOBER if held.attendance == "late")
    missed = sum(1 for held in OCTOBER if held.attendance == "did_not_attend")
    minutes = sum(held.minutes for held in OCTOBER if held.attendance in ("attended", "late"))
    return {
        "received": 1,
        "accepted": 1,
        "starts": 1,
        "scheduled": len(OCTOBER),  # November's session is not October's
        "attended": attended,
        "late": late,
        "attendance_rate": {"n": attended + late, "d": attended + late + missed},
        "hours_delivered": str((Decimal(minutes) / 60).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)),
        "rar_days_delivered": sum(1 for held in OCTOBER if held.rar and held.attendance in ("attended", "late")),
        "claimed": 1,
        "verified": 1,
    }


def period_figures(service_return: dict) -> dict[str, object]:
    rows = [row for section in service_return["kpis"]["sections"] for row in section["rows"]]
    return {row["key"]: row["values"]["period"] for row in rows}


def price_on(code: str, day: date) -> int:
    return [pence for start, pence in PRICES[code] if start <= day][-1]


def expected_bill() -> dict[str, int]:
    """What October should cost, worked out from the sessions above and the rules of API.md."""
    attended = [held for held in OCTOBER if held.attendance in ("attended", "late")]
    lines: dict[tuple[str, int], Decimal] = {}

    def bill(code: str, day: date, quantity: Decimal = Decimal(1)) -> None:
        key = (code, price_on(code, day))
        lines[key] = lines.get(key, Decimal(0)) + quantity

    bill("ACC-TTG-REF", date(2026, 10, 1))
    bill("GRANT", date(2026, 10, 1))
    for held in attended:
        bill("ACC-TTG-SESSION", date(2026, 10, held.day))
    for held in [held for held in attended if held.rar][:RAR_DAYS]:
        bill("ACC-TTG-RAR", date(2026, 10, held.day))
    bill("ACC-TTG-NIGHT", date(2026, 10, 20))
    minutes = sum(held.minutes for held in attended)
    hours = (Decimal(minutes) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    bill("ACC-TTG-HOUR", date(2026, 10, 1), hours)
    amounts = {key: (quantity * key[1]).quantize(PENNY, rounding=ROUND_HALF_UP) for key, quantity in lines.items()}
    subtotal = sum(amounts.values())
    vat = (subtotal * VAT_RATE).quantize(PENNY, rounding=ROUND_HALF_UP)
    return {
        "lines": len(amounts),
        "subtotal_pence": int(subtotal),
        "vat_pence": int(vat),
        "total_pence": int(subtotal + vat),
    }


@pytest.fixture
def priced_contract(nacro_contract):
    nacro_contract.vat_rate_bp = 2000
    nacro_contract.start_date = date(2026, 10, 1)
    night = OutcomeTypeFactory(
        contract=nacro_contract, code="accommodation_secured_first_night", name="Accommodation on the first night"
    )
    units = {
        "ACC-TTG-REF": (Unit.PER_REFERRAL, {}),
        "ACC-TTG-SESSION": (Unit.PER_SESSION, {"max_units_per_referral": 10}),
        "ACC-TTG-HOUR": (Unit.PER_HOUR, {}),
        "ACC-TTG-RAR": (Unit.PER_RAR_DAY, {}),
        "ACC-TTG-NIGHT": (Unit.PER_OUTCOME, {"outcome_type": night}),
        "GRANT": (Unit.MONTHLY_FIXED, {}),
    }
    for code, (unit, extra) in units.items():
        service_code = "GRANT" if code == "GRANT" else "ACC-TTG"
        item = RateCardItemFactory(
            contract=nacro_contract, code=code, service_code=service_code, unit=unit, name=code.title(), **extra
        )
        prices = PRICES[code]
        for index, (start, pence) in enumerate(prices):
            end = prices[index + 1][0] - timedelta(days=1) if index + 1 < len(prices) else None
            RateCardPriceFactory(item=item, unit_price_pence=pence, effective_from=start, effective_to=end)
    db.session.commit()
    return nacro_contract


def test_a_month_of_work_is_invoiced_exactly_as_worked_out_by_hand(
    api_as, priced_contract, referrer, contract_manager, nacro_manager, nacro_caseworker
):
    crc_system: ApiClient = api_as(referrer, "CRC case system")
    finance: ApiClient = api_as(contract_manager, "CRC finance system")
    partner_system: ApiClient = api_as(nacro_manager, "Nacro CMS")
    caseworker_app: ApiClient = api_as(nacro_caseworker, "Nacro CMS")

    with at(1, 9):  # The CRC refers.
        sent = crc_system.post(
            "/referrals",
            {
                "contract": "BENCH-ACC-01",
                "service_code": "ACC-TTG",
                "person": {
                    "crn": "X654321",
                    "given_name": "Jo",
                    "family_name": "Bloggs",
                    "date_of_birth": "1985-07-21",
                    "gender": "female",
                    "ethnicity": "white_british",
                    "disability": "not_stated",
                },
                "location": {"type": "community", "community_office": "Bedford probation office"},
                "rosh_level": "medium",
                "risk_flags": ["domestic_abuse", "child_safeguarding"],
                "risk_summary": "Victim of domestic abuse; the ex-partner must not learn her address.",
                "complexity": "high",
                "desired_outcomes": ["Find settled accommodation"],
                "reason": "Sofa-surfing since leaving a refuge.",
                "rar_days": RAR_DAYS,
                "sentence_end_date": "2027-09-30",
            },
            headers={"Idempotency-Key": "crc-referral-X654321"},
        )
        assert sent.status_code == 201, sent.get_json()
        reference = sent.get_json()["reference"]
        assert sent.headers["Location"].endswith(f"/api/v1/referrals/{reference}")

    with at(1, 14):  # The partner reads the risk, then accepts and assigns.
        inbox = partner_system.get("/referrals", status="sent").get_json()
        [waiting] = [item for item in inbox["items"] if item["reference"] == reference]
        assert waiting["risk_flags"] == ["domestic_abuse", "child_safeguarding"]
        assert "must not learn her address" in waiting["risk_summary"]
        accepted = partner_system.post(
            f"/referrals/{reference}/accept",
            {"risk_information_read": True, "caseworker_email": nacro_caseworker.email, "version": waiting["version"]},
        )
        assert accepted.status_code == 200, accepted.get_json()
        assert accepted.get_json()["status"] == "accepted"
        assert accepted.get_json()["caseworker"]["email"] == nacro_caseworker.email

    for held in OCTOBER:  # Each session recorded the evening it happened.
        with at(held.day, 18):
            response = caseworker_app.post(
                f"/referrals/{reference}/sessions",
                {
                    "date": f"2026-10-{held.day:02d}",
                    "start_time": "10:30",
                    "duration_minutes": held.minutes,
                    "kind": "one_to_one",
                    "attendance": held.attendance,
                    "non_attendance_reason": held.reason,
                    "counts_as_rar_day": held.rar,
                },
            )
            assert response.status_code == 201, response.get_json()
            if held.day == 16:
                assert any("beyond the order" in warning for warning in response.get_json()["warnings"])
    with at(28, 18):
        scheduled = caseworker_app.post(
            f"/referrals/{reference}/sessions",
            {"date": "2026-11-10", "start_time": "10:30", "duration_minutes": 60, "kind": "video"},
        )
        assert scheduled.status_code == 201 and scheduled.get_json()["attendance"] is None

    with at(21, 12):  # An outcome is claimed…
        claim = caseworker_app.post(
            f"/referrals/{reference}/outcomes",
            {
                "outcome_type": "accommodation_secured_first_night",
                "achieved_on": "2026-10-20",
                "evidence": "Tenancy agreement seen, signed 20 October.",
            },
        )
        assert claim.status_code == 201 and claim.get_json()["status"] == "claimed"
    with at(22, 10):  # …and the CRC verifies it.
        waiting = crc_system.get("/outcomes", status="claimed").get_json()["items"]
        [outcome] = [item for item in waiting if item["referral"] == reference]
        verified = crc_system.post(f"/outcomes/{outcome['id']}/verify", {"version": outcome["version"]})
        assert verified.status_code == 200 and verified.get_json()["status"] == "verified"

    with at(3, 9, month=11):  # Early November: the partner invoices October, the CRC approves.
        sessions = partner_system.get(f"/referrals/{reference}/sessions").get_json()
        assert sessions["total"] == len(OCTOBER) + 1
        assert [item["date"] for item in sessions["items"]] == sorted(item["date"] for item in sessions["items"])
        referral = partner_system.get(f"/referrals/{reference}").get_json()
        assert referral["status"] == "in_progress" and referral["first_contact_at"].startswith("2026-10-02")

        draft = partner_system.post("/invoices", {"contract": "BENCH-ACC-01", "period": "2026-10"})
        assert draft.status_code == 201, draft.get_json()
        invoice = draft.get_json()
        expected = expected_bill()
        assert invoice["status"] == "draft" and invoice["number"] is None and invoice["period"] == "2026-10"
        assert len(invoice["lines"]) == expected["lines"]
        assert {key: invoice[key] for key in ("subtotal_pence", "vat_pence", "total_pence")} == {
            key: expected[key] for key in ("subtotal_pence", "vat_pence", "total_pence")
        }
        assert sum(line["amount_pence"] for line in invoice["lines"]) == invoice["subtotal_pence"]
        hours = next(line for line in invoice["lines"] if line["unit"] == "per_hour")
        assert hours["quantity"] == "6.33"  # 380 minutes
        sessions_lines = sorted(
            (line["unit_price_pence"], line["quantity"]) for line in invoice["lines"] if line["unit"] == "per_session"
        )
        assert sessions_lines == [(4_500, "3.00"), (5_000, "3.00")]
        rar = next(line for line in invoice["lines"] if line["unit"] == "per_rar_day")
        assert rar["quantity"] == f"{RAR_DAYS}.00"

        again = partner_system.post("/invoices", {"contract": "BENCH-ACC-01", "period": "2026-10"})
        assert again.get_json()["id"] == invoice["id"]  # re-posting replaces the draft

        submitted = partner_system.post(f"/invoices/{invoice['id']}/submit", {"version": again.get_json()["version"]})
        assert submitted.status_code == 200, submitted.get_json()
        submitted = submitted.get_json()
        assert submitted["status"] == "submitted" and submitted["number"]
        assert submitted["due_date"] == "2026-12-03"
        assert submitted["total_pence"] == expected["total_pence"]

        approved = finance.post(f"/invoices/{invoice['id']}/approve", {"version": submitted["version"]})
        assert approved.status_code == 200, approved.get_json()
        assert approved.get_json()["status"] == "approved"

        approved_list = partner_system.get("/invoices", contract="BENCH-ACC-01", status="approved").get_json()
        assert [item["number"] for item in approved_list["items"]] == [submitted["number"]]

        # The PDF the partner's finance system files: the total it prints is the total in the JSON.
        document = partner_system.get(f"/invoices/{invoice['id']}.pdf")
        assert document.status_code == 200 and document.mimetype == "application/pdf"
        assert document.headers["Content-Disposition"] == f'attachment; filename="{submitted["number"]}.pdf"'
        text = pdf_text(document.data)
        assert f"Invoice {submitted['number']}" in text
        [printed_total] = TOTAL_DUE.findall(text)
        assert pounds_as_pence(printed_total) == approved.get_json()["total_pence"] == expected["total_pence"]

    with at(4, 10, month=11):  # The partner's system reports October; the CRC's contract manager accepts.
        started = partner_system.post(
            "/service-returns",
            {"contract": "BENCH-ACC-01", "period": "2026-10"},
            headers={"Idempotency-Key": "nacro-return-2026-10"},
        )
        assert started.status_code == 201, started.get_json()
        service_return = started.get_json()
        assert service_return["status"] == "draft" and service_return["period_label"] == "October 2026"
        figures = period_figures(service_return)
        assert {key: figures[key] for key in expected_return_figures()} == expected_return_figures()

        written = partner_system.post(
            f"/service-returns/{service_return['id']}/narrative",
            {
                "achievements": "The person referred is housed.",
                "challenges": "Finding a landlord who accepts housing benefit.",
                "case_study": "A woman in her thirties, sofa-surfing after a refuge, now has a tenancy.",
                "safeguarding_concerns": 0,
                "version": service_return["version"],
            },
        )
        assert written.status_code == 200, written.get_json()
        assert written.get_json()["missing_narrative"] == {}
        handed_in = partner_system.post(
            f"/service-returns/{service_return['id']}/submit", {"version": written.get_json()["version"]}
        )
        assert handed_in.status_code == 200, handed_in.get_json()
        assert handed_in.get_json()["figures_frozen"] is True
        assert period_figures(handed_in.get_json()) == figures

        waiting = finance.get("/service-returns", status="submitted", contract="BENCH-ACC-01").get_json()
        assert [item["id"] for item in waiting["items"]] == [service_return["id"]]
        accepted_return = finance.post(
            f"/service-returns/{service_return['id']}/accept", {"version": handed_in.get_json()["version"]}
        )
        assert accepted_return.status_code == 200, accepted_return.get_json()
        assert accepted_return.get_json()["status"] == "accepted"

        document = finance.get(f"/service-returns/{service_return['id']}.pdf")
        assert document.status_code == 200 and document.mimetype == "application/pdf"
        assert 'filename="service-return-BENCH-ACC-01-2026-10.pdf"' in document.headers["Content-Disposition"]
        text = pdf_text(document.data)
        rate = expected_return_figures()["attendance_rate"]
        shown_rate = (Decimal(rate["n"]) * 100 / rate["d"]).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        assert "October 2026" in text and "BENCH-ACC-01" in text and f"{shown_rate}%" in text

    with at(2, 9, month=12):  # Nothing is billed twice: November's draft has none of October's work.
        november = partner_system.post("/invoices", {"contract": "BENCH-ACC-01", "period": "2026-11"}).get_json()
        assert [(line["item_code"], line["quantity"]) for line in november["lines"]] == [("GRANT", "1.00")]
        assert november["subtotal_pence"] == 250_000
