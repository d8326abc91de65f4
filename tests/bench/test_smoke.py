"""Smoke tests of the benchmarks' tools, at a size that takes seconds: bench/scale.py seeds a small CRC
(with its places, services, safeguarding concerns, releases, grants and remittance details) into
this run's test database and its checks pass; bench/load.py walks every role's pages on it without
a failure. The benchmarks themselves (200,000 referrals, minutes of load) never run here."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.serving import WSGIRequestHandler, make_server

from portal import integrity
from portal.accounts.models import User
from portal.contracts.models import Contract, ContractStatus, Service
from portal.dates import london_today
from portal.extensions import db
from portal.grants.models import ExpectedStarts, GrantActivity, GrantInstalment, GrantPaymentStatus, SpendProfile
from portal.invoicing.models import Invoice, InvoiceKind
from portal.places.models import County, Prison, ProbationOffice
from portal.referrals.models import Referral
from portal.remittance.models import PurchaseOrder, RemittanceDetails
from portal.returns.models import ServiceReturn
from portal.safeguarding.models import RiskSummary, SafeguardingConcern
from portal.ttg.models import ReleaseRecord

ROOT = Path(__file__).resolve().parents[2]


def bench(script: str, *args: str, timeout: int = 240) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        cwd=ROOT,
        check=False,
    )


class QuietRequestHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The test app on a free port of 127.0.0.1, for the load test to talk to."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="bench-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def test_a_small_national_crc_is_seeded_obeys_the_rules_and_serves_every_role(app, served):
    url = db.engine.url.render_as_string(hide_password=False)

    # On the suite's day (TEST_TODAY may pin it), so the history ends where the served app's clock is.
    today = london_today().isoformat()
    seeded = bench(
        "scale.py", "--database-url", url, "--partners", "5", "--referrals", "300", "--years", "2", "--today", today
    )

    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    assert "Every invariant check passed" in seeded.stdout
    for email in (
        "contracts@scale.example",
        "referrer@scale.example",
        "admin@scale.example",
        "manager@partner-01.example",
        "caseworker@partner-01.example",
    ):
        assert email in seeded.stdout
        assert db.session.scalar(select(User.id).where(User.email == email.split()[0]))
    assert 280 <= db.session.scalar(select(func.count()).select_from(Referral)) <= 330
    assert {c.status for c in db.session.scalars(select(Contract))} == set(ContractStatus)
    statuses = set(db.session.scalars(select(Referral.status)))
    assert {"draft", "in_progress", "completed", "declined", "withdrawn"} <= statuses
    kinds = set(db.session.scalars(select(Invoice.kind)))
    assert kinds == set(InvoiceKind)  # invoices and credit notes
    assert db.session.scalar(select(func.count()).select_from(ServiceReturn))
    # What came with services, safeguarding, Through the Gate and fair pay is seeded too.
    for model in (County, Prison, ProbationOffice, Service, RiskSummary, SafeguardingConcern, ReleaseRecord):
        assert db.session.scalar(select(func.count()).select_from(model)), model.__name__
    for model in (RemittanceDetails, PurchaseOrder, ExpectedStarts, SpendProfile, GrantActivity):
        assert db.session.scalar(select(func.count()).select_from(model)), model.__name__
    assert db.session.scalar(select(func.count()).where(GrantInstalment.status == GrantPaymentStatus.PAID))
    # Grant payments that did not go smoothly: one queried and waiting for the partner, one queried,
    # resubmitted and paid, and rejected ones each replaced for its period.
    instalments = db.session.scalars(select(GrantInstalment)).all()
    assert GrantPaymentStatus.QUERIED in {i.status for i in instalments}
    assert any(i.status == GrantPaymentStatus.PAID and i.queried_at and i.query_reason for i in instalments)
    rejected = {i.id for i in instalments if i.status == GrantPaymentStatus.REJECTED and i.rejection_reason}
    assert rejected and rejected == {i.replaces_id for i in instalments if i.replaces_id}
    # Referrers have team managers, to whom their late safeguarding concerns are escalated.
    referrer = db.session.scalars(select(User).where(User.email == "referrer@scale.example")).one()
    assert referrer.team_manager_id and db.session.get(User, referrer.team_manager_id).email.startswith("team-")
    team_managers = set(db.session.scalars(select(User.team_manager_id).where(User.team_manager_id.is_not(None))))
    escalated_to = db.session.scalars(
        select(SafeguardingConcern.escalated_to_id).where(SafeguardingConcern.escalated_at.is_not(None))
    )
    assert set(escalated_to) <= team_managers | {None}
    paid = db.session.scalars(select(Invoice).where(Invoice.paid_on.is_not(None))).all()
    assert paid and all(invoice.payment_reference and invoice.days_to_pay is not None for invoice in paid)
    assert all(invoice.remittance["sort_code"] for invoice in paid)
    assert integrity.problems() == {}

    loaded = bench(
        "load.py", "--host", served, "--users-per-role", "1", "--run-time", "15", "--max-requests", "150",
        "--record-every", "2", "--today", today,
    )  # fmt: skip

    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    table = loaded.stdout
    for page in (
        "`/healthz` (floor)",
        "`/referrals/?tab=[tab]`",
        "`/api/v1/referrals`",
        "`/audit/`",
        "`/safeguarding/?status=[s]`",  # every inbox user looks for concerns first
        "`/api/v1/referrals/[reference]/sessions [POST]`",  # records changing while pages are read
    ):
        assert page in table


def test_the_load_test_refuses_any_host_but_this_machine():
    refused = bench("load.py", "--host", "http://192.0.2.10:8000", "--run-time", "1")

    assert refused.returncode != 0
    assert "only loads this machine" in refused.stderr
