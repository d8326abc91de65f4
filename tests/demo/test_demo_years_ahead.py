"""The demo loaded years from now has the same shape: `flask demo-data` run under a clock set ahead
by libfaketime (the whole process, SQLite included, believes the date), then every demo login signs
in on that day, finds invoices and returns in its lists and downloads a PDF.

time-machine moves only Python's clock; libfaketime moves the operating system's as seen by the
process, so this also catches a date taken anywhere else (SQLite's CURRENT_TIMESTAMP, a library).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from portal.dates import london_today
from portal.formatting import LONDON
from portal.plans.models import PlanStatus
from portal.working_days import is_working_day

ROOT = Path(__file__).resolve().parents[2]
FLASK = Path(sys.executable).with_name("flask")

pytestmark = pytest.mark.skipif(
    shutil.which("faketime") is None, reason="libfaketime is not installed (.ci/run installs Debian's faketime)"
)


def _under_faketime(moment: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        # "@" starts the faked clock at `moment` and lets it run (a stopped clock hangs anything that waits).
        ["faketime", "-f", f"@{moment}", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def walk_the_demo() -> dict[str, object]:
    """Run inside the faked process: each demo login signs in and reads its lists and a PDF."""
    import pyotp

    from portal import create_app
    from portal.demo.loader import demo_logins
    from portal.demo.supply_chain import DEMO_MFA_SECRET, DEMO_PASSWORD
    from tests.helpers import Portal

    app = create_app()
    found: dict[str, object] = {"today": None, "logins": {}}
    with app.app_context():
        from sqlalchemy import select

        from portal.dates import london_today as today
        from portal.extensions import db
        from portal.plans.models import ActionPlan

        found["today"] = today().isoformat()
        found["plan_statuses"] = sorted(set(db.session.scalars(select(ActionPlan.status))))
        logins = demo_logins()
    for login in logins:
        portal = Portal(app.test_client())
        response = portal.sign_in(login.email, password=DEMO_PASSWORD)
        if response.headers.get("Location", "").endswith("/sign-in/code"):
            # The demo's managers and CRC staff give a second step, with the demo's documented key.
            portal.post("/sign-in/code", {"code": pyotp.TOTP(DEMO_MFA_SECRET).now()})
        home = portal.get("/")
        seen: dict[str, object] = {"home": home.status_code, "role": login.role.value}
        if login.role.value in ("provider_manager", "contract_manager"):
            invoices = portal.get("/invoices/?status=").get_data(as_text=True)
            # A grant paid by its schedule is paid by grant payments, not rate-card invoices.
            grant_payments = portal.get("/grants/payments").get_data(as_text=True)
            seen["grant_payments"] = len(set(re.findall(r'href="/grants/payments/(\d+)"', grant_payments)))
            returns = portal.get("/service-returns/?status=").get_data(as_text=True)
            seen["invoices"] = len(set(re.findall(r'href="/invoices/(\d+)"', invoices)))
            seen["returns"] = len(set(re.findall(r'href="/service-returns/(\d+)"', returns)))
            if match := re.search(r'href="/invoices/(\d+)"', invoices):
                pdf = portal.get(f"/invoices/{match.group(1)}.pdf")
                seen["invoice_pdf"] = pdf.status_code == 200 and pdf.get_data()[:4] == b"%PDF"
            if match := re.search(r'href="/grants/payments/(\d+)"', grant_payments):
                pdf = portal.get(f"/grants/payments/{match.group(1)}.pdf")
                seen["grant_pdf"] = pdf.status_code == 200 and pdf.get_data()[:4] == b"%PDF"
            if match := re.search(r'href="/service-returns/(\d+)"', returns):
                pdf = portal.get(f"/service-returns/{match.group(1)}.pdf")
                seen["return_pdf"] = pdf.status_code == 200 and pdf.get_data()[:4] == b"%PDF"
        found["logins"][login.email] = seen  # type: ignore[index]
    return found


@pytest.mark.timeout(900)
@pytest.mark.parametrize("years", [5])
def test_the_demo_loaded_years_ahead_has_the_same_shape(tmp_path, years):
    day = london_today() + timedelta(days=365 * years)
    while not is_working_day(day):
        day += timedelta(days=1)
    # Late on a working afternoon: the demo's daily work on action plans is done at 16:45 and its
    # last touches half an hour before it is loaded, which once put the two the wrong way round
    # (loaded between 16:45 and 17:15, no plan was left sent back).
    moment = datetime.combine(day, time(16, 55), tzinfo=LONDON).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("TEST_", "PYTEST"))},
        "PORTAL_ENV": "development",
        "TZ": "UTC",  # the moment above is given in UTC
        "INSTANCE_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "JOBS_BACKEND": "sync",
        "LOGIN_RATE_LIMIT": "1000 per minute",
        # Timed waits (a thread pool's shutdown) use the monotonic clock: faked, they never end.
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "FLASK_APP": "wsgi:app",
    }
    for command in (["db", "upgrade"], ["demo-data"]):
        done = _under_faketime(moment, [str(FLASK), *command], env)
        assert done.returncode == 0, done.stdout + done.stderr
    walked = _under_faketime(
        moment,
        [sys.executable, "-c", f"import json, {__name__} as t; print(json.dumps(t.walk_the_demo()))"],
        env,
    )
    assert walked.returncode == 0, walked.stderr
    found = json.loads(walked.stdout.strip().splitlines()[-1])
    assert found["today"] == day.isoformat()
    assert found["plan_statuses"] == sorted(status.value for status in PlanStatus)
    logins = found["logins"]
    assert len(logins) >= 10 and all(seen["home"] == 200 for seen in logins.values()), logins
    for email, seen in logins.items():
        if seen["role"] in ("provider_manager", "contract_manager"):
            assert (seen["invoices"] or seen["grant_payments"]) and seen["returns"], (email, seen)
            assert seen["return_pdf"] and (seen.get("invoice_pdf") or seen.get("grant_pdf")), (email, seen)
