"""Email goes through one outbox: queued with the change, then delivered by the configured
backend; a failure is recorded and retried, never lost."""

import socket
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

    def refuse(email):
        raise ConnectionRefusedError("SMTP server down")

    monkeypatch.setattr(service, "_send_by_smtp", refuse)
    for _ in range(service.MAX_ATTEMPTS):
        assert service.deliver_queued() == 0
    email = db.session.scalars(select(OutboundEmail)).one()
    assert email.status == EmailStatus.FAILED and email.attempts == service.MAX_ATTEMPTS
    assert "SMTP server down" in email.last_error


def test_smtp_sends_the_message_through_the_configured_relay(invitation, monkeypatch):
    sent = []

    class Relay:
        def __init__(self, host, port, timeout):
            sent.append(("connect", host, port, timeout))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def starttls(self):
            sent.append(("starttls",))

        def login(self, username, password):
            sent.append(("login", username))

        def send_message(self, message):
            sent.append(("message", message["To"], message["Subject"]))

    monkeypatch.setattr(service.smtplib, "SMTP", Relay)
    for key, value in {"MAIL_BACKEND": "smtp", "MAIL_USE_TLS": True, "MAIL_USERNAME": "portal"}.items():
        monkeypatch.setitem(current_app.config, key, value)
    assert service.deliver_queued() == 1
    assert sent == [
        ("connect", "localhost", 25, 10),
        ("starttls",),
        ("login", "portal"),
        ("message", "someone@nacro.example", invitation.subject),
    ]


def test_a_relay_that_accepts_and_never_answers_times_out_and_the_email_stays_queued(invitation, monkeypatch):
    """The probe's mail relay held each request 60 seconds; now a send gives up after
    MAIL_TIMEOUT_SECONDS, in the background job, and the email is tried again later."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    try:
        for key, value in {
            "MAIL_BACKEND": "smtp",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": silent.getsockname()[1],
            "MAIL_TIMEOUT_SECONDS": 0.2,
        }.items():
            monkeypatch.setitem(current_app.config, key, value)
        assert service.deliver_queued() == 0
    finally:
        silent.close()
    email = db.session.scalars(select(OutboundEmail)).one()
    assert email.status == EmailStatus.QUEUED and email.attempts == 1
    assert "timed out" in email.last_error


def invite(portal, admin, nacro):
    portal.sign_in(admin)
    portal.get("/users/new")
    return portal.post(
        "/users/new",
        {"name": "New Starter", "email": "new.starter@nacro.example", "role": "provider_caseworker",
         "organisation_id": str(nacro.id)},
    )  # fmt: skip


def test_a_page_that_queues_email_leaves_the_sending_to_a_background_job(portal, admin, nacro, monkeypatch):
    started = []
    monkeypatch.setattr("portal.jobs.start_job", lambda kind, target, *args, **kw: started.append((kind, target)))
    response = invite(portal, admin, nacro)
    assert response.status_code == 302
    assert started == [("outbox", "portal.notifications.service:deliver_queued_job")]
    assert db.session.scalars(select(OutboundEmail.status)).all() == [EmailStatus.QUEUED]


def test_if_the_job_cannot_even_start_the_page_still_answers_and_the_email_waits(portal, admin, nacro, monkeypatch):
    def redis_down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr("portal.jobs.start_job", redis_down)
    assert invite(portal, admin, nacro).status_code == 302
    assert db.session.scalars(select(OutboundEmail.status)).all() == [EmailStatus.QUEUED]


def test_with_the_sync_backend_the_job_delivers_at_once(portal, admin, nacro):
    invite(portal, admin, nacro)
    assert db.session.scalars(select(OutboundEmail.status)).all() == [EmailStatus.SENT]
