"""Queue and deliver emails.

`queue_email` renders a message from `templates/emails/<name>.txt` and `.html` and adds it
to the outbox in the caller's transaction, so an email exists only if the change it tells of was
committed. `deliver_soon` then hands the sending to a background job (the RQ worker, or a thread),
never to the request itself: a mail relay that is slow or never answers cannot hold a page, fail
it, or tempt a client into retrying a change already made. `deliver_queued` sends what is queued;
`flask outbox deliver` runs it too. Backends: "smtp" (production; every connection gives up after
MAIL_TIMEOUT_SECONDS), "file" (development: writes each message to OUTBOX_DIR and prints it) and
"memory" (tests: marks it sent).
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from typing import Any

import click
from flask import current_app, g, has_request_context, render_template
from sqlalchemy import select

from portal.db import utcnow
from portal.extensions import db
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


def deliver_soon() -> None:
    """After a request that queued email: send it in the background. If even starting the job fails
    (Redis down), the email stays queued for the next request or `flask outbox deliver`."""
    from portal.jobs import start_job

    try:
        start_job("outbox", "portal.notifications.service:deliver_queued_job")
    except Exception:
        log.exception("could not start delivering queued email; it stays in the outbox")


def deliver_queued_job() -> dict[str, int]:
    return {"sent": deliver_queued()}


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
        _send_by_smtp(email)
        return
    raise ValueError(f"unknown MAIL_BACKEND {backend!r}")


def _message(email: OutboundEmail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    message["To"] = email.recipient
    message["Subject"] = email.subject
    message.set_content(email.body_text)
    message.add_alternative(email.body_html, subtype="html")
    return message


def _send_by_smtp(email: OutboundEmail) -> None:
    """One message over SMTP, with a timeout on every step (Flask-Mail's connection had none, so a
    relay that accepted and never answered held the sender until gunicorn killed it)."""
    config = current_app.config
    timeout = config["MAIL_TIMEOUT_SECONDS"]
    if config["MAIL_USE_SSL"]:
        connection: smtplib.SMTP = smtplib.SMTP_SSL(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=timeout)
    else:
        connection = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=timeout)
    with connection:
        if config["MAIL_USE_TLS"]:
            connection.starttls()
        if config["MAIL_USERNAME"]:
            connection.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        connection.send_message(_message(email))


def _write_to_outbox_dir(email: OutboundEmail) -> None:
    outbox = current_app.config["OUTBOX_DIR"]
    outbox.mkdir(parents=True, exist_ok=True)
    message = _message(email)
    stamp = email.created_at.strftime("%Y%m%dT%H%M%S")
    path = outbox / f"{stamp}-{email.id:06d}-{email.template}.eml"
    path.write_bytes(bytes(message))
    click.echo(
        f"\n--- email to {email.recipient} (saved as {path}) ---\n"
        f"Subject: {email.subject}\n\n{email.body_text}--- end of email ---\n",
        err=True,
    )
