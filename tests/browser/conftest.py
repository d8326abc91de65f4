"""Browser fixtures: the test app served on a real port, one headless Chromium, a fresh page per test.

The live server runs the session's `app` in a background thread of this process, so it
shares the test's database: records that factories commit in a test are what the browser
sees, and the autouse `_database` fixture empties them afterwards as for any other test.

Chromium is Debian's (/usr/bin/chromium); Playwright never downloads a browser here.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium keeps calling home, which a closed network turns into noise and delay.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_SOURCE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "test-results"
BLOCKING_IMPACTS = ("serious", "critical")
TITLE_SUFFIX = "– Partner Portal"


# --- the server and the browser --------------------------------------------------------------


class QuietRequestHandler(WSGIRequestHandler):
    """No access-log line per request (the app logs its own); errors are still reported."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def session_cookies_only(app: Flask) -> Callable[..., Any]:
    """The app, with cookies' expiry dates left out.

    Under TEST_TODAY the server's clock is pinned but Chromium's is real: a cookie that expires
    30 minutes after a pinned day in the past would be dropped at once. The idle timeout is
    enforced by the server from the session itself, so the browser only needs the cookie to last
    until the test ends."""

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        def start(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            headers = [
                (name, EXPIRY.sub("", value) if is_lasting_cookie(name, value) else value) for name, value in headers
            ]
            return start_response(status, headers, *args)

        return app(environ, start)

    return application


EXPIRY = re.compile(r";\s*(?:Expires=[^;]*|Max-Age=\d+)", re.IGNORECASE)


def is_lasting_cookie(name: str, value: str) -> bool:
    """A Set-Cookie that sets a cookie (one that deletes it, with Max-Age=0, is left alone)."""
    return name.lower() == "set-cookie" and "max-age=0" not in value.lower()


@pytest.fixture(scope="session")
def live_server(app: Flask) -> Iterator[str]:
    """The session's app on a free port of 127.0.0.1; yields its base URL."""
    served = session_cookies_only(app) if os.environ.get("TEST_TODAY") else app
    server = make_server("127.0.0.1", 0, served, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = "Chromium not found: install Debian's chromium (apt-get install chromium) to run browser tests"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test item, so the page fixture knows whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser: Browser, live_server: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A new browser context and page for each test; a screenshot in test-results/ if the test fails."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server)
    page = context.new_page()
    try:
        yield page
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            SCREENSHOTS.mkdir(exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
            with contextlib.suppress(PlaywrightError):  # a missing screenshot must not hide the real failure
                page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        context.close()


# --- what a person does ----------------------------------------------------------------------


def sign_in(page: Page, live_server: str, user: Any, password: str = PASSWORD) -> None:
    """Sign in through the form, as the user would, and wait for their home page."""
    page.goto(f"{live_server}/sign-in")
    page.locator("#email").fill(user.email)
    page.locator("#password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1, name=f"Welcome, {user.name}")).to_be_visible()


# --- accessibility ---------------------------------------------------------------------------


@cache
def axe_source() -> str:
    if not AXE_SOURCE.exists():
        raise RuntimeError(f"axe-core not found at {AXE_SOURCE}: run `npm install` in {ROOT}")
    # The trailing expression keeps evaluate() from trying to return whatever the script ends with.
    return AXE_SOURCE.read_text(encoding="utf-8") + "\n;undefined;"


RUN_AXE = """async () => {
  const results = await axe.run(document, {resultTypes: ['violations']});
  return results.violations.map(violation => ({
    id: violation.id,
    impact: violation.impact,
    help: violation.help,
    helpUrl: violation.helpUrl,
    nodes: violation.nodes.map(node => ({
      target: node.target.map(String).join(' '),
      summary: node.failureSummary || '',
      html: node.html,
    })),
  }));
}"""


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Every axe-core violation on the page as it is now."""
    # Evaluated through the DevTools protocol, which the page's CSP does not govern (a <script> tag would be blocked).
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    return page.evaluate(RUN_AXE)


def describe_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']} <{violation['helpUrl']}>")
        for node in violation["nodes"]:
            lines.append(f"    at {node['target']}: {node['html'][:200]}")
            for summary_line in node["summary"].splitlines():
                if summary_line.strip():
                    lines.append(f"      {summary_line.strip()}")
    return "\n".join(lines)


def assert_accessible(page: Page) -> None:
    """Fail, naming each rule, impact and element, if axe-core finds a serious or critical problem."""
    violations = [v for v in axe_violations(page) if v["impact"] in BLOCKING_IMPACTS]
    if violations:
        raise AssertionError(
            f"axe-core found {len(violations)} serious or critical accessibility problem(s) on {page.url}:\n"
            + describe_violations(violations)
        )
