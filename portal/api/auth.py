"""Who is calling the API, and how often: `Authorization: Bearer <token>` on every request (session
cookies count for nothing here), and a rate limit per token (API_RATE_LIMIT), 429 with Retry-After.

The limit is counted in the same storage as the portal's other limits (RATELIMIT_STORAGE_URI:
memory in development, Redis in production), so it holds across workers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from flask import Response, current_app, g, request
from limits import RateLimitItem, parse_many

from portal.accounts import tokens
from portal.accounts.models import User
from portal.extensions import limiter
from portal.problems import ApiProblem

REALM = 'Bearer realm="Partner Portal API"'


def bearer_user() -> User:
    """The user whose token the request carries; 401 if it carries none, or one that does not work."""
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        raise ApiProblem(
            "unauthorised",
            "Send your API token as 'Authorization: Bearer <token>'. Create one on your account page.",
            headers={"WWW-Authenticate": REALM},
        )
    bearer = tokens.authenticate(credentials)
    if bearer is None:
        raise ApiProblem(
            "unauthorised",
            "This API token is not recognised, has been revoked, or belongs to a deactivated account.",
            headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
        )
    g.api_token_id = bearer.token_id
    return bearer.user


@dataclass(frozen=True)
class Allowance:
    limit: int
    remaining: int
    reset_at: float  # epoch seconds


def _limits() -> list[RateLimitItem]:
    return list(parse_many(current_app.config["API_RATE_LIMIT"]))


def check_rate_limit(token_id: int) -> None:
    """Count this request against its token's limits; 429 with Retry-After once one is spent."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return
    strategy = limiter.limiter
    tightest: Allowance | None = None
    for item in _limits():
        if not strategy.hit(item, "api-token", str(token_id)):
            reset_at, _remaining = strategy.get_window_stats(item, "api-token", str(token_id))
            retry_after = max(1, math.ceil(reset_at - time.time()))
            g.api_allowance = Allowance(item.amount, 0, reset_at)
            raise ApiProblem(
                "rate-limited",
                f"This token has made more than {item.amount} requests in {_window(item)}. "
                f"Try again in {retry_after} seconds.",
                headers={"Retry-After": str(retry_after)},
            )
        reset_at, remaining = strategy.get_window_stats(item, "api-token", str(token_id))
        if tightest is None or remaining < tightest.remaining:
            tightest = Allowance(item.amount, remaining, reset_at)
    g.api_allowance = tightest


def _window(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    return f"{item.multiples} {unit}s" if item.multiples != 1 else f"a {unit}"


def add_rate_limit_headers(response: Response) -> Response:
    allowance: Allowance | None = g.get("api_allowance")
    if allowance is not None:
        response.headers["RateLimit-Limit"] = str(allowance.limit)
        response.headers["RateLimit-Remaining"] = str(max(0, allowance.remaining))
        response.headers["RateLimit-Reset"] = str(max(0, math.ceil(allowance.reset_at - time.time())))
    return response
