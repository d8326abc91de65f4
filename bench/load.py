"""Load test: people in every role at work on a running portal, timed page by page (Locust, headless).

    .venv/bin/python bench/load.py --host http://127.0.0.1:8000 [--users-per-role 2]
                                   [--run-time 120] [--max-requests 6000] [--password P]
                                   [--record-every SECONDS [--today YYYY-MM-DD]] [--markdown bench/results.md]

Signs in as the accounts bench/scale.py makes (a contract manager, a CRC referrer, an
administrator, the largest partner's manager and caseworker, and an API client with a token it
creates on its account page) and walks the pages each uses most: home, the inbox's tabs, filters
and search, a referral, sessions, invoices, the approval queue, an invoice and its lines, returns,
a return, dashboards with filters and the prompt-payment part, the audit log; the service
directory, a contract's services and volumes, places, safeguarding concerns and a referral's
concerns, risk summary and release, grant payments and a grant, remittance details; the API's
lists (referrals, invoices, returns, grant payments, a contract's services, a referral's
concerns). Every user also asks for `/healthz` now and then: served by the same gunicorn under the
same load, it is the floor no page can beat. Prints p50, p95 and p99 per page, in milliseconds,
and each page's p95 against the floor's. With --record-every, one more user books a session
through the API every SECONDS (Booker), so that pages are timed while records change.

It stops by itself after --run-time seconds or --max-requests requests, whichever comes first, and
talks only to 127.0.0.1 (or localhost, ::1): it refuses any other host. The server should allow the
sign-ins and API calls of a load test (LOGIN_RATE_LIMIT and API_RATE_LIMIT, see bench/README.md).
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import re
import sys
import time
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

# Locust patches the standard library for gevent on import: this script is its own process.
import gevent
from locust import HttpUser, between, events, task
from locust.env import Environment

DEFAULT_PASSWORD = "demo-password-2026"
LONDON = ZoneInfo("Europe/London")
FLOOR = "/healthz"
LARGEST_PARTNER = "partner-01.example"

CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
REFERRAL_LINK = re.compile(r'href="/referrals/([A-Z]{2}\d{4}[A-Z]{2})"')
INVOICE_LINK = re.compile(r'href="/invoices/(\d+)"')
LINE_LINK = re.compile(r'href="/invoices/(\d+)/lines/(\d+)"')
RETURN_LINK = re.compile(r'href="/service-returns/(\d+)"')
CONTRACT_LINK = re.compile(r'href="/contracts/([A-Z0-9-]+)"')
PARTNER_OPTION = re.compile(r'<option value="(\d+)"')
CONCERN_LINK = re.compile(r'href="/referrals/([A-Z]{2}\d{4}[A-Z]{2})/safeguarding"')
PAYMENT_LINK = re.compile(r'href="/grants/payments/(\d+)"')
GRANT_LINK = re.compile(r'href="/grants/([A-Z0-9-]+)"')
REMITTANCE_LINK = re.compile(r'href="/remittance/(\d+)"')
TOKEN = re.compile(r'id="api-token"><code>([^<]+)</code>')


def loopback_only(host: str) -> str:
    """The load test's target must be this machine: a load test never leaves it."""
    name = urlsplit(host).hostname or ""
    if name == "localhost":
        return host.rstrip("/")
    try:
        if ipaddress.ip_address(name).is_loopback:
            return host.rstrip("/")
    except ValueError:
        pass
    raise SystemExit(f"bench/load.py only loads this machine (127.0.0.1, localhost, ::1), not {name!r}")


