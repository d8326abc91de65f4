"""The `api` blueprint at /api/v1 and what every request to it goes through first: the token (401),
the token's rate limit (429) and the body's size (413). CSRF does not apply (no cookies are
read here: a request is only ever who its token says)."""

from __future__ import annotations

from flask import Blueprint, Response, g, request

from portal.api.auth import add_rate_limit_headers, bearer_user, check_rate_limit
from portal.api.registry import Registry
from portal.problems import ApiProblem, problem_for

MAX_BODY_BYTES = 1024 * 1024

bp = Blueprint("api", __name__, url_prefix="/api/v1")
api = Registry(bp)

# Open to anyone: they describe the API and hold no records.
PUBLIC_ENDPOINTS = frozenset({"api.openapi_document"})


@bp.before_request
def authenticate_and_limit() -> Response | None:
    request.max_content_length = MAX_BODY_BYTES  # reading more than this is a 413
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    try:
        g.api_user = bearer_user()
        check_rate_limit(g.api_token_id)
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            raise ApiProblem("too-large", f"The request body must be {MAX_BODY_BYTES // 1024} KB or less")
    except ApiProblem as problem:
        return problem_for(problem)
    return None


@bp.after_request
def rate_limit_headers(response: Response) -> Response:
    return add_rate_limit_headers(response)
