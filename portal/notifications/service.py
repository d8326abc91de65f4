"""Queue and deliver emails.

`queue_email` renders a message from `templates/emails/<name>.txt` and `.html` and adds it
to the outbox in the caller's transaction; `deliver_queued` sends what is queued once that
transaction has committed. Backends: "smtp" (production), "file" (development: writes
each message to OUTBOX_DIR and prints it) and "memory" (tests: marks it sent).
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from typing import Any

import click
from flask import current_app, g, has_request_context, render_template
from flask_mail import Message
from sqlalchemy import select

from portal.db import utcnow
from portal.extensions import db, mail
from portal.notifications.models import EmailStatus, OutboundEmail

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


def render_email(template: str, **context: Any) -> tuple[str, str, str]:
    """(subject, text body, HTML body). The text template's first line is 'Subject: …'."""
    text = render_template(f"emails/{template}.txt", **context).lstrip()
    first_line, _, body = text.partition("\n")
    if not first_line.startswith("Subject:"):
        raise ValueError(f"emails/{template}.txt must start with a 'Subject:' line")
    subject = first_line.removeprefix("Subject:").strip()
    html = render_template(f"emails/{template}.html", subject=subject, **context)
    return subject, body.strip() + "\n", html


def queue_email(template: str, recipient: str, *, record: Any = None, **context: Any) -> OutboundEmail:
    subject, text, html = render_email(template, **context)
    email = OutboundEmail(
        template=template,
        recipient=recipient,
        subject=subject,
        body_text=text,
        body_html=html,
        record_type=record.__tablename__ if record is not None else None,
        record_id=str(record.id) if record is not None else None,
    )
    db.session.add(email)
    if has_request_context():
        g.emails_queued = True
    return email


def deliver_queued(limit: int = 100) -> int:
    """Send queued emails; returns how many were sent. Safe to run from several processes."""
    statement = (
        select(OutboundEmail)
        .where(OutboundEmail.status == EmailStatus.QUEUED)
        .order_by(OutboundEmail.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    sent = 0
    for email in db.session.scalars(statement).all():
        email.attempts += 1
        try:
            _deliver(email)
        except Exception as exc:  # noqa: BLE001 - any transport failure is recorded and retried
            log.warning("email %s not delivered: %s", email.id, type(exc).__name__)
            email.last_error = f"{type(exc).__name__}: {exc}"[:500]
            if email.attempts >= MAX_ATTEMPTS:
                email.status = EmailStatus.FAILED
        else:
            email.status = EmailStatus.SENT
            email.sent_at = utcnow()
            sent += 1
    db.session.commit()
    return sent


def _deliver(email: OutboundEmail) -> None:
    backend = current_app.config["MAIL_BACKEND"]
    if backend == "memory":
        return
    if backend == "file":
        _write_to_outbox_dir(email)
        return
    if backend == "smtp":
        mail.send(
            Message(
                subject=email.subject,
                recipients=[email.recipient],
                body=email.body_text,
                html=email.body_html,
            )
        )
        return
    raise ValueError(f"unknown MAIL_BACKEND {backend!r}")


def _write_to_outbox_dir(email: OutboundEmail) -> None:
    outbox = current_app.config["OUTBOX_DIR"]
    outbox.mkdir(parents=True, exist_ok=True)
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    message["To"] = email.recipient
    message["Subject"] = email.subject
    message.set_content(email.body_text)
    message.add_alternative(email.body_html, subtype="html")
    stamp = email.created_at.strftime("%Y%m%dT%H%M%S")
    path = outbox / f"{stamp}-{email.id:06d}-{email.template}.eml"
    path.write_bytes(bytes(message))
    click.echo(
        f"\n--- email to {email.recipient} (saved as {path}) ---\n"
        f"Subject: {email.subject}\n\n{email.body_text}--- end of email ---\n",
        err=True,
    )
