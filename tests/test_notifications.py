"""Email goes through one outbox: queued with the change, then delivered by the configured
backend; a failure is recorded and retried, never lost."""

from email import message_from_bytes

import pytest
from flask import current_app
from sqlalchemy import select

from portal.extensions import db
from portal.notifications import service
from portal.notifications.models import EmailStatus, OutboundEmail


@pytest.fixture
def invitation(nacro_manager):
    email = service.queue_email(
        "password_reset", "someone@nacro.example", user=nacro_manager, link="https://portal.example/reset/x", minutes=60
    )
    db.session.commit()
    return email


def test_in_development_each_email_is_written_to_the_outbox_folder(invitation, monkeypatch, tmp_path):
    monkeypatch.setitem(current_app.config, "MAIL_BACKEND", "file")
    monkeypatch.setitem(current_app.config, "OUTBOX_DIR", tmp_path / "outbox")
    assert service.deliver_queued() == 1
    [saved] = (tmp_path / "outbox").iterdir()
    message = message_from_bytes(saved.read_bytes())
    assert message["To"] == "someone@nacro.example"
    assert message["Subject"] == invitation.subject
    assert {part.get_content_type() for part in message.walk()} >= {"text/plain", "text/html"}
    assert db.session.get(OutboundEmail, invitation.id).status == EmailStatus.SENT


def test_a_failed_delivery_is_recorded_retried_and_given_up_after_the_last_attempt(invitation, monkeypatch):
    monkeypatch.setitem(current_app.config, "MAIL_BACKEND", "smtp")

    def refuse(message):
        raise ConnectionRefusedError("SMTP server down")

    monkeypatch.setattr(service.mail, "send", refuse)
    for _ in range(service.MAX_ATTEMPTS):
        assert service.deliver_queued() == 0
    email = db.session.scalars(select(OutboundEmail)).one()
    assert email.status == EmailStatus.FAILED and email.attempts == service.MAX_ATTEMPTS
    assert "SMTP server down" in email.last_error
