"""Each token has its own allowance (API_RATE_LIMIT); past it, 429 with Retry-After."""

from __future__ import annotations

import pytest

from portal.accounts import tokens
from tests.api.conftest import ApiClient


@pytest.fixture
def three_a_minute(app):
    app.config["API_RATE_LIMIT"] = "3 per minute"
    yield
    app.config["API_RATE_LIMIT"] = "100000 per minute"


def test_a_token_past_its_limit_is_told_when_to_try_again(app, three_a_minute, nacro_manager, nacro_caseworker):
    client = ApiClient(app.test_client(), tokens.create_token(None, nacro_manager, name="CMS").secret)
    answers = [client.get("/contracts") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert [answer.headers["RateLimit-Remaining"] for answer in answers] == ["2", "1", "0"]
    assert answers[0].headers["RateLimit-Limit"] == "3"
    refused = client.get("/contracts")
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "3 requests in a minute" in refused.get_json()["detail"]
    assert client.post("/invoices", {"contract": "X", "period": "2026-10"}).status_code == 429  # POSTs count too

    # Another token, even the same user's, has its own allowance.
    second = ApiClient(app.test_client(), tokens.create_token(None, nacro_manager, name="Other").secret)
    assert second.get("/contracts").status_code == 200
    colleague = ApiClient(app.test_client(), tokens.create_token(None, nacro_caseworker, name="CMS").secret)
    assert colleague.get("/contracts").status_code == 200


def test_the_limit_can_be_turned_off(app, three_a_minute, nacro_manager):
    client = ApiClient(app.test_client(), tokens.create_token(None, nacro_manager, name="CMS").secret)
    app.config["RATELIMIT_ENABLED"] = False
    try:
        assert {client.get("/contracts").status_code for _ in range(5)} == {200}
    finally:
        app.config["RATELIMIT_ENABLED"] = True
