"""One winner, never a 500: requests fired at once at the same record (threads against the app, each
with its own connection, on PostgreSQL) end with one success, a 409 for each loser, and nothing
stored twice. The probe saw duplicate claims, 500s for drafts and invoice actions, and one outcome
credited twice."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.accounts import tokens
from portal.dates import london_today
from portal.delivery.models import Outcome
from portal.extensions import db
from portal.invoicing.models import Invoice, InvoiceKind, InvoiceStatus
from portal.referrals.models import ReferralStatus
from portal.returns.models import ReturnStatus, ServiceReturn
from tests.api.conftest import ApiClient, World
from tests.factories import OutcomeTypeFactory
from tests.helpers import Portal

RACERS = 6


@pytest.fixture(autouse=True)
def _postgresql_only(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite lets one writer at a time, so nothing races there: run on PostgreSQL (TEST_DATABASE_URL)")


def race(attempts: list[Callable[[], object]]) -> list[object]:
    """Run every attempt at the same moment, each in its own thread; their answers in order."""
    start = threading.Barrier(len(attempts))
    answers: list[object] = [None] * len(attempts)

    def run(index: int) -> None:
        start.wait()
        try:
            answers[index] = attempts[index]()
        except Exception as error:  # noqa: BLE001 - reported as the answer, so the test shows it
            answers[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def clients(app, world: World, role: str) -> list[ApiClient]:
    """One client and token per racer: nobody waits on a shared token's bookkeeping."""
    user = world.people[role]
    return [
        ApiClient(app.test_client(), tokens.create_token(None, user, name=f"Racer {n}").secret) for n in range(RACERS)
    ]


def statuses(answers: list[object]) -> Counter:
    return Counter(getattr(answer, "status_code", repr(answer)) for answer in answers)


def test_one_outcome_claimed_at_once_is_stored_once(app, world: World):
    kind = OutcomeTypeFactory(contract=world.contract, code="raced_outcome", name="Raced outcome", recorded_unpaid=True)
    body = {"outcome_type": kind.code, "achieved_on": (london_today() - timedelta(days=1)).isoformat(),
            "evidence": "Seen the tenancy."}  # fmt: skip
    path = f"/referrals/{world.open.reference}/outcomes"
    answers = race([lambda c=c: c.post(path, body) for c in clients(app, world, "nacro_caseworker")])
    counted = statuses(answers)
    assert counted[201] == 1 and counted[500] == 0, counted
    assert set(counted) <= {201, 409, 422}, counted
    stored = db.session.scalar(select(func.count()).select_from(Outcome).where(Outcome.outcome_type_id == kind.id))
    assert stored == 1


def test_drafts_generated_at_once_leave_one_draft(app, world: World):
    body = {"contract": world.contract.reference, "period": world.months["m1"].strftime("%Y-%m")}
    answers = race([lambda c=c: c.post("/invoices", body) for c in clients(app, world, "nacro_manager")])
    counted = statuses(answers)
    assert counted[500] == 0 and set(counted) <= {201, 409}, counted
    drafts = db.session.scalar(
        select(func.count())
        .select_from(Invoice)
        .where(Invoice.contract_id == world.contract.id, Invoice.status == InvoiceStatus.DRAFT)
    )
    assert drafts == 1


@pytest.mark.parametrize(
    ("invoice", "action", "body", "role"),
    [
        ("submitted", "approve", {}, "contract_manager"),
        ("submitted", "reject", {"reason": "Wrong month"}, "contract_manager"),
        ("approved", "mark-paid", {"paid_on": "TODAY", "payment_reference": "BACS 1"}, "contract_manager"),
        ("draft", "submit", {}, "nacro_manager"),
    ],
)
def test_invoice_actions_at_once_have_one_winner(app, world: World, invoice, action, body, role):
    record = getattr(world, invoice)
    body = {key: london_today().isoformat() if value == "TODAY" else value for key, value in body.items()}
    path = f"/invoices/{record.id}/{action}"
    answers = race([lambda c=c: c.post(path, body) for c in clients(app, world, role)])
    counted = statuses(answers)
    assert counted[200] == 1 and counted[409] == RACERS - 1, counted


def test_a_referral_accepted_at_once_is_accepted_once(app, world: World):
    path = f"/referrals/{world.sent.reference}/accept"
    answers = race(
        [lambda c=c: c.post(path, {"risk_information_read": True}) for c in clients(app, world, "nacro_manager")]
    )
    counted = statuses(answers)
    assert counted[200] == 1 and counted[409] == RACERS - 1, counted
    db.session.refresh(world.sent)
    assert world.sent.status == ReferralStatus.ACCEPTED


def test_a_service_return_submitted_at_once_is_submitted_once(app, world: World):
    path = f"/service-returns/{world.draft_return.id}/submit"
    answers = race([lambda c=c: c.post(path, {}) for c in clients(app, world, "nacro_manager")])
    counted = statuses(answers)
    assert counted[200] == 1 and counted[409] == RACERS - 1, counted
    assert db.session.get(ServiceReturn, world.draft_return.id).status == ReturnStatus.SUBMITTED


def test_the_same_work_credited_at_once_is_credited_once(app, world: World):
    """On the pages: managers pressing "Raise credit note" for the same work at the same moment."""
    invoice = world.approved
    racers = []
    for _ in range(RACERS):
        portal = Portal(app.test_client())
        portal.sign_in(world.people["nacro_manager"])
        page = portal.get(f"/invoices/{invoice.id}/credit-note").get_data(as_text=True)
        event_id = re.search(r'name="event_ids"[^>]*value="(\d+)"', page) or re.search(
            r'value="(\d+)"[^>]*name="event_ids"', page
        )
        racers.append((portal, event_id.group(1)))
    version = str(invoice.version)
    answers = race(
        [
            lambda p=p, e=e: p.post(
                f"/invoices/{invoice.id}/credit-note",
                {"event_ids": [e], "reason": "Recorded in error", "rebill": "no", "version": version},
            )
            for p, e in racers
        ]
    )
    assert all(getattr(answer, "status_code", 500) < 500 for answer in answers), answers
    notes = db.session.scalar(
        select(func.count())
        .select_from(Invoice)
        .where(Invoice.kind == InvoiceKind.CREDIT_NOTE, Invoice.credited_invoice_id == invoice.id)
    )
    assert notes == 1