class Person(HttpUser):
    """Someone signed in to the portal; subclasses say who, and what they do most."""

    abstract = True
    email = ""
    password = DEFAULT_PASSWORD
    wait_time = between(0.2, 1.0)

    def on_start(self) -> None:
        self.referrals: list[str] = []
        self.invoices: list[str] = []
        self.lines: list[tuple[str, str]] = []
        self.returns: list[str] = []
        self.contracts: list[str] = []
        self.partners: list[str] = []
        self.concerns: list[str] = []  # referrals with a safeguarding concern
        self.released: list[str] = []  # custody referrals (their release page)
        self.payments: list[str] = []
        self.grants: list[str] = []
        self.remittances: list[str] = []
        self.sign_in()
        self.floor()  # at least once each, however loaded the machine
        self.discover()

    # --- helpers -----------------------------------------------------------------------------------------

    skipped: tuple[str, ...] = ()
    headers: dict[str, str] = {}

    def page(self, url: str, name: str | None = None) -> str:
        """GET a page as a signed-in person; anything but 200 (a redirect to sign in, an error) fails."""
        if (name or url).startswith(self.skipped):
            return ""
        with self.client.get(url, name=name or url, allow_redirects=False, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} for {url}")
                return ""
            return response.text

    def sign_in(self) -> None:
        form = self.client.get("/sign-in", name="/sign-in")
        token = CSRF.search(form.text)
        with self.client.post(
            "/sign-in",
            data={"email": self.email, "password": self.password, "csrf_token": token.group(1) if token else ""},
            name="/sign-in [POST]",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"could not sign in as {self.email}: {response.status_code}")
                raise SystemExit(f"Could not sign in as {self.email}: is the database seeded by bench/scale.py?")

    def discover(self) -> None:
        """Find records to open by following the links people follow: no database access."""

    def token_headers(self) -> dict[str, str]:
        """An API token made on the account page, as the Authorization header that carries it."""
        form = self.page("/account/api-tokens/new", "/account/api-tokens/new")
        token = CSRF.search(form)
        created = self.client.post(
            "/account/api-tokens/new",
            data={"name": f"load test {time.time_ns()}", "csrf_token": token.group(1) if token else ""},
            name="/account/api-tokens/new [POST]",
        )
        secret = TOKEN.search(created.text)
        if not secret:
            raise SystemExit("Could not create an API token for the load test")
        return {"Authorization": f"Bearer {secret.group(1)}"}

    def api(self, url: str, name: str) -> dict | None:
        if name.startswith(self.skipped):
            return None
        with self.client.get(url, name=name, headers=self.headers, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code} for {url}")
                return None
            return response.json()

    def first(self, pattern: re.Pattern[str], text: str, limit: int = 20) -> list:
        return list(dict.fromkeys(pattern.findall(text)))[:limit]

    def pick(self, options: list):  # type: ignore[no-untyped-def]
        return options[int(time.monotonic() * 1000) % len(options)] if options else None

    @task(2)
    def floor(self) -> None:
        self.client.get(FLOOR, name=FLOOR)


class Reader(Person):
    """A person at a browser: their home page first."""

    abstract = True

    @task(2)
    def home(self) -> None:
        self.page("/", "/")


class Inbox(Reader):
    abstract = True
    tabs: tuple[str, ...] = ()

    def discover(self) -> None:
        self.referrals = self.first(REFERRAL_LINK, self.page("/referrals/?tab=all", "/referrals/?tab=[tab]"))
        self.concerns = self.first(CONCERN_LINK, self.page("/safeguarding/?status=all", "/safeguarding/?status=[s]"))

    @task(1)
    def safeguarding(self) -> None:
        self.page("/safeguarding/", "/safeguarding/")
        reference = self.pick(self.concerns)
        if reference:
            self.page(f"/referrals/{reference}/safeguarding", "/referrals/[reference]/safeguarding")

    @task(1)
    def release(self) -> None:
        """A referral's risk summary; and a custody referral's Through the Gate page (its release, once
        recorded), found as people find it: on the referral's page."""
        reference = self.pick(self.concerns or self.referrals)
        if reference:
            self.page(f"/referrals/{reference}/risk", "/referrals/[reference]/risk")
        if not self.released:
            reference = self.pick(self.referrals)
            if reference and f"/referrals/{reference}/release" in self.page(
                f"/referrals/{reference}", "/referrals/[reference]"
            ):
                self.released.append(reference)
        released = self.pick(self.released)
        if released:
            self.page(f"/referrals/{released}/release", "/referrals/[reference]/release")

    @task(4)
    def inbox_tab(self) -> None:
        tab = self.pick(list(self.tabs))
        self.page(f"/referrals/?tab={tab}", "/referrals/?tab=[tab]")

    @task(2)
    def inbox_page_two(self) -> None:
        self.page("/referrals/?tab=all&page=2", "/referrals/?tab=all&page=[n]")

    @task(2)
    def inbox_search(self) -> None:
        reference = self.pick(self.referrals)
        if reference:
            self.page(f"/referrals/?tab=all&q={reference}", "/referrals/?q=[reference]")
        self.page("/referrals/?tab=all&q=Person1", "/referrals/?q=[name]")

    @task(1)
    def inbox_overdue(self) -> None:
        self.page("/referrals/?tab=all&overdue=yes", "/referrals/?overdue=yes")

    @task(4)
    def referral(self) -> None:
        reference = self.pick(self.referrals)
        if reference:
            self.page(f"/referrals/{reference}", "/referrals/[reference]")


