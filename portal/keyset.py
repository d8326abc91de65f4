"""Keyset ("seek") pagination: a page is the rows after (or before) the last row the reader saw,
in the statement's own ORDER BY, so page 4,000 of the audit log costs what page 1 costs. OFFSET
would make the database read and throw away every row before the page.

A statement to page must be ordered by keys that end in a unique one (its id): the order is then
total, and a row is seen exactly once as the reader walks the pages, however many rows share a
sent date or a name. `seek` adds the primary entity's id when the ORDER BY lacks it. A sort key
that can be NULL must say where NULLs go (`.nulls_last()` / `.nulls_first()`), since PostgreSQL
and SQLite put them at opposite ends by default.

The cursor is the last row's key values (and its position, to say "Showing 51 to 100"), as
URL-safe base64 JSON: it is only ever used as bound parameters, so a forged one shows some other
page of what the reader may see, never anything more. A malformed one is `BadCursor`.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
from collections import namedtuple
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, false, func, literal_column, or_, select, tuple_
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression

from portal.extensions import db

# Past this many rows a list says "more than 10,000": counting two million audit events costs more
# than showing a page of them, and nobody pages through ten thousand rows (filters narrow it).
COUNT_LIMIT = 10_000


class BadCursor(ValueError):
    """The cursor was not one this module made."""


@dataclass(frozen=True)
class Key:
    expression: ColumnElement[Any]
    descending: bool
    # True: NULLs after every value; False: before; None: the column is never NULL.
    nulls_last: bool | None

    def reversed(self) -> Key:
        return Key(self.expression, not self.descending, None if self.nulls_last is None else not self.nulls_last)

    def ordering(self) -> ColumnElement[Any]:
        ordered = self.expression.desc() if self.descending else self.expression.asc()
        if self.nulls_last is None:
            return ordered
        return ordered.nulls_last() if self.nulls_last else ordered.nulls_first()

    def after(self, value: Any) -> ColumnElement[bool]:
        """Rows whose key comes strictly after `value` in this order."""
        if value is None:
            return false() if self.nulls_last in (True, None) else self.expression.is_not(None)
        beyond = self.expression < value if self.descending else self.expression > value
        return or_(beyond, self.expression.is_(None)) if self.nulls_last else beyond

    def equal(self, value: Any) -> ColumnElement[bool]:
        return self.expression.is_(None) if value is None else self.expression == value


def keys_of(statement: Select) -> list[Key]:
    """The statement's ORDER BY as keys, with the primary entity's id added when it is missing."""
    keys = []
    for clause in statement._order_by_clauses:
        descending, nulls_last, element = False, None, clause
        while isinstance(element, UnaryExpression) and element.modifier is not None:
            if element.modifier is operators.desc_op:
                descending = True
            elif element.modifier is operators.nulls_last_op:
                nulls_last = True
            elif element.modifier is operators.nulls_first_op:
                nulls_last = False
            elif element.modifier is not operators.asc_op:
                break
            element = element.element
        keys.append(Key(element, descending, nulls_last))
    entity = statement.column_descriptions[0].get("entity")
    identity = getattr(entity, "id", None) if entity is not None else None
    if identity is not None and not any(key.expression.compare(identity.expression) for key in keys):
        keys.append(Key(identity.expression, keys[-1].descending if keys else False, None))
    if not keys:
        raise ValueError("A keyset page needs an ordered statement")
    return keys


def seek_clause(keys: list[Key], values: list[Any]) -> ColumnElement[bool]:
    """Rows after `values` in the order of `keys`. Where every key runs one way and none is NULL
    this is a row comparison, (sent_at, id) < (:sent_at, :id), which PostgreSQL answers by starting
    an index scan at the cursor; otherwise the same as ORs, led by a range on the first key when
    it can be one (so the scan still starts near the cursor)."""
    directions = {key.descending for key in keys}
    if len(directions) == 1 and all(key.nulls_last is None for key in keys) and None not in values:
        row, at = tuple_(*(key.expression for key in keys)), tuple_(*values)
        return row < at if keys[0].descending else row > at
    alternatives = []
    for index, key in enumerate(keys):
        same = [earlier.equal(value) for earlier, value in zip(keys[:index], values, strict=False)]
        alternatives.append(and_(*same, key.after(values[index])))
    clause = or_(*alternatives)
    first, value = keys[0], values[0]
    if value is not None and first.nulls_last is None:
        clause = and_(first.expression <= value if first.descending else first.expression >= value, clause)
    return clause


# --- cursors --------------------------------------------------------------------------------------


def _encode_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, enum.Enum):
        return {"e": value.name}
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, time):
        return {"h": value.isoformat()}
    if isinstance(value, Decimal):
        return {"n": str(value)}
    if isinstance(value, float):
        return {"f": repr(value)}
    raise TypeError(f"A keyset cursor cannot hold {type(value).__name__}")


def _decode_value(raw: Any, key: Key) -> Any:
    if raw is None or isinstance(raw, bool | int | str):
        return raw
    if not isinstance(raw, dict) or len(raw) != 1:
        raise BadCursor("not a cursor")
    ((kind, text),) = raw.items()
    if not isinstance(text, str):
        raise BadCursor("not a cursor")
    try:
        if kind == "e":
            enum_class = getattr(key.expression.type, "enum_class", None)
            if enum_class is None:
                raise BadCursor("not a cursor")
            return enum_class[text]
        parse = {
            "t": datetime.fromisoformat,
            "d": date.fromisoformat,
            "h": time.fromisoformat,
            "n": Decimal,
            "f": float,
        }[kind]
        return parse(text)
    except (KeyError, ValueError, ArithmeticError):
        raise BadCursor("not a cursor") from None


def encode_cursor(values: list[Any], position: int) -> str:
    payload = json.dumps({"k": [_encode_value(value) for value in values], "p": position}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(token: str, keys: list[Key]) -> tuple[list[Any], int]:
    """(key values, position) of a cursor, or BadCursor."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor("not a cursor") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("k"), list):
        raise BadCursor("not a cursor")
    raw, position = payload["k"], payload.get("p", 0)
    if len(raw) != len(keys) or not isinstance(position, int) or isinstance(position, bool) or position < 0:
        raise BadCursor("not a cursor")
    return [_decode_value(value, key) for value, key in zip(raw, keys, strict=True)], position


