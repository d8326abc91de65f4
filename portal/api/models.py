"""IdempotencyRecord: the first response to each Idempotency-Key, kept 24 hours."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import UtcDateTime, utcnow
from portal.extensions import db


class IdempotencyRecord(db.Model):
    """The first request made with an Idempotency-Key, and the response it got.

    A row without `status_code` is a request still being answered. Rows older than
    IDEMPOTENCY_HOURS are ignored and cleared away.
    """

    __tablename__ = "api_idempotency_key"
    __table_args__ = (
        UniqueConstraint("user_id", "key"),
        Index("ix_api_idempotency_key_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the method, path and body: the same key with another request is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    response_headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
