"""Links: absolute ones for emails and the command line, and safe places to go back to."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app
from werkzeug.routing import IntegerConverter, Map


def absolute_url(endpoint: str, **values: object) -> str:
    """A link built on BASE_URL, never on the request's Host header (which an attacker
    controls, and would otherwise choose where emailed links point)."""
    base = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    return adapter.build(endpoint, values, force_external=True)


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path within the portal, else None: never redirect to another site
    ("//evil.example" and "https://…" are refused), whatever a form or link says."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


class DatabaseIdConverter(IntegerConverter):
    """`<int:…>` in every route: a number past a 32-bit id column's range (the largest the database
    can hold) matches no route, so `/invoices/99999999999999999999` is a 404 like any missing
    record, never an overflow inside the database driver."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = None) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=DATABASE_ID_MAX if max is None else max)


DATABASE_ID_MAX = 2**31 - 1


def as_id(value: object) -> int | None:
    """A record id typed into a query or form ("12"), or None if it could not be one: not plain
    ASCII digits ("²" passes str.isdigit but not int()), or past the id columns' range (which
    SQLite's driver cannot even bind)."""
    text = str(value if value is not None else "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if number <= DATABASE_ID_MAX else None
