"""The bulk ZIP of a quarter's accepted returns, as production runs it: the page queues the job on
Redis and a real RQ worker (burst mode) makes the ZIP, while the contract manager's status page
shows how far it has got; a failure is told in words the contract manager can act on."""

from __future__ import annotations

import os
import signal
import zipfile
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from flask import Flask

from portal.dates import Period, PeriodKind, london_today
from portal.returns import bulk
from tests.factories import ContractFactory, CrcFactory, ServiceReturnFactory
from tests.helpers import redis_or_skip, text_of

# Redis database 10, 11, 12… by pytest worker (never 4 or 15, which other tests empty), and a queue
# named for this process: runs side by side, in this worktree or another, never take each other's jobs.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
REDIS_URL = f"redis://127.0.0.1:6379/{10 + (int(WORKER.removeprefix('gw')) + 1 if WORKER else 0)}"
QUEUE = f"portal-returns-zip-test-{os.getpid()}"


@pytest.fixture
def rq_on_redis(app: Flask, observer_app: Flask, tmp_path: Path, monkeypatch) -> Iterator[object]:
    """Both apps (the pages' and the worker's) queue on, and read progress from, one real Redis."""
    connection = redis_or_skip(REDIS_URL)
    for flask_app in (app, observer_app):
        for key, value in (
            ("JOBS_BACKEND", "rq"),
            ("REDIS_URL", REDIS_URL),
            ("JOBS_QUEUE", QUEUE),
            ("STORAGE_DIR", tmp_path),
        ):
            monkeypatch.setitem(flask_app.config, key, value)
    yield connection
    connection.delete(f"rq:queue:{QUEUE}")


# The signals an RQ worker takes over: SIGINT and SIGTERM for its warm and cold shutdowns, SIGALRM
# for a job's time limit.
WORKER_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)


def run_worker(connection: object) -> None:
    """A real RQ worker on the queue, in burst mode: it takes what is queued, runs it and stops.
    SimpleWorker runs the job in this process, so the test can watch it as it goes.

    The worker installs its own signal handlers and leaves them behind when it stops; left in place,
    pytest's own Ctrl+C (and xdist's SIGTERM) would reach a stopped worker, which raises StopRequested
    at the end of the run. So the handlers this process had are put back, whatever the job did."""
    from rq import SimpleWorker

    before = {number: signal.getsignal(number) for number in WORKER_SIGNALS}
    try:
        SimpleWorker([QUEUE], connection=connection).work(burst=True)
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)


def last_quarter() -> Period:
    today = london_today()
    this_quarter = Period(PeriodKind.QUARTER, today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1))
    return this_quarter.previous()


@pytest.fixture
def quarter_of_returns(crc, nacro, st_giles):
    """Two partners' accepted returns for last quarter, and what must stay out of the ZIP: a return
    still waiting for a decision, one from the quarter before, and another CRC's accepted return."""
    period = last_quarter()

    def accepted(contract, of: Period = period, **traits):
        return ServiceReturnFactory(
            contract=contract,
            period_kind=PeriodKind.QUARTER,
            period_start=of.start,
            period_end=of.end,
            **(traits or {"accepted": True}),
        )

    nacro_contract = ContractFactory(crc=crc, partner=nacro, reference="ZIP-NACRO-01")
    giles_contract = ContractFactory(crc=crc, partner=st_giles, reference="ZIP-GILES-01")
    giles_second = ContractFactory(crc=crc, partner=st_giles, reference="ZIP-GILES-02")
    wanted = [accepted(nacro_contract), accepted(giles_contract), accepted(giles_second)]
    accepted(ContractFactory(crc=crc, partner=nacro, reference="ZIP-NACRO-02"), submitted=True)
    accepted(nacro_contract, of=period.previous())
    other_crc = CrcFactory(name="Another CRC")
    accepted(ContractFactory(crc=other_crc, reference="ZIP-ELSEWHERE-01"))
    return period, sorted(r.filename for r in wanted)


def queue_the_zip(portal, period: Period) -> str:
    portal.get("/service-returns/bulk")
    response = portal.post("/service-returns/bulk", {"period": period.code})
    assert response.status_code == 302
    return response.headers["Location"]


