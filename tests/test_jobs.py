"""Background jobs report progress and how they ended, on every runner: sync, thread and RQ on Redis."""

import time

import pytest

from portal import jobs
from portal.errors import DomainError


def count_to(total: int) -> dict:
    for done in range(1, total + 1):
        jobs.report_progress(done, total, f"{done} of {total}")
    return {"counted": total}


def fail_politely() -> None:
    raise DomainError("The file changed since it was checked")


def fail_badly() -> None:
    raise RuntimeError("secret internals")


@pytest.fixture
def backend(app):
    previous = app.config["JOBS_BACKEND"]
    yield lambda name: app.config.__setitem__("JOBS_BACKEND", name)
    app.config["JOBS_BACKEND"] = previous


def test_a_sync_job_finishes_with_its_result_and_progress(app, backend):
    backend("sync")
    with app.app_context():
        state = jobs.start_job("count", "tests.test_jobs:count_to", 4, owner_id=7)
        final = jobs.job_status(state.id)
    assert (final.status, final.done, final.total, final.percent) == ("finished", 4, 4, 100)
    assert final.result == {"counted": 4}
    assert "owner_id" not in final.as_json()


def test_a_failed_job_says_why_without_leaking_internals(app, backend):
    backend("sync")
    with app.app_context():
        polite = jobs.job_status(jobs.start_job("x", "tests.test_jobs:fail_politely").id)
        bad = jobs.job_status(jobs.start_job("x", "tests.test_jobs:fail_badly").id)
    assert (polite.status, polite.error) == ("failed", "The file changed since it was checked")
    assert bad.status == "failed" and "secret" not in bad.error


def test_a_thread_job_runs_in_the_background(app, backend):
    backend("thread")
    with app.app_context():
        state = jobs.start_job("count", "tests.test_jobs:count_to", 3)
        for _ in range(100):
            if jobs.job_status(state.id).status == "finished":
                break
            time.sleep(0.05)
        assert jobs.job_status(state.id).result == {"counted": 3}


def test_an_rq_job_runs_on_a_worker_through_redis(app, backend):
    redis = pytest.importorskip("redis")
    from rq import SimpleWorker

    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    previous_url = app.config.get("REDIS_URL")
    app.config["REDIS_URL"] = url
    backend("rq")
    try:
        with app.app_context():
            state = jobs.start_job("count", "tests.test_jobs:count_to", 5, owner_id=1)
            assert jobs.job_status(state.id).status == "queued"
            SimpleWorker(["portal"], connection=redis.Redis.from_url(url)).work(burst=True)
            final = jobs.job_status(state.id)
    finally:
        app.config["REDIS_URL"] = previous_url
    assert (final.status, final.done, final.result) == ("finished", 5, {"counted": 5})
