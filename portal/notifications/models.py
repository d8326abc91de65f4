"""The OutboundEmail record: a transactional outbox, so an email goes out only if
the change that caused it was committed, and every email sent can be traced."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import UtcDateTime, enum_type, utcnow
from portal.extensions import db


class EmailStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class OutboundEmail(db.Model):
    __tablename__ = "outbound_email"
    __table_args__ = (Index("ix_outbound_email_status", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    template: Mapped[str] = mapped_column(String(100))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    status: Mapped[EmailStatus] = mapped_column(enum_type(EmailStatus), default=EmailStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    record_type: Mapped[str | None] = mapped_column(String(40))
    record_id: Mapped[str | None] = mapped_column(String(64))


class DigestItem(db.Model):
    """A notification held for someone who reads a daily digest instead of an email each time:
    what happened and the link to where the work is; `sent_at` once a digest carried it."""

    __tablename__ = "digest_item"
    __table_args__ = (Index("ix_digest_item_pending", "user_id", "sent_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    event: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(300))
    url: Mapped[str] = mapped_column(String(500))
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