def test_the_worker_makes_the_quarters_zip_and_the_status_page_follows_it(
    portal, contract_manager, quarter_of_returns, rq_on_redis, monkeypatch, tmp_path
):
    period, expected = quarter_of_returns
    portal.sign_in(contract_manager)
    status_url = queue_the_zip(portal, period)
    waiting = portal.get(status_url + "/status.json").json
    assert (waiting["status"], waiting["import_status"]) == ("queued", "importing")

    # Each time the worker starts a PDF, look at what the contract manager's page would show.
    seen = []
    render = bulk.service_return_pdf

    def watched(service_return, **options):
        progress = portal.get(status_url + "/status.json").json
        seen.append((progress["status"], progress["done"], progress["total"], progress["message"]))
        return render(service_return, **options)

    monkeypatch.setattr(bulk, "service_return_pdf", watched)
    run_worker(rq_on_redis)

    assert seen == [
        ("running", 0, 3, "Preparing 3 returns"),
        ("running", 1, 3, "1 of 3 returns ready"),
        ("running", 2, 3, "2 of 3 returns ready"),
    ]
    page = text_of(portal.get(status_url))
    assert "Your ZIP file is ready" in page and "It holds 3 accepted returns." in page
    assert portal.get(status_url + "/status.json").json["percent"] == 100
    archive = zipfile.ZipFile(BytesIO(portal.get(status_url + "/download").data))
    # Every accepted return of the quarter, from both partners, and nothing else (no draft decision,
    # no other quarter, no other CRC's).
    assert sorted(archive.namelist()) == expected
    assert all(archive.read(name).startswith(b"%PDF") for name in expected)


def test_a_zip_that_cannot_be_made_tells_the_contract_manager_which_return_and_leaves_no_file(
    portal, contract_manager, quarter_of_returns, rq_on_redis, monkeypatch, tmp_path
):
    period, _ = quarter_of_returns
    portal.sign_in(contract_manager)
    status_url = queue_the_zip(portal, period)
    render = bulk.service_return_pdf

    def breaks_on_the_second(service_return, **options):
        if service_return.contract.reference == "ZIP-GILES-01":
            raise RuntimeError("secret internals: font cache corrupt")
        return render(service_return, **options)

    monkeypatch.setattr(bulk, "service_return_pdf", breaks_on_the_second)
    run_worker(rq_on_redis)

    page = text_of(portal.get(status_url))
    assert "The ZIP file could not be made" in page
    assert (
        f"The PDF of ZIP-GILES-01's return for {period.label} could not be made, so no ZIP file was made. Try again."
        in page
    )
    assert "secret" not in page
    assert portal.get(status_url + "/status.json").json["import_status"] == "failed"
    assert portal.get(status_url + "/download").status_code == 404
    assert list((tmp_path / "exports").glob("*.zip")) == []  # the half-made ZIP is gone


def test_a_partner_manager_gets_no_zip_of_the_quarter(app, nacro_manager, quarter_of_returns, rq_on_redis, tmp_path):
    """The bulk download is the CRC's: a partner's manager cannot reach the page, and a job queued in
    their name anyway (say, by a stale form) is refused by the worker without writing a file."""
    from portal import jobs
    from tests.helpers import Portal

    period, _ = quarter_of_returns
    partner = Portal(app.test_client())
    partner.sign_in(nacro_manager)
    assert partner.get("/service-returns/bulk").status_code == 403

    state = jobs.start_job("returns_zip", "portal.returns.bulk:run", nacro_manager.id, period.code)
    run_worker(rq_on_redis)
    final = jobs.job_status(state.id)
    assert (final.status, final.error) == ("failed", "Only the CRC's contract managers can download returns in bulk")
    assert list((tmp_path / "exports").glob("*.zip")) == []


def test_the_worker_leaves_the_test_runs_signal_handlers_as_it_found_them(rq_on_redis):
    before = {number: signal.getsignal(number) for number in WORKER_SIGNALS}
    run_worker(rq_on_redis)
    assert {number: signal.getsignal(number) for number in WORKER_SIGNALS} == before
