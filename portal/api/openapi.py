"""The OpenAPI 3.1 document, generated from the registered endpoints and their pydantic models
(whose JSON Schema 2020-12 is OpenAPI 3.1's own dialect), served at /api/v1/openapi.json."""

from __future__ import annotations

import copy
from typing import Any

from flask import Response
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from portal.api import schemas
from portal.api.blueprint import MAX_BODY_BYTES, api, bp
from portal.api.registry import Endpoint, json_response
from portal.problems import PROBLEMS

REF = "#/components/schemas/{model}"
STATUS_TEXT = {
    200: "OK",
    201: "Created",
    400: "Malformed: the body is not JSON, or an Idempotency-Key is not valid",
    401: "No API token, or one that does not work",
    403: "Your role may not do this",
    404: "No such record, or not one you can see",
    409: "The record's state does not allow this, or it changed since you read it (`version`)",
    413: f"The body is over {MAX_BODY_BYTES // 1024} KB",
    415: "The body is not JSON",
    422: "The request has problems: `errors` names every field",
    429: "Too many requests for this token: see Retry-After",
}
PATH_TYPES = {"string": {"type": "string"}, "int": {"type": "integer", "minimum": 0, "maximum": 2147483647}}

_document: dict[str, Any] | None = None


def _models() -> list[tuple[type[BaseModel], str]]:
    models: dict[tuple[type[BaseModel], str], None] = {(schemas.Problem, "serialization"): None}
    for endpoint in api.endpoints:
        if endpoint.body is not None:
            models[(endpoint.body, "validation")] = None
        if endpoint.response is not None:
            models[(endpoint.response, "serialization")] = None
    return list(models)


def _parameters(endpoint: Endpoint, components: dict[str, Any]) -> list[dict[str, Any]]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": PATH_TYPES["int" if kind == "int" else "string"]}
        for name, kind in endpoint.path_parameters
    ]
    if endpoint.query is not None:
        schema = endpoint.query.model_json_schema(ref_template=REF, mode="validation")
        components.update(schema.pop("$defs", {}))
        required = set(schema.get("required", []))
        for name, field_schema in schema["properties"].items():
            field_schema = dict(field_schema)
            description = field_schema.pop("description", None)
            field_schema.pop("title", None)
            parameter = {"name": name, "in": "query", "required": name in required, "schema": field_schema}
            if description:
                parameter["description"] = description
            parameters.append(parameter)
    if endpoint.method == "POST":
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Any 1 to 255 visible ASCII characters, like a UUID. The same key from you within "
                "24 hours replays the first response and does nothing again; the same key with a different "
                "request is refused (422).",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
            }
        )
    return parameters


def _problem(code: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": STATUS_TEXT.get(code, "Error"),
        "content": {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}},
    }
    if code == 429:
        response["headers"] = {
            "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer", "minimum": 1}}
        }
    if code == 401:
        response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    return response


def _operation(endpoint: Endpoint, refs: dict[tuple[type[BaseModel], str], Any], components: dict[str, Any]) -> Any:
    description = endpoint.description
    operation: dict[str, Any] = {
        "operationId": endpoint.name,
        "summary": endpoint.summary,
        "description": f"**Who:** {endpoint.who}." + (f"\n\n{description}" if description else ""),
        "tags": [endpoint.tag],
        "parameters": _parameters(endpoint, components),
        "responses": {},
    }
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": endpoint.body_required,
            "content": {"application/json": {"schema": refs[(endpoint.body, "validation")]}},
        }
    for code in endpoint.status_codes():
        if code >= 400:
            operation["responses"][str(code)] = _problem(code)
            continue
        success: dict[str, Any] = {"description": STATUS_TEXT.get(code, "OK")}
        if endpoint.response is not None:
            success["content"] = {endpoint.media_type: {"schema": refs[(endpoint.response, "serialization")]}}
        else:
            success["content"] = {endpoint.media_type: {"schema": {"type": "string", "format": "binary"}}}
        if endpoint.location is not None:
            success["headers"] = {"Location": {"description": "Where the new record is", "schema": {"type": "string"}}}
        operation["responses"][str(code)] = success
    return operation


def build_document() -> dict[str, Any]:
    from portal.api import routes  # noqa: F401 - every endpoint registered, whoever asks first

    refs, top = models_json_schema(_models(), ref_template=REF)
    components: dict[str, Any] = dict(top.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in api.endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, refs, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Partner Portal API",
            "version": "1.0.0",
            "description": "The CRC's supply chain: referrals, sessions, outcomes, invoices and service returns "
            "(with their PDFs). Authenticate with "
            "`Authorization: Bearer <token>` (create a token on your account page). Money is integer pence "
            "in fields named `*_pence`; dates are YYYY-MM-DD; timestamps ISO 8601 with an offset. Errors are "
            "application/problem+json. A guide with examples is at /api/docs.",
        },
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "tags": [{"name": tag} for tag in dict.fromkeys(endpoint.tag for endpoint in api.endpoints)],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "A personal API token (pp_…)"}
            },
        },
        "x-problem-types": {slug: {"status": status, "title": title} for slug, (status, title) in PROBLEMS.items()},
    }


def document() -> dict[str, Any]:
    """The document, built once per process (it depends only on the code)."""
    global _document
    if _document is None:
        _document = build_document()
    return copy.deepcopy(_document)


@bp.route("/openapi.json")
def openapi_document() -> Response:
    return json_response(document())
