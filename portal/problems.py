"""Errors as application/problem+json (RFC 9457), and which requests are answered with them: the
API's, under /api/v1. One function turns any error (domain errors from the services, HTTP errors,
anything unexpected) into a problem response. Neutral ground: the web's error handlers and the API
both use it, and it imports neither.

Status codes follow shared/API.md: 400 malformed JSON, 401, 403, 404 (also for other partners'
records), 405, 409 (wrong state or a stale version), 413, 415, 422 (validation, every field),
429 and 500. A ValidationFailed that names no input field, only the record itself ("referral",
"invoice"…), is about the record's state, not the request: it is a 409.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from flask import Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from portal.errors import (
    Conflict,
    DomainError,
    InvalidTransition,
    NotAllowed,
    NotFound,
    StaleRecord,
    ValidationFailed,
)

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
API_PREFIX = "/api/v1"

# slug: (status, title). The type of each problem is the docs page's anchor for it.
PROBLEMS = {
    "malformed-request": (400, "The request is malformed"),
    "unauthorised": (401, "A valid API token is required"),
    "forbidden": (403, "You do not have permission to do that"),
    "not-found": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "wrong-state": (409, "The record is not in a state that allows this"),
    "stale-version": (409, "The record has changed since you read it"),
    "conflict": (409, "The request clashes with another record: errors names the field and the record"),
    "request-in-progress": (409, "A request with this Idempotency-Key is still being answered"),
    "too-large": (413, "The request body is too large"),
    "unsupported-media-type": (415, "Send the request body as application/json"),
    "validation": (422, "The request has problems"),
    "idempotency-key-reused": (422, "This Idempotency-Key was used for a different request"),
    "rate-limited": (429, "Too many requests"),
    "server-error": (500, "Something went wrong"),
}
SLUG_FOR_STATUS = {
    400: "malformed-request",
    401: "unauthorised",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "wrong-state",
    413: "too-large",
    415: "unsupported-media-type",
    422: "validation",
    429: "rate-limited",
    500: "server-error",
}
# Keys by which services name the record itself rather than an input field.
RECORD_KEYS = frozenset({"referral", "session", "outcome", "invoice", "user", "service_return", "return"})
REPEATED_FIELD = re.compile(r"^(\w+)-(\d+)$")  # "outcomes-2" → "outcomes.2"


def is_api_path(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def is_api_request() -> bool:
    """Whether this request is the API's, answered in JSON (problems for errors), never with a page."""
    return is_api_path(request.path)


class ApiProblem(Exception):
    """Raised inside the API to answer with a problem: `ApiProblem("validation", errors=...)`."""

    def __init__(
        self,
        slug: str,
        detail: str | None = None,
        *,
        errors: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail or PROBLEMS[slug][1])
        self.slug = slug
        self.detail = detail
        self.errors = dict(errors) if errors else None
        self.headers = dict(headers or {})


def problem_type(slug: str) -> str:
    base = current_app.config["BASE_URL"]
    return f"{base}/api/docs#problem-{slug}"


def problem_response(
    slug: str,
    detail: str | None = None,
    *,
    errors: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
    status: int | None = None,
) -> Response:
    code, title = PROBLEMS[slug]
    code = status or code
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": title,
        "status": code,
        "detail": detail or title,
        "instance": request.path,
        "request_id": g.get("request_id", ""),
    }
    if errors is not None:
        body["errors"] = {field: list(messages) for field, messages in errors.items()}
    response = Response(json.dumps(body, ensure_ascii=False), status=code, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def api_field_names(errors: Mapping[str, list[str]], rename: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """A service's field names as the API's: through `rename`, and "outcomes-2" as "outcomes.2"."""
    renamed: dict[str, list[str]] = {}
    for field, messages in errors.items():
        name = (rename or {}).get(field)
        if name is None:
            match = REPEATED_FIELD.match(field)
            name = f"{match.group(1)}.{match.group(2)}" if match else field
        renamed.setdefault(name, []).extend(messages)
    return renamed


def problem_for(error: BaseException, rename: Mapping[str, str] | None = None) -> Response:
    """The problem response for any error raised while answering an API request."""
    if isinstance(error, ApiProblem):
        return problem_response(error.slug, error.detail, errors=error.errors, headers=error.headers)
    if isinstance(error, Conflict):
        detail = " ".join(message for messages in error.errors.values() for message in messages)
        return problem_response("conflict", detail, errors=api_field_names(error.errors, rename))
    if isinstance(error, ValidationFailed):
        if error.errors and set(error.errors) <= RECORD_KEYS:
            detail = " ".join(message for messages in error.errors.values() for message in messages)
            return problem_response("wrong-state", detail)
        return problem_response("validation", error.message, errors=api_field_names(error.errors, rename))
    if isinstance(error, StaleRecord):
        return problem_response("stale-version", error.message)
    if isinstance(error, InvalidTransition):
        return problem_response("wrong-state", error.message)
    if isinstance(error, NotAllowed):
        return problem_response("forbidden", error.message)
    if isinstance(error, NotFound):
        return problem_response("not-found", "There is no such record, or it is not one you can see")
    if isinstance(error, DomainError):  # pragma: no cover - every domain error is one of the above
        return problem_response("validation", error.message)
    if isinstance(error, HTTPException):
        code = error.code or 500
        slug = SLUG_FOR_STATUS.get(code)
        headers = {key: value for key, value in error.get_headers() if key.lower() in ("allow", "retry-after")}
        if slug is None:
            slug = "malformed-request" if code < 500 else "server-error"
            return problem_response(slug, error.description, headers=headers, status=code)
        detail = None if code in (404, 500) else error.description
        if code == 404:
            detail = "There is no such record, or it is not one you can see"
        return problem_response(slug, detail, headers=headers)
    from portal.persistence import as_conflict

    conflict = as_conflict(error)
    if conflict is not None:  # a lost race is a 409, never a 500
        log.warning("lost a race answering an API request: %s", type(error).__name__)
        return problem_response("stale-version", conflict.message)
    log.error("unhandled error answering an API request", exc_info=error)
    return problem_response("server-error", "Something went wrong. Quote the request id if you report it.")
