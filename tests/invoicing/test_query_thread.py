"""An invoice query is a conversation: the CRC queries, the partner replies, the CRC answers; both
sides are emailed, and the whole thread stays on the invoice after it is resubmitted and paid."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.errors import InvalidTransition
from portal.extensions import db
from portal.invoicing import service
from portal.notifications.models import OutboundEmail
from tests.helpers import STORY_DAY, text_of
from tests.invoicing.stories import submitted_september

pytestmark = pytest.mark.on_day(STORY_DAY)  # a worked example set in 2026


def emails_to(address: str) -> list[OutboundEmail]:
    return list(db.session.scalars(select(OutboundEmail).where(OutboundEmail.recipient == address)).all())


def test_the_partner_replies_to_a_query_and_the_crc_answers_and_the_thread_outlives_resubmission(
    portal, other_portal, work, nacro_manager, contract_manager
):
    invoice = submitted_september(work, nacro_manager)
    assert [email.template for email in emails_to(contract_manager.email)] == ["invoice_submitted"]
    service.query_invoice(contract_manager, invoice, reason="Is the session on 10 September a duplicate?")
    [queried] = [e for e in emails_to(nacro_manager.email) if e.template == "invoice_decided"]
    assert "queried" in queried.subject and f"/invoices/{invoice.id}" in queried.body_text

    portal.sign_in(nacro_manager)
    page = text_of(portal.get(f"/invoices/{invoice.id}"))
    assert "Is the session on 10 September a duplicate?" in page and "Reply to the CRC" in page
    empty = portal.post(f"/invoices/{invoice.id}/messages", {"body": "  "})
    assert empty.status_code == 200 and "Enter your message" in text_of(empty)
    sent = portal.post(f"/invoices/{invoice.id}/messages", {"body": "No: two sessions that day, see the notes."})
    assert sent.headers["Location"] == f"/invoices/{invoice.id}#query"
    [reply] = [e for e in emails_to(contract_manager.email) if e.template == "invoice_query_replied"]
    assert "No: two sessions that day" in reply.body_text

    other_portal.sign_in(contract_manager)
    other_portal.get(f"/invoices/{invoice.id}")
    other_portal.post(f"/invoices/{invoice.id}/messages", {"body": "Thanks. Please resubmit."})
    assert any(e.template == "invoice_query_answered" for e in emails_to(nacro_manager.email))

    db.session.refresh(invoice)
    service.submit_invoice(nacro_manager, invoice)
    service.approve_invoice(contract_manager, invoice)
    page = text_of(portal.get(f"/invoices/{invoice.id}"))
    for words in (
        "Is the session on 10 September a duplicate?",
        "No: two sessions that day",
        "Thanks. Please resubmit.",
    ):
        assert words in page
    assert "Reply to the CRC" not in page  # the query is closed once approved
    actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("invoice.query_%"))))
    assert actions == {"invoice.query_reply", "invoice.query_answer"}


def test_the_partner_cannot_reply_once_the_invoice_is_no_longer_queried(work, nacro_manager, contract_manager):
    invoice = submitted_september(work, nacro_manager)
    with pytest.raises(InvalidTransition):
        service.add_query_message(nacro_manager, invoice, "Hello")


def test_a_caseworker_reads_the_thread_but_cannot_write_in_it(
    portal, work, nacro_manager, contract_manager, nacro_caseworker
):
    invoice = submitted_september(work, nacro_manager)
    service.query_invoice(contract_manager, invoice, reason="Check the RAR day.")
    portal.sign_in(nacro_caseworker)
    page = text_of(portal.get(f"/invoices/{invoice.id}"))
    assert "Check the RAR day." in page and "Reply to the CRC" not in page
    assert portal.post(f"/invoices/{invoice.id}/messages", {"body": "x"}).status_code == 403


def test_each_invoice_event_emails_the_side_that_must_act(work, nacro_manager, contract_manager):
    invoice = submitted_september(work, nacro_manager)
    service.approve_invoice(contract_manager, invoice)
    service.mark_paid(contract_manager, invoice, paid_on=STORY_DAY, payment_reference="BACS 1")
    subjects = [email.subject for email in emails_to(nacro_manager.email)]
    assert any("approved" in subject for subject in subjects)
    assert any("marked as paid" in subject for subject in subjects)
    note = service.raise_credit_note(
        nacro_manager, invoice, event_ids=[service.creditable_events(invoice)[0].id], reason="Twice", rebill=False
    )
    [raised] = [e for e in emails_to(contract_manager.email) if e.template == "credit_note_raised"]
    assert note.number in raised.subject and "Please approve or reject it." in raised.body_text
    # Nobody is told of what they did themselves.
    assert not [e for e in emails_to(nacro_manager.email) if e.template in ("invoice_submitted", "credit_note_raised")]


def test_the_api_replies_and_reads_the_thread_by_the_same_rules(
    app, work, nacro_manager, contract_manager, nacro_caseworker
):
    from portal.accounts.tokens import create_token
    from tests.api.conftest import ApiClient

    clients = {}

    def api(user):
        if user.id not in clients:
            clients[user.id] = ApiClient(app.test_client(), create_token(None, user, name="Case system").secret)
        return clients[user.id]

    invoice = submitted_september(work, nacro_manager)
    early = api(nacro_manager).post(f"/invoices/{invoice.id}/messages", {"body": "Hello"})
    assert early.status_code == 409  # nothing to reply to yet
    service.query_invoice(contract_manager, invoice, reason="Which session is late?")
    assert api(nacro_manager).post(f"/invoices/{invoice.id}/messages", {"body": " "}).status_code == 422
    assert api(nacro_caseworker).post(f"/invoices/{invoice.id}/messages", {"body": "x"}).status_code == 403
    reply = api(nacro_manager).post(f"/invoices/{invoice.id}/messages", {"body": "The one on the 10th."})
    assert reply.status_code == 201 and reply.get_json()["kind"] == "reply"
    thread = api(contract_manager).get(f"/invoices/{invoice.id}/thread").get_json()["items"]
    assert [(item["kind"], item["body"]) for item in thread] == [
        ("query", "Which session is late?"),
        ("reply", "The one on the 10th."),
    ]
