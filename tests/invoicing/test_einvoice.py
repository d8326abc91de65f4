"""Every submitted invoice and credit note downloads as a UBL 2.1 document following PEPPOL BIS
Billing 3.0 (EN 16931): the business rules that can be checked offline hold (required elements,
code lists, line amounts, sums and the VAT breakdown); another partner's is not found.

The official Schematron is run in test_einvoice_schematron.py. Not checked anywhere: the UBL 2.1 XML
schema (no package on the indexes we install from carries the OASIS XSDs, and they are not vendored)."""

import xml.etree.ElementTree as ET

import pytest

from portal.extensions import db
from portal.invoicing import einvoice, service
from portal.remittance import service as remittance
from tests.api import conftest as api_fixtures
from tests.helpers import STORY_DAY
from tests.invoicing.stories import september_of, submitted_september

pytestmark = pytest.mark.on_day(STORY_DAY)
api_as = api_fixtures.api_as
C = {"cbc": einvoice.NS["cbc"], "cac": einvoice.NS["cac"]}


@pytest.fixture(autouse=True)
def addressed(crc, nacro):
    """The CRC and Nacro are VAT registered: their VAT numbers are their PEPPOL endpoints."""
    crc.vat_number, nacro.vat_number = "GB987654321", "GB123456789"
    db.session.commit()


def parse(xml: bytes) -> ET.Element:
    return ET.fromstring(xml)  # noqa: S314 - the portal's own document


def test_an_invoice_is_a_bis_billing_3_invoice_whose_figures_add_up(
    work, nacro, nacro_manager, contract_manager, priced
):
    nacro.vat_number = "GB 123 4567 89"
    db.session.commit()
    change = remittance.request_bank_change(
        nacro_manager, nacro, account_name="Nacro", sort_code="309430", account_number="00733445"
    )
    remittance.confirm_bank_change(contract_manager, nacro, change_id=change.id)
    remittance.update_remittance(
        nacro_manager, nacro, remittance_email="finance@nacro.example", purchase_orders_by_contract={priced.id: "PO-1"}
    )
    invoice = submitted_september(work, nacro_manager)  # £817.50 + VAT at 20% £163.50 = £981.00
    xml = einvoice.document(invoice)
    assert einvoice.check(xml) == []
    root = parse(xml)
    assert root.tag == f"{{{einvoice.NS['invoice']}}}Invoice"
    assert root.findtext("cbc:CustomizationID", namespaces=C) == einvoice.CUSTOMIZATION_ID
    assert root.findtext("cbc:ID", namespaces=C) == "NACRO-000001"
    assert root.findtext("cbc:InvoiceTypeCode", namespaces=C) == "380"
    assert root.findtext("cbc:DueDate", namespaces=C) == "2027-01-06"
    assert root.findtext("cbc:BuyerReference", namespaces=C) == "PO-1"
    assert root.findtext("cac:LegalMonetaryTotal/cbc:PayableAmount", namespaces=C) == "981.00"
    assert root.findtext("cac:TaxTotal/cbc:TaxAmount", namespaces=C) == "163.50"
    assert root.findtext("cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:ID", namespaces=C) == "S"
    supplier = root.find("cac:AccountingSupplierParty/cac:Party", C)
    assert supplier.find("cbc:EndpointID", C).attrib == {"schemeID": "9932"}
    assert supplier.findtext("cbc:EndpointID", namespaces=C) == "123456789"
    account = root.find("cac:PaymentMeans/cac:PayeeFinancialAccount", C)
    assert account.findtext("cbc:ID", namespaces=C) == "00733445"
    assert account.findtext("cac:FinancialInstitutionBranch/cbc:ID", namespaces=C) == "309430"
    units = {line.find("cbc:InvoicedQuantity", C).get("unitCode") for line in root.findall("cac:InvoiceLine", C)}
    assert units == {"HUR", "C62"}


def test_a_credit_note_is_a_ubl_credit_note_naming_the_invoice_it_corrects(
    work, nacro_manager, contract_manager, priced
):
    invoice = submitted_september(work, nacro_manager)
    note = service.raise_credit_note(
        nacro_manager, invoice, event_ids=[service.creditable_events(invoice)[0].id], reason="Twice", rebill=False
    )
    xml = einvoice.document(note)
    assert einvoice.check(xml) == []
    root = parse(xml)
    assert root.tag == f"{{{einvoice.NS['creditnote']}}}CreditNote"
    assert root.findtext("cbc:CreditNoteTypeCode", namespaces=C) == "381"
    assert root.findtext("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", namespaces=C) == invoice.number
    payable = root.findtext("cac:LegalMonetaryTotal/cbc:PayableAmount", namespaces=C)
    assert not payable.startswith("-") and payable == f"{-note.total_pence / 100:.2f}"


@pytest.mark.parametrize(("vat_number", "category"), [(None, "O"), ("GB123456789", "E")])
def test_a_charity_charging_no_vat_says_why(work, nacro, nacro_manager, priced, vat_number, category):
    priced.vat_rate_bp = 0
    nacro.vat_number = vat_number
    nacro.peppol_id = None if vat_number else "0088:5060123456783"  # reached at its GLN
    db.session.commit()
    september_of(work)
    invoice = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    xml = einvoice.document(invoice)
    assert einvoice.check(xml) == []
    subtotal = parse(xml).find("cac:TaxTotal/cac:TaxSubtotal", C)
    assert subtotal.findtext("cac:TaxCategory/cbc:ID", namespaces=C) == category
    assert subtotal.findtext("cac:TaxCategory/cbc:TaxExemptionReason", namespaces=C)


def test_the_checks_catch_a_document_whose_figures_do_not_add_up(work, nacro_manager, priced):
    xml = einvoice.document(submitted_september(work, nacro_manager))
    broken = xml.replace(b'<cbc:PayableAmount currencyID="GBP">981.00', b'<cbc:PayableAmount currencyID="GBP">980.00')
    assert broken != xml
    assert any(error.startswith("BR-CO-16") for error in einvoice.check(broken))


def test_the_download_is_for_those_who_may_see_the_invoice(
    portal, work, nacro_manager, contract_manager, st_giles_manager, priced, api_as
):
    invoice = submitted_september(work, nacro_manager)
    draft = service.generate_draft(nacro_manager, priced, "2026-10")
    for user in (nacro_manager, contract_manager):
        portal.sign_in(user)
        response = portal.get(f"/invoices/{invoice.id}.xml")
        assert response.status_code == 200 and response.mimetype == "application/xml"
        assert response.headers["Content-Disposition"] == 'attachment; filename="NACRO-000001.xml"'
        portal.sign_out()
    portal.sign_in(nacro_manager)
    assert portal.get(f"/invoices/{draft.id}.xml").status_code == 302  # a draft is not an invoice yet: said on the page
    portal.sign_out()
    portal.sign_in(st_giles_manager)
    assert portal.get(f"/invoices/{invoice.id}.xml").status_code == 404
    assert api_as(st_giles_manager).get(f"/invoices/{invoice.id}.xml").status_code == 404
    api = api_as(contract_manager)
    assert api.get(f"/invoices/{invoice.id}.xml").status_code == 200
    assert api.get(f"/invoices/{draft.id}.xml").status_code == 409