# --- a page ---------------------------------------------------------------------------------------


@dataclass
class Window:
    """One page of rows: `items`, where they start (`offset`, for "Showing 51 to 100"), and the
    cursors for the pages either side (None at either end)."""

    items: list[Any]
    offset: int
    next_cursor: str | None
    previous_cursor: str | None


def seek(
    statement: Select, *, per_page: int, after: str | None = None, before: str | None = None, offset: int = 0
) -> Window:
    """The page of `statement`'s rows after the cursor `after` (or before `before`; neither: the
    first page, or the rows from `offset` for the API's numbered pages), in one query: per_page + 1
    rows, the extra one saying whether there is more."""
    keys = keys_of(statement)
    width = len(statement.column_descriptions)
    backwards = before is not None and after is None
    token = before if backwards else after
    values, position = decode_cursor(token, keys) if token else (None, 0)
    order = [key.reversed() if backwards else key for key in keys]
    query = statement.order_by(None).order_by(*(key.ordering() for key in order))
    if values is not None:
        query = query.where(seek_clause(order, values))
    elif offset:
        query, position = query.offset(offset), offset
    labelled = [key.expression.label(f"_seek_{index}") for index, key in enumerate(keys)]
    if statement.get_execution_options().get("seek_ids_first"):
        query = _ids_first(statement, query, per_page + 1, order)
    result = db.session.execute(query.add_columns(*labelled).limit(per_page + 1)).unique()
    # A row of several columns is given as a named tuple of the statement's own columns (by name or
    # unpacked, as the statement's rows would be), without the keys added here.
    shaped = namedtuple("Row", list(result.keys())[:width], rename=True) if width > 1 else None
    rows = list(result)
    more = len(rows) > per_page
    rows = rows[:per_page]
    if backwards:
        if not more:  # fewer than a page before the cursor: this is the first page, shown whole
            return seek(statement, per_page=per_page)
        rows.reverse()
        offset = max(0, position - len(rows))
    else:
        offset = position
    items = [row[0] if shaped is None else shaped(*row[:width]) for row in rows]

    def cursor(row: Any, at: int) -> str:
        return encode_cursor(list(row[width:]), at)

    has_next = True if backwards else more
    has_previous = more if backwards else values is not None or position > 0
    next_cursor = cursor(rows[-1], offset + len(rows)) if rows and has_next else None
    previous_cursor = cursor(rows[0], offset) if rows and has_previous else None
    return Window(items, offset, next_cursor, previous_cursor)


def _ids_first(statement: Select, query: Select, limit: int, order: list[Key]) -> Select:
    """The page's rows read by their ids, the ids chosen first by a query of the id and the sort
    keys alone. The database can choose them from an index that carries every column the filters
    test (an index-only scan), and reads only the page's rows from the table, rather than reading
    each row it tests from the table until it has a page. For a statement whose filters and order
    are on its own entity's columns, with no joins (`.execution_options(seek_ids_first=True)`)."""
    entity = statement.column_descriptions[0]["entity"]
    ids = query.with_only_columns(entity.id, maintain_column_froms=True).options().limit(limit).subquery()
    # Joined to (not `IN`): the database then knows it has at most `limit` rows to read by their ids.
    return (
        select(entity)
        .options(*statement._with_options)
        .join(ids, ids.c.id == entity.id)
        .order_by(*(key.ordering() for key in order))
    )


def bounded_count(statement: Select, limit: int | None = COUNT_LIMIT) -> tuple[int, bool]:
    """How many rows `statement` has, counting at most `limit` + 1: (count, whether there are more)."""
    counted = statement.order_by(None)
    if not counted._distinct and not counted._group_by_clauses:
        # Only the rows are counted, not their columns: so PostgreSQL can count from an index alone
        # rather than read each row from the table (the ORM's eager loads go too).
        counted = counted.with_only_columns(literal_column("1"), maintain_column_froms=True).options()
    if limit is not None:
        counted = counted.limit(limit + 1)
    total = db.session.scalar(select(func.count()).select_from(counted.subquery())) or 0
    if limit is not None and total > limit:
        return limit, True
    return total, False
