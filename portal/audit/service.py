"""Writing audit events. Call `record_event` inside the same transaction as the change it records."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

from flask import g, has_request_context, request

from portal.audit.models import AuditEvent
from portal.extensions import db


def jsonable(value: Any) -> Any:
    """Audit details are JSON: dates, money and enums become plain strings."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(item) for item in value]
    return value


def record_type_of(record: Any) -> str:
    return record.__tablename__.removesuffix("_account")


def record_event(
    action: str,
    *,
    actor: Any = None,
    record: Any = None,
    record_type: str | None = None,
    record_id: Any = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the current transaction.

    `actor` is the user acting (None for the system or an anonymous visitor);
    `record` the record acted on, or give `record_type` and `record_id` instead.
    """
    if record is not None:
        record_type = record_type or record_type_of(record)
        record_id = record_id if record_id is not None else record.id
    ip_address = request_id = None
    details = dict(details or {})
    if has_request_context():
        ip_address = request.remote_addr
        request_id = getattr(g, "request_id", None)
        # Which of the user's tokens did it, so a leaked token's work can be traced and undone.
        if getattr(g, "api_token_id", None) is not None:
            details.setdefault("api_token_id", g.api_token_id)
    event = AuditEvent(
        action=action,
        actor_id=getattr(actor, "id", None),
        actor_email=getattr(actor, "email", None),
        organisation_id=getattr(actor, "organisation_id", None),
        record_type=record_type,
        record_id=str(record_id) if record_id is not None else None,
        details=jsonable(details),
        ip_address=ip_address,
        request_id=request_id,
    )
    db.session.add(event)
    return event


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The fields that differ, as {"field": {"before": old, "after": new}}."""
    return {
        key: {"before": jsonable(before.get(key)), "after": jsonable(after.get(key))}
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }


def snapshot(record: Any, fields: list[str] | tuple[str, ...]) -> dict[str, Any]:
    return {field: getattr(record, field) for field in fields}


def record_read(
    actor: Any,
    action: str,
    *,
    record: Any = None,
    record_type: str | None = None,
    record_id: Any = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Who saw whose personal data, and when: a referral page, an evidence file, an export with
    CRNs. The portal is accountable for reads of special-category and criminal-offence data as for
    changes (UK GDPR article 5(2)), so each is an audit event of its own, committed at once."""
    record_event(
        action,
        actor=actor,
        record=record,
        record_type=record_type,
        record_id=record_id,
        details={"read": True, **(details or {})},
    )
    db.session.commit()