class PartnerManager(Inbox):
    email = f"manager@{LARGEST_PARTNER}"
    tabs = ("new", "open", "unassigned", "completed", "closed", "all")

    def discover(self) -> None:
        super().discover()
        self.payments = self.first(PAYMENT_LINK, self.page("/grants/payments", "/grants/payments"))
        # A partner's remittance page is its own: the list sends its people there.
        sent = self.client.get("/remittance/", name="/remittance/ (to their own)", allow_redirects=False)
        self.remittances = REMITTANCE_LINK.findall(f'href="{urlsplit(sent.headers.get("Location", "")).path}"')
        invoices = self.page("/invoices/", "/invoices/")
        self.invoices = self.first(INVOICE_LINK, invoices)
        self.returns = self.first(RETURN_LINK, self.page("/service-returns/", "/service-returns/"))
        for invoice in self.invoices[:3]:
            self.lines += self.first(LINE_LINK, self.page(f"/invoices/{invoice}", "/invoices/[id]"), 3)

    @task(2)
    def invoices_list(self) -> None:
        self.page("/invoices/", "/invoices/")

    @task(2)
    def invoice(self) -> None:
        invoice = self.pick(self.invoices)
        if invoice:
            self.page(f"/invoices/{invoice}", "/invoices/[id]")

    @task(1)
    def invoice_line(self) -> None:
        line = self.pick(self.lines)
        if line:
            self.page(f"/invoices/{line[0]}/lines/{line[1]}", "/invoices/[id]/lines/[line]")

    @task(1)
    def returns_list(self) -> None:
        self.page("/service-returns/", "/service-returns/")

    @task(1)
    def service_return(self) -> None:
        service_return = self.pick(self.returns)
        if service_return:
            self.page(f"/service-returns/{service_return}", "/service-returns/[id]")

    @task(1)
    def dashboard(self) -> None:
        self.page("/dashboard/", "/dashboard/")

    @task(1)
    def grant_payments(self) -> None:
        self.page("/grants/payments", "/grants/payments")
        payment = self.pick(self.payments)
        if payment:
            self.page(f"/grants/payments/{payment}", "/grants/payments/[id]")

    @task(1)
    def remittance(self) -> None:
        own = self.pick(self.remittances)
        if own:
            self.page(f"/remittance/{own}", "/remittance/[id]")


class Caseworker(Inbox):
    email = f"caseworker@{LARGEST_PARTNER}"
    tabs = ("mine", "open", "all")

    @task(3)
    def my_sessions(self) -> None:
        self.page("/my-sessions", "/my-sessions")


class Referrer(Inbox):
    email = "referrer@scale.example"
    tabs = ("sent", "open", "completed", "closed", "all")

    @task(1)
    def service_directory(self) -> None:
        self.page("/services/", "/services/")


