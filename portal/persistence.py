"""Committing a unit of work, turning a lost optimistic-locking race into StaleRecord."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from sqlalchemy import insert, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from portal.errors import StaleRecord
from portal.extensions import db

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")

LOST_RACE = (
    "Someone else changed this at the same moment, and their change came first. Check the latest details and try again."
)


def _stale(what: str) -> StaleRecord:
    return StaleRecord(
        f"This {what} was changed by someone else while you were working on it. Check the latest details and try again."
    )


def guards_versions(what: str) -> Callable[[F], F]:
    """For an operation that changes versioned rows: if another transaction changed one of
    them first (noticed at any flush, not only the commit), roll back and raise StaleRecord."""

    def decorator(operation: F) -> F:
        @wraps(operation)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return operation(*args, **kwargs)
            except StaleDataError:
                db.session.rollback()
                raise _stale(what) from None

        return wrapper  # type: ignore[return-value]

    return decorator


def commit(what: str = "record") -> None:
    """Commit, or roll back and raise StaleRecord if someone else changed a row we changed
    after we read it (its version moved on between our read and our write)."""
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise _stale(what) from None


def check_version(record: object, version: int | str | None, what: str = "record") -> None:
    """Refuse a change made from a form or request that read an older version of `record`."""
    if version is None or version == "":
        return
    try:
        expected = int(version)
    except (TypeError, ValueError):
        raise StaleRecord(f"This {what} was changed by someone else. Check the latest details and try again.") from None
    if expected != record.version:  # type: ignore[attr-defined]
        raise _stale(what)


def lock(record: R) -> R:
    """Take `record`'s row lock for the rest of the transaction (SELECT … FOR UPDATE on PostgreSQL)
    and read it afresh. Of requests racing to change one record (two accepts, two credit notes,
    two drafts for a contract), the second then waits for the first to commit and decides on what
    the first did, so it is refused with a clear 409 instead of both acting on a stale read. SQLite
    lets one writer at a time and ignores FOR UPDATE."""
    model = type(record)
    db.session.execute(
        select(model)
        .where(model.id == record.id)  # type: ignore[attr-defined]
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return record


def as_conflict(error: BaseException) -> StaleRecord | None:
    """A lost race that got past the services' own checks, as the 409 it is, never a 500: a row
    changed under us (StaleDataError) or a unique constraint taken a moment before. Other integrity
    errors (a missing value, a broken foreign key) are bugs, and stay 500s."""
    if isinstance(error, StaleDataError):
        return StaleRecord(LOST_RACE)
    if isinstance(error, IntegrityError) and _is_unique_violation(error):
        return StaleRecord(LOST_RACE)
    return None


def _is_unique_violation(error: IntegrityError) -> bool:
    # PostgreSQL's SQLSTATE 23505; SQLite says so in words.
    return getattr(error.orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(error.orig)


def insert_new_in_bulk(*models: type) -> None:
    """Save the session's new records of these models with one INSERT a model, not one a record.
    The ORM saves a new row on its own whenever it must read its id back and the database cannot
    say which id went to which row of a many-row INSERT (SQLite), or when its unset fields differ
    from the last one's, so a thousand audit events were a thousand statements. Only for records
    whose id nothing reads before the commit (audit events, timeline entries, queued emails): they
    leave the session saved but not loaded, and no ORM event runs for them."""
    pending = {model: [record for record in db.session.new if type(record) is model] for model in models}
    for records in pending.values():  # all out of the session first, so no autoflush saves them one by one
        for record in records:
            db.session.expunge(record)
    for model, records in pending.items():
        if records:
            db.session.execute(insert(model.__table__), column_values(model, records))  # type: ignore[attr-defined]


def column_values(model: type, records: list[Any]) -> list[dict[str, Any]]:
    """The column values of new, unsaved `records` for a many-row INSERT into the model's table,
    by column, each row with the same columns so that they go in one statement: what a record
    leaves unset is its column's default (None where it has none), as the ORM would have saved it."""
    columns = {attribute.key: attribute.columns[0] for attribute in inspect(model).column_attrs}
    rows = [{columns[key].key: value for key, value in record.__dict__.items() if key in columns} for record in records]
    for column in columns.values():
        if any(column.key in row for row in rows):
            for row in rows:
                if column.key not in row:
                    row[column.key] = _default_of(column)
    return rows


def _default_of(column: Any) -> Any:
    """What the database would store in `column` for a record that leaves it unset."""
    default = column.default
    if default is None:
        if column.server_default is not None:
            raise ValueError(f"{column} has a database default: leave it to the ORM")
        return None
    if default.is_scalar:
        return default.arg
    if default.is_callable:
        return default.arg(None)  # SQLAlchemy wraps a default taking no arguments to take the context
    raise ValueError(f"{column}'s default is SQL: leave it to the ORM")
