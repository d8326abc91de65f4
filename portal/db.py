"""The declarative base, column types and mixins that every model shares."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Engine, Enum, Integer, MetaData, TypeDecorator, event
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

# Named constraints, so Alembic can alter and drop them on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


@event.listens_for(Engine, "connect")
def _sqlite_enforces_foreign_keys(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLite ignores foreign keys (and their ON DELETE) unless asked on every connection; with this
    the embedded database, and the default test run, refuse and cascade as PostgreSQL does."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


@event.listens_for(Engine, "connect")
def _postgresql_compiles_no_plans(dbapi_connection: Any, connection_record: Any) -> None:
    """PostgreSQL's JIT compiles any plan its estimate calls costly: measured at 200,000 referrals,
    an invoice page's query over one month's work ran in 170 ms and spent 380 ms more compiling
    (bench/README.md, invoice pages). A page's queries are short; compiling never pays back."""
    if type(dbapi_connection).__module__.startswith("psycopg"):
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET jit = off")
        # Committed, or the pool's rollback on the connection's first return would undo it.
        dbapi_connection.commit()


class Money(TypeDecorator):
    """Amounts of money in pence (and quantities in hundredths): 64-bit, because a 32-bit integer
    ends at £21.4 million, which a contract's value cap can pass. Always read back as int, even as
    an aggregate: PostgreSQL sums a BIGINT column as NUMERIC, which would arrive as a Decimal."""

    impl = BigInteger
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> int | None:
        return None if value is None else int(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator):
    """A moment in time, always timezone-aware UTC in Python.

    PostgreSQL keeps the offset; SQLite drops it, so we store UTC there and put the
    zone back on the way out. Naive datetimes are refused: they are always a bug.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC datetime is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow, nullable=False)


class VersionedMixin:
    """Optimistic locking: every UPDATE checks and bumps `version`.

    Forms and API bodies carry the version they were read at; a mismatch means
    someone else changed the record first (see portal.errors.StaleRecord).
    """

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    # False where some updates are bookkeeping that must not count as an edit: the
    # service then raises `version` itself (UPDATEs still check it).
    version_on_every_update = True

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805 - SQLAlchemy's convention
        if cls.version_on_every_update:
            return {"version_id_col": cls.version}
        return {"version_id_col": cls.version, "version_id_generator": False}


def enum_type(enum_cls: type) -> Enum:
    """Store an enum as its string value in a VARCHAR: readable in SQL and free of
    PostgreSQL ENUM types, which are awkward to migrate."""
    return Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )
