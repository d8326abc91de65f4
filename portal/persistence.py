"""Committing a unit of work, turning a lost optimistic-locking race into StaleRecord."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from sqlalchemy.orm.exc import StaleDataError

from portal.errors import StaleRecord
from portal.extensions import db

F = TypeVar("F", bound=Callable[..., Any])


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