class ContractManager(Reader):
    email = "contracts@scale.example"

    def discover(self) -> None:
        self.contracts = self.first(CONTRACT_LINK, self.page("/contracts/", "/contracts/"))
        dashboard = self.page("/dashboard/", "/dashboard/")
        self.partners = self.first(PARTNER_OPTION, dashboard)
        queue = self.page("/invoices/queue", "/invoices/queue")
        self.invoices = self.first(INVOICE_LINK, queue) or self.first(INVOICE_LINK, self.page("/invoices/"))
        for invoice in self.invoices[:3]:
            self.lines += self.first(LINE_LINK, self.page(f"/invoices/{invoice}", "/invoices/[id]"), 3)
        self.returns = self.first(RETURN_LINK, self.page("/service-returns/", "/service-returns/"))
        payments = self.page("/grants/payments", "/grants/payments")
        self.payments = self.first(PAYMENT_LINK, payments)
        self.grants = [ref for ref in self.first(GRANT_LINK, payments) if ref != "payments"]
        self.remittances = self.first(REMITTANCE_LINK, self.page("/remittance/", "/remittance/"))

    @task(1)
    def services_and_places(self) -> None:
        self.page("/services/", "/services/")
        contract = self.pick(self.contracts)
        if contract:
            self.page(f"/contracts/{contract}/services", "/contracts/[reference]/services")
            self.page(f"/contracts/{contract}/volumes", "/contracts/[reference]/volumes")

    @task(2)
    def grant_payments(self) -> None:
        self.page("/grants/payments", "/grants/payments")
        payment = self.pick(self.payments)
        if payment:
            self.page(f"/grants/payments/{payment}", "/grants/payments/[id]")
        grant = self.pick(self.grants)
        if grant:
            self.page(f"/grants/{grant}", "/grants/[reference]")

    @task(1)
    def remittance(self) -> None:
        self.page("/remittance/", "/remittance/")
        partner = self.pick(self.remittances)
        if partner:
            self.page(f"/remittance/{partner}", "/remittance/[id]")

    @task(1)
    def prompt_payment(self) -> None:
        self.page("/dashboard/?view=payments", "/dashboard/?view=payments")

    @task(1)
    def safeguarding(self) -> None:
        self.page("/safeguarding/?status=all", "/safeguarding/?status=[s]")

    @task(3)
    def dashboard(self) -> None:
        self.page("/dashboard/", "/dashboard/")

    @task(2)
    def dashboard_filtered(self) -> None:
        partner = self.pick(self.partners)
        if partner:
            self.page(f"/dashboard/?partner={partner}", "/dashboard/?partner=[id]")
        contract = self.pick(self.contracts)
        if contract:
            self.page(
                f"/dashboard/?contract={contract}&pathway=accommodation", "/dashboard/?contract=[ref]&pathway=[p]"
            )

    @task(3)
    def approval_queue(self) -> None:
        self.page("/invoices/queue", "/invoices/queue")

    @task(2)
    def invoices_list(self) -> None:
        self.page("/invoices/", "/invoices/")
        self.page("/invoices/?status=paid&page=2", "/invoices/?status=[s]&page=[n]")

    @task(2)
    def invoice(self) -> None:
        invoice = self.pick(self.invoices)
        if invoice:
            self.page(f"/invoices/{invoice}", "/invoices/[id]")

    @task(1)
    def invoice_line(self) -> None:
        line = self.pick(self.lines)
        if line:
            self.page(f"/invoices/{line[0]}/lines/{line[1]}", "/invoices/[id]/lines/[line]")

    @task(2)
    def returns_list(self) -> None:
        self.page("/service-returns/", "/service-returns/")

    @task(2)
    def service_return(self) -> None:
        service_return = self.pick(self.returns)
        if service_return:
            self.page(f"/service-returns/{service_return}", "/service-returns/[id]")

    @task(1)
    def contract(self) -> None:
        contract = self.pick(self.contracts)
        if contract:
            self.page(f"/contracts/{contract}", "/contracts/[reference]")


class Administrator(Reader):
    email = "admin@scale.example"

    def discover(self) -> None:
        self.page("/audit/", "/audit/")

    @task(4)
    def audit_log(self) -> None:
        self.page("/audit/", "/audit/")
        self.page("/audit/?page=5", "/audit/?page=[n]")

    @task(2)
    def users(self) -> None:
        self.page("/users", "/users")

    @task(1)
    def places(self) -> None:
        self.page("/places/", "/places/")
        self.page("/safeguarding/team-managers", "/safeguarding/team-managers")


