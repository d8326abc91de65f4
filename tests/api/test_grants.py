"""The grants API: a contract manager schedules instalments, the partner raises them as grant
payments, the CRC decides and pays them, all by the service functions the pages use; grant-funded
activity and a contract's volumes; another partner's records are not found."""

from __future__ import annotations

import pytest

from portal.contracts.models import ContractTier
from tests.factories import ContractFactory
from tests.helpers import STORY_DAY

pytestmark = pytest.mark.on_day(STORY_DAY)  # 7 December 2026


@pytest.fixture
def grant(crc, nacro):
    return ContractFactory(
        reference="BENCH-WOM-04", crc=crc, partner=nacro, tier=ContractTier.GRANT, payment_terms_days=14
    )


QUARTER = {
    "period_start": "2026-10-01",
    "period_end": "2026-12-31",
    "due_on": "2026-10-01",
    "amount_pence": 2_000_000,
    "timing": "advance",
}


def test_a_grant_payment_goes_from_schedule_to_paid_over_the_api(
    grant, api_as, contract_manager, nacro_manager, st_giles_manager
):
    crc, partner = api_as(contract_manager), api_as(nacro_manager)
    wrong = crc.post(f"/contracts/{grant.reference}/grant-schedule", QUARTER | {"due_on": "2026-10-15"})
    assert wrong.status_code == 422 and "due_on" in wrong.get_json()["errors"]
    made = crc.post(f"/contracts/{grant.reference}/grant-schedule", QUARTER)
    assert made.status_code == 201 and made.get_json()["status"] == "scheduled" and made.get_json()["released"]
    payment_id = made.get_json()["id"]
    assert partner.post(f"/contracts/{grant.reference}/grant-schedule", QUARTER).status_code == 403
    raised = partner.post(f"/grant-payments/{payment_id}/submit")
    assert raised.status_code == 200 and raised.get_json()["number"] and raised.get_json()["status"] == "submitted"
    assert partner.post(f"/grant-payments/{payment_id}/submit").status_code == 409
    assert crc.post(f"/grant-payments/{payment_id}/approve").get_json()["status"] == "approved"
    missing = crc.post(f"/grant-payments/{payment_id}/mark-paid", {"paid_on": "2026-12-07", "payment_reference": ""})
    assert missing.status_code == 422 and "payment_reference" in missing.get_json()["errors"]
    paid = crc.post(f"/grant-payments/{payment_id}/mark-paid", {"paid_on": "2026-12-07", "payment_reference": "BACS 1"})
    assert paid.get_json()["status"] == "paid"
    schedule = partner.get(f"/contracts/{grant.reference}/grant-schedule").get_json()
    assert schedule["paid_pence"] == 2_000_000 and len(schedule["instalments"]) == 1
    assert partner.get("/grant-payments", status="paid").get_json()["total"] == 1
    pdf = partner.get(f"/grant-payments/{payment_id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    other = api_as(st_giles_manager)
    assert other.get(f"/grant-payments/{payment_id}").status_code == 404
    assert other.get(f"/contracts/{grant.reference}/grant-schedule").status_code == 404
    assert other.get("/grant-payments").get_json()["total"] == 0


def test_activity_and_volumes_over_the_api(grant, api_as, nacro_caseworker, ttg_service):
    worker = api_as(nacro_caseworker)
    done = worker.post(
        f"/contracts/{grant.reference}/grant-activity", {"date": "2026-11-03", "kind": "drop_in", "attendees": 9}
    )
    assert done.status_code == 201 and done.get_json()["attendees"] == 9
    refused = worker.post(
        f"/contracts/{grant.reference}/grant-activity", {"date": "2026-11-03", "kind": "drop_in", "attendees": 0}
    )
    assert refused.status_code == 422 and "attendees" in refused.get_json()["errors"]
    assert len(worker.get(f"/contracts/{grant.reference}/grant-activity").get_json()["items"]) == 1
    # A subcontract has no grant schedule; it has volumes.
    assert worker.get(f"/contracts/{ttg_service.reference}/grant-schedule").status_code == 404
    volumes = worker.get(f"/contracts/{ttg_service.reference}/volumes").get_json()
    assert volumes["to_date"]["contract"] == ttg_service.reference and volumes["spend_profile"] == []


def test_a_rejected_grant_payment_is_replaced_over_the_api(grant, api_as, contract_manager, nacro_manager):
    crc, partner = api_as(contract_manager), api_as(nacro_manager)
    payment_id = crc.post(f"/contracts/{grant.reference}/grant-schedule", QUARTER).get_json()["id"]
    partner.post(f"/grant-payments/{payment_id}/submit")
    assert crc.post(f"/grant-payments/{payment_id}/replace").status_code == 409  # not rejected
    crc.post(f"/grant-payments/{payment_id}/reject", {"reason": "Wrong quarter's figures"})
    changed = partner.post(f"/grant-payments/{payment_id}/replace", {"amount_pence": 2_500_000})
    assert changed.status_code == 422 and "amount_pence" in changed.get_json()["errors"]
    made = crc.post(f"/grant-payments/{payment_id}/replace", {"amount_pence": 1_850_000})
    assert made.status_code == 201
    shown = made.get_json()
    assert (shown["status"], shown["replaces_id"], shown["amount_pence"]) == ("scheduled", payment_id, 1_850_000)
    assert crc.post(f"/grant-payments/{payment_id}/replace").status_code == 409  # already replaced
    schedule = partner.get(f"/contracts/{grant.reference}/grant-schedule").get_json()
    assert [i["status"] for i in schedule["instalments"]] == ["rejected", "scheduled"]
    assert schedule["scheduled_pence"] == 1_850_000


def test_expected_starts_are_set_over_the_api_by_put(ttg_service, api_as, contract_manager, nacro_manager):
    crc = api_as(contract_manager)
    url = f"/contracts/{ttg_service.reference}/volumes/expected-starts"

    def put(body, client=crc):
        return client.request("PUT", url, json=body)

    made = crc.request(
        "PUT", url, json={"month": "2027-04", "service_code": "ACC-TTG", "expected_starts": 12, "version": 0}
    )
    assert made.status_code == 200
    assert made.get_json() == {"month": "2027-04", "service_code": "ACC-TTG", "expected_starts": 12, "version": 1}
    again = crc.request(
        "PUT", url, json={"month": "2027-04", "service_code": "ACC-TTG", "expected_starts": 4, "version": 0}
    )
    assert again.status_code == 409
    bad = put({"month": "2031-01", "service_code": "ACC-TTG", "expected_starts": 4})
    assert bad.status_code == 422 and "month" in bad.get_json()["errors"]
    assert put({"month": "2027-04", "expected_starts": 4}).status_code == 200  # whole contract
    assert put({"month": "2027-04", "expected_starts": 1}, api_as(nacro_manager)).status_code == 403
    rows = crc.get(f"/contracts/{ttg_service.reference}/volumes").get_json()["expected_starts"]
    assert [(r["service_code"], r["expected_starts"]) for r in rows] == [("", 4), ("ACC-TTG", 12)]
