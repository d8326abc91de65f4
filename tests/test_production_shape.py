"""The production shape: two gunicorn instances on different loopback ports, against one PostgreSQL
and one Redis, serve the same people with no sticky sessions (sign in on one, carry on on the other,
sign out on that one), count sign-in attempts together (the rate limit is shared through Redis), and
hand long jobs to `flask jobs worker`, whose progress either instance can read."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
import requests
import time_machine
from flask import Flask

from portal import jobs
from portal.accounts import mfa
from portal.accounts.models import Role
from portal.extensions import db
from tests.factories import PASSWORD, UserFactory
from tests.helpers import redis_or_skip

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/4"
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
SECRET = "production-shape-test-secret-key-0123456789"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def redis_store() -> Iterator[str]:
    """Redis database 4, emptied before and after: each test counts its own sign-in attempts."""
    connection = redis_or_skip(REDIS_URL)
    connection.flushdb()
    yield REDIS_URL
    connection.flushdb()


def database_url(app: Flask) -> str:
    with app.app_context():
        return db.engine.url.render_as_string(hide_password=False)


def production_environment(database: str, **settings: str) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("PORTAL_", "TEST_"))}
    environment.update(
        PORTAL_ENV="production",
        SECRET_KEY=SECRET,
        DATABASE_URL=database,
        REDIS_URL=REDIS_URL,
        FORCE_HTTPS="false",
        LOGIN_RATE_LIMIT="4 per minute",
        GUNICORN_WORKERS="1",
        **settings,
    )
    return environment


@pytest.fixture(scope="module")
def servers(app: Flask) -> Iterator[tuple[str, str]]:
    """Two gunicorns as `make serve` starts them, each on a socket of its own that this test opened:
    requests wait in the socket's queue until gunicorn is ready, so nothing here polls or sleeps."""
    database = database_url(app)
    if not database.startswith("postgresql"):
        pytest.skip("two instances share one PostgreSQL database in production")
    redis_or_skip(REDIS_URL)
    sockets, servers = [], []
    for _ in range(2):
        listening = socket.socket()
        listening.bind(("127.0.0.1", 0))
        listening.listen(64)
        listening.set_inheritable(True)
        sockets.append(listening)
        servers.append(
            subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--config", "config/gunicorn.conf.py", "wsgi:app"],
                cwd=ROOT,
                env=production_environment(database, GUNICORN_BIND=f"fd://{listening.fileno()}"),
                pass_fds=[listening.fileno()],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        )
    try:
        yield tuple(f"http://127.0.0.1:{s.getsockname()[1]}" for s in sockets)  # type: ignore[misc]
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
        for listening in sockets:
            listening.close()


@pytest.fixture
def two_instances(servers: tuple[str, str], redis_store: str) -> tuple[str, str]:
    return servers


def csrf_of(response: requests.Response) -> str:
    found = CSRF.search(response.text)
    assert found, f"no CSRF token on {response.url}"
    return found.group(1)


def sign_in(browser: requests.Session, base: str, email: str, password: str) -> requests.Response:
    form = browser.get(f"{base}/sign-in", timeout=60)
    return browser.post(
        f"{base}/sign-in",
        data={"email": email, "password": password, "csrf_token": csrf_of(form)},
        allow_redirects=False,
        timeout=60,
    )


def real_time_code(secret: str) -> str:
    """The servers run on the real clock even when this test's clock is pinned (TEST_TODAY)."""
    hatch = time_machine.escape_hatch
    return pyotp.TOTP(secret).at(int(hatch.time.time() if hatch.is_travelling() else time.time()))


@pytest.mark.skipif(
    bool(os.environ.get("TEST_TODAY")),
    reason="the gunicorns run on the real clock: a user made on a pinned day has records from another time",
)
def test_a_person_signs_in_on_one_instance_and_carries_on_on_the_other(two_instances, nacro):
    first, second = two_instances
    manager = UserFactory(email="mo@nacro.example", name="Mo Manager", role=Role.PROVIDER_MANAGER, organisation=nacro)
    # Production asks partner managers for a second step: the half-done sign-in is shared too.
    mfa.enrol_with_secret(manager, TOTP_SECRET)
    db.session.commit()
    browser = requests.Session()

    password_step = sign_in(browser, first, manager.email, PASSWORD)
    assert password_step.status_code == 302 and password_step.headers["Location"].endswith("/sign-in/code")
    code_page = browser.get(f"{second}/sign-in/code", timeout=60)
    second_step = browser.post(
        f"{second}/sign-in/code",
        data={"code": real_time_code(TOTP_SECRET), "csrf_token": csrf_of(code_page)},
        allow_redirects=False,
        timeout=60,
    )
    assert second_step.status_code == 302
    home = browser.get(f"{first}/", allow_redirects=False, timeout=60)
    assert home.status_code == 200 and "Mo Manager" in home.text

    # A form read on the first instance is accepted by the second: one secret, no sticky sessions.
    form = {"csrf_token": csrf_of(home)}
    signed_out = browser.post(f"{second}/sign-out", data=form, allow_redirects=False, timeout=60)
    assert signed_out.status_code == 302
    assert browser.get(f"{first}/", allow_redirects=False, timeout=60).status_code == 302  # to sign in again


def test_sign_in_attempts_are_counted_across_both_instances(two_instances):
    first, second = two_instances
    browser = requests.Session()
    # LOGIN_RATE_LIMIT is 4 a minute: two attempts on each instance use it up, so the fifth is refused.
    for base in (first, second, first, second):
        assert sign_in(browser, base, "nobody@nowhere.example", "wrong-password-123").status_code == 200
    assert sign_in(browser, first, "nobody@nowhere.example", "wrong-password-123").status_code == 429


def test_a_job_queued_by_the_portal_runs_in_flask_jobs_worker(app, redis_store):
    previous = app.config["JOBS_BACKEND"], app.config.get("REDIS_URL")
    app.config.update(JOBS_BACKEND="rq", REDIS_URL=redis_store)
    try:
        with app.app_context():
            state = jobs.start_job("count", "tests.test_jobs:count_to", 3, owner_id=1)
            assert jobs.job_status(state.id).status == "queued"

            worker = subprocess.run(
                [str(Path(sys.executable).with_name("flask")), "jobs", "worker", "--burst"],
                cwd=ROOT,
                env=production_environment(database_url(app)),
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            final = jobs.job_status(state.id)
    finally:
        app.config["JOBS_BACKEND"], app.config["REDIS_URL"] = previous
    assert worker.returncode == 0, worker.stderr
    assert (final.status, final.done, final.total, final.result) == ("finished", 3, 3, {"counted": 3})