class ApiClient(Person):
    """A partner's case-management system: the largest partner's manager's token, made on the account page."""

    email = f"manager@{LARGEST_PARTNER}"

    def discover(self) -> None:
        self.headers = self.token_headers()
        # Referrals with concerns, found as their manager finds them (the API lists concerns per referral).
        self.concerns = self.first(CONCERN_LINK, self.page("/safeguarding/?status=all", "/safeguarding/?status=[s]"))
        self.client.cookies.clear()  # the API ignores cookies: make sure it is the token that is timed
        listed = self.api("/api/v1/referrals?per_page=50", "/api/v1/referrals")
        self.referrals = [item["reference"] for item in (listed or {}).get("items", [])][:20]
        contracts = self.api("/api/v1/contracts", "/api/v1/contracts")
        self.contracts = [item["reference"] for item in (contracts or {}).get("items", [])][:20]
        self.concern_ids: list[int] = []
        for reference in self.concerns[:5]:
            found = self.api(f"/api/v1/referrals/{reference}/concerns", "/api/v1/referrals/[reference]/concerns")
            self.concern_ids += [item["id"] for item in (found or {}).get("items", [])]

    @task(3)
    def referrals_list(self) -> None:
        self.api("/api/v1/referrals?per_page=50", "/api/v1/referrals")
        self.api("/api/v1/referrals?status=in_progress&page=3&per_page=50", "/api/v1/referrals?status=[s]&page=[n]")

    @task(2)
    def referral_and_sessions(self) -> None:
        reference = self.pick(self.referrals)
        if reference:
            self.api(f"/api/v1/referrals/{reference}", "/api/v1/referrals/[reference]")
            self.api(f"/api/v1/referrals/{reference}/sessions", "/api/v1/referrals/[reference]/sessions")

    @task(2)
    def invoices_list(self) -> None:
        self.api("/api/v1/invoices?per_page=50", "/api/v1/invoices")

    @task(1)
    def contracts_list(self) -> None:
        self.api("/api/v1/contracts", "/api/v1/contracts")

    @task(1)
    def returns_list(self) -> None:
        self.api("/api/v1/service-returns", "/api/v1/service-returns")

    @task(1)
    def grant_payments(self) -> None:
        self.api("/api/v1/grant-payments", "/api/v1/grant-payments")

    @task(1)
    def services(self) -> None:
        contract = self.pick(self.contracts)
        if contract:
            self.api(f"/api/v1/contracts/{contract}/services", "/api/v1/contracts/[reference]/services")

    @task(1)
    def safeguarding(self) -> None:
        reference = self.pick(self.concerns or self.referrals)
        if reference:
            self.api(f"/api/v1/referrals/{reference}/concerns", "/api/v1/referrals/[reference]/concerns")
        concern = self.pick(self.concern_ids)
        if concern:
            self.api(f"/api/v1/concerns/{concern}", "/api/v1/concerns/[id]")


class Booker(Person):
    """With --record-every N: the largest partner's system booking a session every N seconds on one of
    its cases in progress (POST /api/v1/referrals/{reference}/sessions, a week or so ahead). Each
    booking writes a session, so every remembered figure is counted again on its next visit
    (portal.figure_cache): the load test then times pages while records change, as they do all day.
    It writes to the database under test: run it on a seeded copy, not on live data."""

    email = f"manager@{LARGEST_PARTNER}"
    every = 10.0
    today: date | None = None  # the portal's day, if its clock is not this machine's (--today)

    def wait_time(self) -> float:  # type: ignore[override]
        return self.every

    def discover(self) -> None:
        self.headers = self.token_headers()
        self.client.cookies.clear()
        listed = self.api("/api/v1/referrals?status=in_progress&per_page=50", "/api/v1/referrals?status=[s]&page=[n]")
        self.in_progress = [item["reference"] for item in (listed or {}).get("items", [])]
        if not self.in_progress:
            raise SystemExit("--record-every: the largest partner has no referral in progress to book sessions on")
        self.booked = 0

    @task
    def book_a_session(self) -> None:
        self.booked += 1
        reference = self.in_progress[self.booked % len(self.in_progress)]
        name = "/api/v1/referrals/[reference]/sessions [POST]"
        url = f"/api/v1/referrals/{reference}/sessions"
        # A slot weeks ahead, chosen at random: an earlier run may hold the case's slot, and the
        # portal refuses a session that overlaps another (409), so another slot is tried.
        for _ in range(5):
            today = self.today or datetime.now(LONDON).date()
            day = today + timedelta(days=random.randint(7, 60))
            minute = random.randrange(8 * 60, 17 * 60, 5)
            body = {
                "date": day.isoformat(),
                "start_time": f"{minute // 60:02d}:{minute % 60:02d}",
                "duration_minutes": 30,
                "kind": "phone",
                "counts_as_rar_day": False,
                "summary": "Booked by the load test",
            }
            with self.client.post(url, json=body, name=name, headers=self.headers, catch_response=True) as response:
                if response.status_code == 201:
                    return
                if response.status_code == 409:
                    response.success()  # the overlap refused, as it should be
                    continue
                response.failure(f"{response.status_code} for {url}: {response.text[:200]}")
                return


# Only the booking, every SECONDS: Locust would otherwise give it Person's tasks too (the floor).
Booker.tasks = [Booker.book_a_session]

ROLES = (PartnerManager, Caseworker, Referrer, ContractManager, Administrator, ApiClient)


