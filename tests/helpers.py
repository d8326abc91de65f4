"""Test helpers that let tests read like a user's actions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from html import unescape
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from portal.dates import london_today
from tests.factories import PASSWORD

CSRF_INPUT = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


class Portal:
    """Wraps the test client like a person at a browser."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self._csrf: str | None = None

    def _remember_csrf(self, response: TestResponse) -> TestResponse:
        if response.mimetype == "text/html":
            match = CSRF_INPUT.search(response.get_data(as_text=True))
            if match:
                self._csrf = match.group(1)
        return response

    def get(self, url: str, **kwargs: Any) -> TestResponse:
        return self._remember_csrf(self.client.get(url, **kwargs))

    def csrf_token(self) -> str:
        if self._csrf is None:
            self.get("/sign-in")
        assert self._csrf, "no CSRF token found on the page"
        return self._csrf

    def post(self, url: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any) -> TestResponse:
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.csrf_token())
        return self._remember_csrf(self.client.post(url, data=data, **kwargs))

    def sign_in(self, user_or_email: Any, password: str = PASSWORD) -> TestResponse:
        email = getattr(user_or_email, "email", user_or_email)
        self.get("/sign-in")
        response = self.post("/sign-in", {"email": email, "password": password})
        if response.status_code == 302:
            self.get(response.headers["Location"])
        return response

    def sign_out(self) -> TestResponse:
        response = self.post("/sign-out")
        if response.status_code == 302:
            self.get(response.headers["Location"])  # as a browser would, picking up a fresh CSRF token
        return response


def text_of(response: TestResponse) -> str:
    """The page's text with tags and runs of white space removed, for asserting on what a user reads."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


class QueryCounter:
    """Counts the SQL statements the app under test sends while a block runs:

    with QueryCounter(app) as queries:
        portal.get("/audit/")
    assert queries.count == ...
    """

    def __init__(self, app: Any) -> None:
        with app.app_context():
            from portal.extensions import db

            self.engine = db.engine
        self.count = 0

    def _count(self, *args: Any) -> None:
        self.count += 1

    def __enter__(self) -> QueryCounter:
        from sqlalchemy import event

        self.count = 0
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc: Any) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._count)


def days_from_today(days: int) -> date:
    """The date `days` after today on the suite's clock (before it, if negative)."""
    return london_today() + timedelta(days=days)


@dataclass(frozen=True)
class DaysFromToday:
    """A date in a parametrize list, written relative to today and read when the test runs: the
    lists are built as the module is imported, and no test takes the date at import."""

    days: int

    def __repr__(self) -> str:
        return f"today{self.days:+d}d"


def dated(values: dict[str, Any]) -> dict[str, Any]:
    """`values` with each DaysFromToday turned into its date."""
    return {key: days_from_today(v.days) if isinstance(v, DaysFromToday) else v for key, v in values.items()}


# The day the worked examples written in a fixed calendar are set on (a Monday): the quarter of
# 2026 counted by hand in tests/returns, the months invoiced in tests/invoicing. Their modules say
# `pytestmark = pytest.mark.on_day(STORY_DAY)`, so they read the same on whatever day the suite runs.
STORY_DAY = date(2026, 12, 7)


def pagination_link(response: TestResponse, rel: str = "next") -> str | None:
    """The href of a list's GOV.UK pagination link ("next" or "prev"), or None if the page has none."""
    html = response.get_data(as_text=True)
    match = re.search(r'<a[^>]*href="([^"]+)"[^>]*rel="' + rel + '"', html)
    return unescape(match.group(1)) if match else None


def redis_or_skip(url: str) -> Any:
    """A connection to the Redis database at `url`, or the test skipped when Redis is not running."""
    redis = pytest.importorskip("redis")
    connection = redis.Redis.from_url(url)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    return connection
