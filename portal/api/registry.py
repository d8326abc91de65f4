"""How an API endpoint is declared, once, for both the routing and the OpenAPI document:

    @api.route("POST", "/referrals/<reference>/accept", load=load_referral, body=schemas.AcceptReferral,
               response=schemas.Referral, who="Partner manager", summary="Accept a referral", ...)
    def accept_referral(user, referral, body): ...

The view this makes, for each request: finds the record the path names (404 if the caller may not
see it), reads the query and the JSON body into their models (400 malformed, 415, 422 naming every
field), calls the handler, which calls the service, and turns its result into JSON, or any error
into a problem (portal.problems). POSTs honour an Idempotency-Key. Nothing the handler changed
is kept when it fails: the session is rolled back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, g, request
from pydantic import BaseModel, ValidationError
from sqlalchemy import Select
from werkzeug.exceptions import HTTPException

from portal import keyset
from portal.api import idempotency
from portal.errors import DomainError
from portal.extensions import db
from portal.problems import ApiProblem, problem_for

JSON_TYPES = ("application/json",)
PATH_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
# Large enough for any id, small enough for every database's INTEGER.
ID = "int(max=2147483647)"


@dataclass
class Endpoint:
    method: str
    rule: str
    handler: Callable[..., Any]
    summary: str
    who: str
    tag: str
    response: type[BaseModel] | None
    status: int = 200
    body: type[BaseModel] | None = None
    body_required: bool = True
    query: type[BaseModel] | None = None
    load: Callable[..., Any] | None = None
    errors: tuple[int, ...] = ()
    rename: Mapping[str, str] = field(default_factory=dict)
    location: Callable[[Any], str] | None = None
    description: str = ""
    media_type: str = "application/json"

    @property
    def name(self) -> str:
        return self.handler.__name__

    @property
    def path(self) -> str:
        """The OpenAPI path: /referrals/{reference}."""
        return PATH_ARGUMENT.sub(lambda match: "{" + match.group(2) + "}", self.rule)

    @property
    def path_parameters(self) -> list[tuple[str, str]]:
        """(name, converter) for each part of the path that names something."""
        return [(match.group(2), match.group(1) or "string") for match in PATH_ARGUMENT.finditer(self.rule)]

    def status_codes(self) -> list[int]:
        codes = {self.status, 401, 429, *self.errors}
        if self.path_parameters:
            codes.add(404)
        if self.query is not None:
            codes.update({400, 422})  # 400: a NUL character in the address, refused before any field is read
        if self.body is not None:
            codes.update({400, 413, 415, 422})
        if self.method == "POST":
            codes.update({400, 409, 422})  # a bad or reused Idempotency-Key, or one still in progress
        return sorted(codes)


class Registry:
    def __init__(self, blueprint: Blueprint) -> None:
        self.blueprint = blueprint
        self.endpoints: list[Endpoint] = []

    def route(self, method: str, rule: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(handler: Callable[..., Any]) -> Callable[..., Any]:
            endpoint = Endpoint(method=method, rule=rule, handler=handler, **options)
            self.endpoints.append(endpoint)
            view = _view_for(endpoint)
            view.__name__ = handler.__name__
            view.__doc__ = handler.__doc__
            self.blueprint.add_url_rule(rule, endpoint=handler.__name__, view_func=view, methods=[method])
            return handler

        return register


# --- reading the request --------------------------------------------------------------------------


# No body of this API nests deeper than 4 (a referral's person); checking before anything walks the
# body keeps a hostile one (thousands of [[[[…) from exhausting the stack.
MAX_DEPTH = 16
TOO_DEEP = f"The request body is nested too deeply: at most {MAX_DEPTH} levels of objects and lists"


def _depth(value: Any) -> int:
    """How deeply objects and lists nest in `value`, counted without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                return level
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _bad_strings(value: Any, path: tuple[Any, ...] = ()) -> Iterable[tuple[tuple[Any, ...], str]]:
    """Strings no database column can hold: with a NUL character, or half a surrogate pair."""
    if isinstance(value, str):
        if "\x00" in value:
            yield path, "Text must not contain the NUL character"
        else:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                yield path, "Text must be valid Unicode (this has half a surrogate pair)"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _bad_strings(key, path)
            yield from _bad_strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _bad_strings(item, (*path, index))


def _dotted(location: Iterable[Any]) -> str:
    return ".".join(str(part) for part in location) or "body"


MESSAGES = {
    "missing": "This field is required",
    "extra_forbidden": "This field is not allowed",
}


