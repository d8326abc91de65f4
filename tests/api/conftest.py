"""API fixtures: a client that calls the API with a user's token, as a partner's system would."""

from __future__ import annotations

import json as jsonlib
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from portal.api import tokens


class ApiClient:
    """Calls /api/v1 with `Authorization: Bearer <token>`; JSON in, JSON out."""

    def __init__(self, client: Any, secret: str | None) -> None:
        self.client = client
        self.secret = secret

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.secret}"} if self.secret else {}
        return headers | (extra or {})

    def get(self, path: str, *, headers: dict[str, str] | None = None, **params: Any) -> TestResponse:
        return self.client.get(f"/api/v1{path}", query_string=params, headers=self.headers(headers))

    def post(
        self,
        path: str,
        json: Any = None,
        *,
        data: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> TestResponse:
        body = data if data is not None else (jsonlib.dumps(json) if json is not None else b"")
        return self.client.post(f"/api/v1{path}", data=body, headers=self.headers(headers), content_type=content_type)

    def request(self, method: str, path: str, **kwargs: Any) -> TestResponse:
        return self.client.open(f"/api/v1{path}", method=method, headers=self.headers(), **kwargs)


@pytest.fixture
def api_as(app: Flask):
    """api_as(user) -> an ApiClient calling with a new token of that user's."""

    def make(user: Any, name: str = "Test system") -> ApiClient:
        created = tokens.create_token(None, user, name=name)
        return ApiClient(app.test_client(), created.secret)

    return make


@pytest.fixture
def anonymous_api(app: Flask) -> ApiClient:
    return ApiClient(app.test_client(), None)
