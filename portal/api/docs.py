"""/api/docs: the API for people — every endpoint, who may call it, and examples — made from the
same registry as the OpenAPI document, so the two always agree."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, current_app, render_template
from markupsafe import Markup, escape

from portal.api import routes  # noqa: F401 - every endpoint registered
from portal.api.blueprint import MAX_BODY_BYTES, api
from portal.api.registry import Endpoint
from portal.api.schemas import as_json_schema_example
from portal.problems import PROBLEMS

bp = Blueprint("api_docs", __name__)

EXAMPLE_PATH_VALUES = {"reference": "AB1234CD", "outcome_id": "42", "invoice_id": "7", "return_id": "12"}
# What a downloaded document is saved as, in the curl examples.
EXAMPLE_FILE_NAMES = {"get_invoice_pdf": "invoice.pdf", "get_service_return_pdf": "service-return.pdf"}


@dataclass(frozen=True)
class Documented:
    endpoint: Endpoint
    anchor: str
    curl: str
    request_example: str | None
    response_example: str | None


def _example_path(endpoint: Endpoint) -> str:
    path = endpoint.path
    for name, value in EXAMPLE_PATH_VALUES.items():
        path = path.replace("{" + name + "}", value)
    return path


def _curl(endpoint: Endpoint, base: str, example: Any) -> str:
    lines = [
        f'curl -X {endpoint.method} "{base}/api/v1{_example_path(endpoint)}"',
        '  -H "Authorization: Bearer $TOKEN"',
    ]
    if endpoint.response is None:  # a document: save it to a file
        lines.append(f'  -o "{EXAMPLE_FILE_NAMES.get(endpoint.name, "download")}"')
    if example is not None:
        lines += [
            '  -H "Content-Type: application/json"',
            '  -H "Idempotency-Key: $(uuidgen)"',
            "  -d '" + json.dumps(example, ensure_ascii=False) + "'",
        ]
    return " \\\n".join(lines)


def documented_endpoints() -> dict[str, list[Documented]]:
    base = current_app.config["BASE_URL"]
    by_tag: dict[str, list[Documented]] = {}
    for endpoint in api.endpoints:
        request_example = as_json_schema_example(endpoint.body) if endpoint.body else None
        response_example = as_json_schema_example(endpoint.response) if endpoint.response else None
        by_tag.setdefault(endpoint.tag, []).append(
            Documented(
                endpoint=endpoint,
                anchor=endpoint.name.replace("_", "-"),
                curl=_curl(endpoint, base, request_example),
                request_example=json.dumps(request_example, indent=2, ensure_ascii=False) if request_example else None,
                response_example=json.dumps(response_example, indent=2, ensure_ascii=False)
                if response_example
                else None,
            )
        )
    return by_tag


def with_code(text: str) -> Markup:
    """Descriptions are Markdown-ish for the OpenAPI document: show their `code` as code here."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: show the text as it is
        return escape(text)
    return Markup("").join(
        Markup("<code>{}</code>").format(part) if index % 2 else escape(part) for index, part in enumerate(parts)
    )


@bp.route("/api/docs")
def index():  # type: ignore[no-untyped-def]
    return render_template(
        "api/docs.html",
        endpoints=documented_endpoints(),
        problems=PROBLEMS,
        max_body_kb=MAX_BODY_BYTES // 1024,
        rate_limit=current_app.config["API_RATE_LIMIT"],
        base_url=current_app.config["BASE_URL"],
        with_code=with_code,
    )