def validation_errors(error: ValidationError, prefix: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Every field pydantic found wrong, as {"person.crn": ["..."]}."""
    errors: dict[str, list[str]] = {}
    for problem in error.errors(include_url=False):
        location = tuple(part for part in problem["loc"] if part not in ("function-after",))
        message = MESSAGES.get(problem["type"], problem["msg"])
        errors.setdefault(_dotted((*prefix, *location)), []).append(message)
    return errors


def read_body(endpoint: Endpoint) -> BaseModel | None:
    model = endpoint.body
    if model is None:
        return None
    raw = request.get_data(cache=True)  # over the size limit: RequestEntityTooLarge, a 413
    if not raw.strip():
        if endpoint.body_required:
            raise ApiProblem("malformed-request", "Send a JSON object as the request body")
        return model.model_validate({})
    if request.mimetype not in JSON_TYPES and not request.mimetype.endswith("+json"):
        raise ApiProblem("unsupported-media-type", "Send the request body as JSON, with Content-Type: application/json")
    try:
        text = raw.decode("utf-8")
        data = json.loads(text, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise ApiProblem("malformed-request", "The request body is not UTF-8") from None
    except RecursionError:  # deeper than Python's parser goes: far past MAX_DEPTH
        raise ApiProblem("malformed-request", TOO_DEEP) from None
    except ValueError as error:
        position = f" (line {error.lineno}, column {error.colno})" if hasattr(error, "lineno") else ""
        raise ApiProblem("malformed-request", f"The request body is not valid JSON{position}") from None
    if _depth(data) > MAX_DEPTH:
        raise ApiProblem("malformed-request", TOO_DEEP)
    bad = {_dotted(path): [message] for path, message in _bad_strings(data)}
    if bad:
        raise ApiProblem("validation", errors=bad)
    if not isinstance(data, dict):
        raise ApiProblem("validation", errors={"body": ["Send a JSON object"]})
    try:
        return model.model_validate_json(text, strict=True)
    except ValidationError as error:
        raise ApiProblem("validation", errors=validation_errors(error)) from None


def read_query(endpoint: Endpoint) -> BaseModel | None:
    model = endpoint.query
    if model is None:
        return None
    values = {key: request.args.get(key) for key in request.args if key in model.model_fields}
    bad = {key: ["Text must not contain the NUL character"] for key, value in values.items() if "\x00" in value}
    if bad:
        raise ApiProblem("validation", errors=bad)
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise ApiProblem("validation", errors=validation_errors(error)) from None


# --- answering -------------------------------------------------------------------------------------


def json_response(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    body = payload.model_dump_json() if isinstance(payload, BaseModel) else json.dumps(payload)
    response = Response(body, status=status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def file_response(content: bytes, filename: str, media_type: str = "application/pdf") -> Response:
    """A document to download (declare the endpoint with response=None and its media_type)."""
    response = Response(content, status=200, mimetype=media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _view_for(endpoint: Endpoint) -> Callable[..., Response]:
    def respond(path_values: dict[str, Any]) -> Response:
        user = g.api_user
        try:
            arguments: dict[str, Any] = {}
            if endpoint.load is not None:
                arguments["record"] = endpoint.load(user, **path_values)
            else:
                arguments.update(path_values)
            if endpoint.query is not None:
                arguments["query"] = read_query(endpoint)
            if endpoint.body is not None:
                arguments["body"] = read_body(endpoint)
            result = endpoint.handler(user, **arguments)
            if isinstance(result, Response):
                return result
            headers = {"Location": endpoint.location(result)} if endpoint.location else {}
            return json_response(result, endpoint.status, headers)
        except (ApiProblem, DomainError, HTTPException) as error:
            db.session.rollback()
            return problem_for(error, endpoint.rename)
        except Exception as error:  # noqa: BLE001 - a 500 problem, logged with its traceback by problem_for
            db.session.rollback()
            return problem_for(error)

    def view(**path_values: Any) -> Response:
        if any(isinstance(value, str) and "\x00" in value for value in path_values.values()):
            return problem_for(ApiProblem("not-found"))  # no record is named so; a database would refuse it
        if endpoint.method == "POST":
            try:
                return idempotency.respond_once(g.api_user, lambda: respond(path_values))
            except ApiProblem as problem:
                db.session.rollback()
                return problem_for(problem)
        return respond(path_values)

    return view


@dataclass
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int
    # The cursor for the next page (`?after=`), None on the last.
    next: str | None = None


def paginate(statement: Select, query: Any) -> Page:
    """One page of `statement` (ordered, ending in its id) and the total: two queries, whatever the
    page size. `?after=` (the previous page's `next`) seeks past that row, so a deep page costs what
    the first does; `?page=N` still reads numbered pages. A page past the end is empty."""
    # Exact, as API.md publishes it; counted without reading the rows' columns, so PostgreSQL can
    # count a partner's referrals from an index alone.
    total, _ = keyset.bounded_count(statement, None)
    after = getattr(query, "after", None)
    try:
        if after:
            window = keyset.seek(statement, per_page=query.per_page, after=after)
        else:
            window = keyset.seek(statement, per_page=query.per_page, offset=(query.page - 1) * query.per_page)
    except keyset.BadCursor:
        raise ApiProblem(
            "validation", errors={"after": ["Give the `next` value of a page of this list, as it was sent"]}
        ) from None
    number = window.offset // query.per_page + 1 if after else query.page
    return Page(items=window.items, page=number, per_page=query.per_page, total=total, next=window.next_cursor)