# --- running and reporting ----------------------------------------------------------------------------------


def run(
    host: str,
    *,
    users_per_role: int,
    run_time: float,
    max_requests: int,
    password: str,
    skip: tuple[str, ...] = (),
    spawn_rate: float = 1.0,
    record_every: float = 0,
    today: date | None = None,
) -> Environment:
    roles: list[type[Person]] = list(ROLES)
    for role in roles:
        role.fixed_count = users_per_role
    if record_every:
        Booker.every = record_every
        Booker.today = today
        Booker.fixed_count = 1
        roles.append(Booker)
    for role in roles:
        role.password = password
        role.skipped = skip
    environment = Environment(user_classes=roles, host=host, events=events)
    runner = environment.create_local_runner()
    counted = {"requests": 0}

    def on_request(**_: object) -> None:
        counted["requests"] += 1
        if counted["requests"] == max_requests:
            gevent.spawn(runner.quit)

    environment.events.request.add_listener(on_request)
    users = sum(role.fixed_count for role in roles)
    # One user more a second (Locust's own default), as people arrive: all at once, every user's
    # sign-in and first look round (a dozen pages each) land in the same second on a cold server,
    # and the sign-in's six samples time that burst rather than a sign-in amid the day's traffic.
    runner.start(users, spawn_rate=spawn_rate)
    gevent.spawn_later(run_time, runner.quit)
    runner.greenlet.join()
    return environment


def report(environment: Environment) -> tuple[str, int]:
    """A Markdown table of every page's p50/p95/p99 in ms, with p95 against the floor's; and the failures."""
    entries = sorted(
        (entry for entry in environment.stats.entries.values() if entry.num_requests),
        key=lambda entry: (entry.name != FLOOR, entry.name),
    )
    floor = next((entry for entry in entries if entry.name == FLOOR), None)
    floor_p95 = floor.get_response_time_percentile(0.95) if floor else None
    rows = [
        "| page | requests | failures | p50 ms | p95 ms | p99 ms | p95 ÷ floor p95 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    failures = 0
    for entry in entries:
        p50, p95, p99 = (entry.get_response_time_percentile(q) for q in (0.5, 0.95, 0.99))
        ratio = f"{p95 / floor_p95:.1f}×" if floor_p95 else "–"
        name = f"`{entry.name}`" + (" (floor)" if entry.name == FLOOR else "")
        rows.append(
            f"| {name} | {entry.num_requests} | {entry.num_failures} | {p50:.0f} | {p95:.0f} | {p99:.0f} | {ratio} |"
        )
        failures += entry.num_failures
    return "\n".join(rows), failures


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="http://127.0.0.1:8000", help="the portal, on this machine")
    parser.add_argument("--users-per-role", type=int, default=2)
    parser.add_argument("--run-time", type=float, default=120, help="seconds, at most")
    parser.add_argument("--max-requests", type=int, default=6000, help="requests, at most")
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    parser.add_argument("--spawn-rate", type=float, default=1.0, help="users started a second (all at once: 100)")
    parser.add_argument(
        "--record-every",
        type=float,
        default=0,
        metavar="SECONDS",
        help="also book a session through the API every SECONDS (records changing while pages are read)",
    )
    parser.add_argument(
        "--today",
        type=date.fromisoformat,
        help="the portal's day (YYYY-MM-DD) for --record-every's bookings, if not this machine's (a pinned test clock)",
    )
    parser.add_argument("--markdown", help="also write the table to this file")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="PREFIX",
        help="leave out pages whose name starts so (e.g. /dashboard/), to time the rest without them",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    host = loopback_only(args.host)
    started = time.perf_counter()
    environment = run(
        host,
        users_per_role=args.users_per_role,
        run_time=args.run_time,
        max_requests=args.max_requests,
        password=args.password,
        skip=tuple(args.skip),
        spawn_rate=args.spawn_rate,
        record_every=args.record_every,
        today=args.today,
    )
    table, failures = report(environment)
    total = environment.stats.total
    print(
        f"{total.num_requests} requests from {args.users_per_role * len(ROLES) + bool(args.record_every)} users in "
        f"{time.perf_counter() - started:.0f} s against {host}; {failures} failed"
    )
    print(table)
    for error in environment.stats.errors.values():
        print(f"Failure: {error.method} {error.name}: {error.error} ({error.occurrences}×)", file=sys.stderr)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as file:
            file.write(table + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
