"""Remittance details (issue 18): a partner manager keeps the bank account, remittance email and
purchase order numbers; a change of bank account takes effect only once a contract manager confirms
it (audited, the partner's managers emailed); the invoice PDF prints them; another partner sees none."""

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.errors import InvalidTransition, NotAllowed, NotFound, ValidationFailed
from portal.extensions import db
from portal.invoicing.documents import invoice_pdf
from portal.notifications.models import OutboundEmail
from portal.remittance import service
from portal.remittance.models import ChangeStatus
from tests.helpers import STORY_DAY, text_of
from tests.invoicing.stories import submitted_september

pytestmark = pytest.mark.on_day(STORY_DAY)


def ask(manager, organisation, **account):
    values = {"account_name": "Nacro", "sort_code": "30-94-30", "account_number": "0073 3445"} | account
    return service.request_bank_change(manager, organisation, **values)


def test_a_bank_account_change_takes_effect_only_once_a_contract_manager_confirms_it(
    nacro, nacro_manager, contract_manager
):
    change = ask(nacro_manager, nacro)
    assert (change.sort_code, change.account_number, change.status) == ("309430", "00733445", ChangeStatus.PENDING)
    assert service.details_of(nacro.id) is None  # nothing to pay into yet
    with pytest.raises(NotAllowed):
        service.confirm_bank_change(nacro_manager, nacro)  # a partner never confirms its own change
    service.confirm_bank_change(contract_manager, nacro, change_id=change.id)
    details = service.details_of(nacro.id)
    assert (details.sort_code, details.account_number, details.account_name) == ("309430", "00733445", "Nacro")
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("remittance.%")).order_by(AuditEvent.id)
    ).all()
    assert actions == ["remittance.bank_change_requested", "remittance.bank_change_confirmed"]
    [email] = db.session.scalars(select(OutboundEmail).where(OutboundEmail.template == "bank_details_confirmed")).all()
    assert email.recipient == nacro_manager.email and "ending 3445" in email.body_text
    with pytest.raises(InvalidTransition):
        service.confirm_bank_change(contract_manager, nacro)  # nothing is pending now


def test_a_new_request_replaces_the_pending_one_and_a_stale_confirmation_is_refused(
    nacro, nacro_manager, contract_manager
):
    first = ask(nacro_manager, nacro)
    second = ask(nacro_manager, nacro, account_number="12345678")
    assert db.session.get(type(first), first.id).status == ChangeStatus.WITHDRAWN
    from portal.errors import StaleRecord

    with pytest.raises(StaleRecord):
        service.confirm_bank_change(contract_manager, nacro, change_id=first.id)
    service.reject_bank_change(contract_manager, nacro, reason="Not confirmed by telephone", change_id=second.id)
    assert service.details_of(nacro.id) is None
    [email] = db.session.scalars(select(OutboundEmail).where(OutboundEmail.template == "bank_details_rejected")).all()
    assert "Not confirmed by telephone" in email.body_text


def test_bank_details_are_validated_field_by_field(nacro, nacro_manager):
    with pytest.raises(ValidationFailed) as refused:
        ask(nacro_manager, nacro, account_name="", sort_code="12-34", account_number="12AB")
    assert set(refused.value.errors) == {"account_name", "sort_code", "account_number"}
    with pytest.raises(ValidationFailed) as refused:
        ask(nacro_manager, nacro, account_number="1234567")
    assert "add zeros at the start" in refused.value.errors["account_number"][0]


def test_another_partner_and_caseworkers_cannot_reach_them(nacro, nacro_manager, st_giles_manager, nacro_caseworker):
    with pytest.raises(NotFound):
        ask(st_giles_manager, nacro)
    with pytest.raises(NotAllowed):
        ask(nacro_caseworker, nacro)


def test_the_pages_show_the_pending_change_to_both_sides(
    portal, nacro, nacro_manager, contract_manager, st_giles_manager
):
    portal.sign_in(nacro_manager)
    portal.get(f"/remittance/{nacro.id}/bank-account")
    refused = portal.post(f"/remittance/{nacro.id}/bank-account", {"account_name": "Nacro", "sort_code": "1"})
    page = refused.get_data(as_text=True)
    assert 'href="#sort_code"' in page and 'href="#account_number"' in page
    sent = portal.post(
        f"/remittance/{nacro.id}/bank-account",
        {"account_name": "Nacro", "sort_code": "309430", "account_number": "00733445"},
    )
    assert "A change awaits the CRC's confirmation" in text_of(portal.get(sent.headers["Location"]))
    portal.sign_out()
    portal.sign_in(st_giles_manager)
    assert portal.get(f"/remittance/{nacro.id}").status_code == 404
    portal.sign_out()
    portal.sign_in(contract_manager)
    home = portal.get("/")
    assert "1 change of bank account to confirm before the next payment" in text_of(home)
    assert 'href="/remittance/"' in home.get_data(as_text=True)
    assert "Nacro" in text_of(portal.get("/remittance/"))
    page = portal.get(f"/remittance/{nacro.id}")
    assert "Confirm the new bank details" in text_of(page)
    change = service.pending_change(nacro.id)
    confirmed = portal.post(f"/remittance/{nacro.id}/bank-account/confirm", {"change_id": str(change.id)})
    assert "are confirmed" in text_of(portal.get(confirmed.headers["Location"]))
    assert service.details_of(nacro.id).account_number == "00733445"
    assert "No changes of bank account to confirm before the next payment" in text_of(portal.get("/"))


def test_the_remittance_email_and_purchase_orders_print_on_the_invoice_as_they_were_when_issued(
    app, portal, work, nacro, nacro_manager, contract_manager, priced
):
    portal.sign_in(nacro_manager)
    portal.get(f"/remittance/{nacro.id}/details")
    bad = portal.post(f"/remittance/{nacro.id}/details", {"remittance_email": "not an email"})
    assert 'href="#remittance_email"' in bad.get_data(as_text=True)
    saved = portal.post(
        f"/remittance/{nacro.id}/details",
        {"remittance_email": "finance@nacro.example", f"po_{priced.id}": "PO-778812"},
    )
    assert saved.status_code == 302
    service.confirm_bank_change(contract_manager, nacro, change_id=ask(nacro_manager, nacro).id)
    invoice = submitted_september(work, nacro_manager)
    import io

    from pypdf import PdfReader

    def printed() -> str:
        return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(invoice_pdf(invoice))).pages)

    for shown in ("PO-778812", "finance@nacro.example", "30-94-30", "00733445"):
        assert shown in printed()
    # A later change of bank account is for later invoices: this one says what it was issued with.
    later = ask(nacro_manager, nacro, sort_code="20-00-00", account_number="55779911")
    service.confirm_bank_change(contract_manager, nacro, change_id=later.id)
    assert "00733445" in printed() and "55779911" not in printed()
