"""Invoices and credit notes as UBL 2.1 documents following PEPPOL BIS Billing 3.0 (the EN 16931
semantic model), for a buyer's accounts payable system to read without keying.

Built from the same stored records as the PDF (lines, totals, the remittance details confirmed at
the time it is downloaded). What it says, element by element, follows the BIS 3.0 specification
(https://docs.peppol.eu/poacc/billing/3.0/); `check` applies a quick subset of the business rules
(EN 16931 BR-xx and BR-CO-xx sums, BR-CL code lists, PEPPOL-EN16931-R003 and -R120), and the tests
validate every kind of document against the OASIS UBL 2.1 XML schema and run it through the
official PEPPOL and CEN Schematron as well (tests/invoicing/test_einvoice_xsd.py and
test_einvoice_schematron.py). Each party is addressed at its PEPPOL endpoint
(`portal.peppol`: its participant ID, else its UK VAT number); a party with neither has no
e-invoice, and the download says what to record. Not done here: delivery over the PEPPOL network,
which needs the parties registered with an access point.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from portal.contracts.models import Contract
from portal.dates import london_day, month_end
from portal.errors import InvalidTransition
from portal.extensions import db
from portal.formatting import format_date
from portal.invoicing.models import Invoice, InvoiceLine, InvoiceStatus
from portal.organisations.models import Organisation
from portal.peppol import EAS_CODES, Endpoint, endpoint_of, vat_digits

CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
NS = {
    "invoice": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "creditnote": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
CURRENCY = "GBP"
INVOICE_TYPE, CREDIT_NOTE_TYPE = "380", "381"  # UNCL 1001: commercial invoice, credit note
CREDIT_TRANSFER = "30"  # UNCL 4461
# UN/ECE Recommendation 20 units: an hour; a month; one (a referral, session, RAR day, outcome).
UNIT_CODES = {"per_hour": "HUR", "monthly_fixed": "MON"}
ONE = "C62"

for _prefix, _uri in (("cac", NS["cac"]), ("cbc", NS["cbc"])):
    ET.register_namespace(_prefix, _uri)


def filename(invoice: Invoice) -> str:
    return f"{invoice.number}.xml"


def download(xml: bytes, name: str) -> Any:
    """A page's e-invoice download (the API answers with its own `file_response`)."""
    from flask import Response

    response = Response(xml, mimetype="application/xml")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _pounds(pence: int) -> str:
    return f"{Decimal(abs(pence)) / 100:.2f}"


def _percent(vat_rate_bp: int) -> str:
    return f"{Decimal(vat_rate_bp) / 100:.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class _Tax:
    category: str  # UNCL 5305: S standard, E exempt, O outside the scope of VAT
    percent: str | None
    exemption_reason: str | None


def _tax(invoice: Invoice, supplier: Organisation) -> _Tax:
    if invoice.vat_rate_bp > 0:
        return _Tax("S", _percent(invoice.vat_rate_bp), None)
    if supplier.vat_number:
        return _Tax("E", "0", "Exempt from VAT")
    return _Tax("O", None, "Not subject to VAT")


class _Builder:
    def __init__(self, root: ET.Element) -> None:
        self.root = root

    @staticmethod
    def cbc(parent: ET.Element, tag: str, text: Any, /, **attributes: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{NS['cbc']}}}{tag}", attributes)
        element.text = str(text)
        return element

    @staticmethod
    def cac(parent: ET.Element, name: str) -> ET.Element:
        return ET.SubElement(parent, f"{{{NS['cac']}}}{name}")

    def money(self, parent: ET.Element, name: str, pence: int) -> ET.Element:
        return self.cbc(parent, name, _pounds(pence), currencyID=CURRENCY)


def _endpoint(organisation: Organisation) -> Endpoint:
    endpoint = endpoint_of(organisation)
    if endpoint is None:
        raise InvalidTransition(
            f"{organisation.name} has no VAT number or PEPPOL participant ID, so an e-invoice has nowhere to "
            "go: record one in the organisation's details (the PDF is unaffected)"
        )
    return endpoint


def _party(b: _Builder, parent: ET.Element, organisation: Organisation, *, tax: _Tax) -> None:
    party = b.cac(parent, "Party")
    endpoint = _endpoint(organisation)
    b.cbc(party, "EndpointID", endpoint.identifier, schemeID=endpoint.scheme)
    name = b.cac(party, "PartyName")
    b.cbc(name, "Name", organisation.name)
    address = b.cac(party, "PostalAddress")
    if organisation.address_line_1:
        b.cbc(address, "StreetName", organisation.address_line_1)
    if organisation.address_line_2:
        b.cbc(address, "AdditionalStreetName", organisation.address_line_2)
    if organisation.town:
        b.cbc(address, "CityName", organisation.town)
    if organisation.postcode:
        b.cbc(address, "PostalZone", organisation.postcode)
    country = b.cac(address, "Country")
    b.cbc(country, "IdentificationCode", "GB")
    # BR-O-02: work outside the scope of VAT names no VAT identifier, the buyer's included.
    if organisation.vat_number and tax.category != "O":
        scheme = b.cac(party, "PartyTaxScheme")
        b.cbc(scheme, "CompanyID", "GB" + vat_digits(organisation.vat_number))
        b.cbc(b.cac(scheme, "TaxScheme"), "ID", "VAT")
    legal = b.cac(party, "PartyLegalEntity")
    b.cbc(legal, "RegistrationName", organisation.name)
    if organisation.company_number or organisation.charity_number:
        b.cbc(legal, "CompanyID", organisation.company_number or organisation.charity_number)
    if organisation.contact_name or organisation.contact_email:
        contact = b.cac(party, "Contact")
        if organisation.contact_name:
            b.cbc(contact, "Name", organisation.contact_name)
        if organisation.contact_email:
            b.cbc(contact, "ElectronicMail", organisation.contact_email)


@dataclass(frozen=True)
class _Line:
    position: int
    quantity: str
    unit_code: str
    amount_pence: int
    price_pence: int
    name: str
    description: str


@dataclass(frozen=True)
class _Document:
    """What a UBL document says, whichever record it comes from (an invoice, a credit note, a grant payment)."""

    number: str
    issued: date
    due: date | None
    note: str | None
    credit_note: bool
    credited: Invoice | None
    period_start: date
    period_end: date
    contract: Contract
    supplier: Organisation
    buyer: Organisation
    remittance: Any
    tax: _Tax
    subtotal_pence: int
    vat_pence: int
    total_pence: int
    lines: list[_Line]


def document(invoice: Invoice) -> bytes:
    """The invoice (UBL Invoice) or credit note (UBL CreditNote) as UTF-8 XML. A draft is not an
    invoice yet, and has none."""
    if invoice.status == InvoiceStatus.DRAFT or not invoice.number:
        raise InvalidTransition("A draft is not an invoice yet: its e-invoice is made once it is submitted")
    from portal.remittance.service import remittance_of

    contract = db.session.get(Contract, invoice.contract_id)
    supplier = db.session.get(Organisation, contract.partner_id)
    lines = db.session.scalars(
        select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).order_by(InvoiceLine.position)
    )
    note = invoice.is_credit_note
    if note:
        text = invoice.credit_reason
    else:
        text = f"Invoiced before the month ended: {invoice.early_reason}" if invoice.early_reason else None
    return _render(
        _Document(
            number=invoice.number,
            issued=invoice.received_on or london_day(invoice.submitted_at) or invoice.period_start,
            due=None if note else invoice.due_date,
            note=text,
            credit_note=note,
            credited=db.session.get(Invoice, invoice.credited_invoice_id) if invoice.credited_invoice_id else None,
            period_start=invoice.period_start,
            period_end=month_end(invoice.period_start),
            contract=contract,
            supplier=supplier,
            buyer=db.session.get(Organisation, contract.crc_id),
            remittance=remittance_of(invoice, contract),
            tax=_tax(invoice, supplier),
            subtotal_pence=invoice.subtotal_pence,
            vat_pence=invoice.vat_pence,
            total_pence=invoice.total_pence,
            lines=[
                _Line(
                    position=line.position,
                    quantity=f"{abs(line.quantity):.2f}".rstrip("0").rstrip("."),
                    unit_code=UNIT_CODES.get(line.unit.value, ONE),
                    amount_pence=line.amount_pence,
                    price_pence=line.unit_price_pence,
                    name=line.item_code,
                    description=f"{line.description} ({line.unit.label})",
                )
                for line in lines
            ],
        )
    )


GRANT_OUTSIDE_VAT = _Tax("O", None, "Grant funding: outside the scope of VAT (no supply is made)")


def grant_payment_document(instalment: Any) -> bytes:
    """A raised grant payment as a UBL Invoice, so the CRC's accounts payable system takes it as it
    takes invoices: one line, the instalment, outside the scope of VAT (a grant buys no supply:
    HMRC VAT Notice 701/1, section 5), with the bank account it was raised with. An instalment not
    yet raised is not a payment request, and has none."""
    from portal.remittance.service import remittance_of

    if not instalment.number or instalment.submitted_at is None:
        raise InvalidTransition("This instalment has not been raised as a grant payment yet: it has no e-invoice")
    contract = db.session.get(Contract, instalment.contract_id)
    period = f"{format_date(instalment.period_start)} to {format_date(instalment.period_end)}"
    return _render(
        _Document(
            number=instalment.number,
            issued=london_day(instalment.submitted_at),
            due=instalment.payment_due_on or instalment.due_on,
            note=f"Grant instalment in {instalment.timing.value} for {period}",
            credit_note=False,
            credited=None,
            period_start=instalment.period_start,
            period_end=instalment.period_end,
            contract=contract,
            supplier=db.session.get(Organisation, contract.partner_id),
            buyer=db.session.get(Organisation, contract.crc_id),
            remittance=remittance_of(instalment, contract),
            tax=GRANT_OUTSIDE_VAT,
            subtotal_pence=instalment.amount_pence,
            vat_pence=0,
            total_pence=instalment.amount_pence,
            lines=[
                _Line(
                    position=1,
                    quantity="1",
                    unit_code=ONE,
                    amount_pence=instalment.amount_pence,
                    price_pence=instalment.amount_pence,
                    name=f"{contract.reference} grant instalment",
                    description=f"Grant instalment ({instalment.timing.value}), {period}",
                )
            ],
        )
    )


def _render(doc: _Document) -> bytes:
    _endpoint(doc.supplier), _endpoint(doc.buyer)  # refused before anything is built
    note, contract, remittance, tax = doc.credit_note, doc.contract, doc.remittance, doc.tax
    root = ET.Element(f"{{{NS['creditnote' if note else 'invoice']}}}{'CreditNote' if note else 'Invoice'}")
    b = _Builder(root)
    b.cbc(root, "CustomizationID", CUSTOMIZATION_ID)
    b.cbc(root, "ProfileID", PROFILE_ID)
    b.cbc(root, "ID", doc.number)
    b.cbc(root, "IssueDate", doc.issued.isoformat())
    if doc.due:
        b.cbc(root, "DueDate", doc.due.isoformat())
    b.cbc(root, "CreditNoteTypeCode" if note else "InvoiceTypeCode", CREDIT_NOTE_TYPE if note else INVOICE_TYPE)
    if doc.note:
        b.cbc(root, "Note", doc.note)
    b.cbc(root, "DocumentCurrencyCode", CURRENCY)
    # BT-10: the buyer's reference, by which the CRC routes the invoice: the purchase order, else the contract.
    b.cbc(root, "BuyerReference", remittance.purchase_order or contract.reference)
    period = b.cac(root, "InvoicePeriod")
    b.cbc(period, "StartDate", doc.period_start.isoformat())
    b.cbc(period, "EndDate", doc.period_end.isoformat())
    if remittance.purchase_order:
        b.cbc(b.cac(root, "OrderReference"), "ID", remittance.purchase_order)
    if note and doc.credited is not None:
        reference = b.cac(b.cac(root, "BillingReference"), "InvoiceDocumentReference")
        b.cbc(reference, "ID", doc.credited.number)
        if doc.credited.received_on:
            b.cbc(reference, "IssueDate", doc.credited.received_on.isoformat())
    b.cbc(b.cac(root, "ContractDocumentReference"), "ID", contract.reference)
    _party(b, b.cac(root, "AccountingSupplierParty"), doc.supplier, tax=tax)
    _party(b, b.cac(root, "AccountingCustomerParty"), doc.buyer, tax=tax)
    if not note:
        # BR-61: a credit transfer names the account; without confirmed bank details the document
        # gives no payment means (the terms below still say when payment is due).
        if remittance.has_bank_account:
            means = b.cac(root, "PaymentMeans")
            b.cbc(means, "PaymentMeansCode", CREDIT_TRANSFER, name="Credit transfer")
            b.cbc(means, "PaymentID", doc.number)
            account = b.cac(means, "PayeeFinancialAccount")
            b.cbc(account, "ID", remittance.account_number)
            b.cbc(account, "Name", remittance.account_name)
            b.cbc(b.cac(account, "FinancialInstitutionBranch"), "ID", remittance.sort_code)
        terms = b.cac(root, "PaymentTerms")
        text = f"Payment within {contract.payment_terms_days} days of receipt"
        if remittance.remittance_email:
            text += f"; remittance advice to {remittance.remittance_email}"
        b.cbc(terms, "Note", text)
    total = b.cac(root, "TaxTotal")
    b.money(total, "TaxAmount", doc.vat_pence)
    subtotal = b.cac(total, "TaxSubtotal")
    b.money(subtotal, "TaxableAmount", doc.subtotal_pence)
    b.money(subtotal, "TaxAmount", doc.vat_pence)
    _category(b, b.cac(subtotal, "TaxCategory"), tax, with_reason=True)
    monetary = b.cac(root, "LegalMonetaryTotal")
    b.money(monetary, "LineExtensionAmount", doc.subtotal_pence)
    b.money(monetary, "TaxExclusiveAmount", doc.subtotal_pence)
    b.money(monetary, "TaxInclusiveAmount", doc.total_pence)
    b.money(monetary, "PayableAmount", doc.total_pence)
    for line in doc.lines:
        element = b.cac(root, "CreditNoteLine" if note else "InvoiceLine")
        b.cbc(element, "ID", line.position)
        b.cbc(element, "CreditedQuantity" if note else "InvoicedQuantity", line.quantity, unitCode=line.unit_code)
        b.money(element, "LineExtensionAmount", line.amount_pence)
        item = b.cac(element, "Item")
        b.cbc(item, "Description", line.description)
        b.cbc(item, "Name", line.name)
        b.cbc(b.cac(item, "SellersItemIdentification"), "ID", line.name)
        _category(b, b.cac(item, "ClassifiedTaxCategory"), tax, with_reason=False)
        b.money(b.cac(element, "Price"), "PriceAmount", line.price_pence)
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def _category(b: _Builder, parent: ET.Element, tax: _Tax, *, with_reason: bool) -> None:
    b.cbc(parent, "ID", tax.category)
    if tax.percent is not None:
        b.cbc(parent, "Percent", tax.percent)
    if with_reason and tax.exemption_reason:
        b.cbc(parent, "TaxExemptionReason", tax.exemption_reason)
    b.cbc(b.cac(parent, "TaxScheme"), "ID", "VAT")


# --- the business rules checkable offline -------------------------------------------------------------

CATEGORIES = frozenset({"S", "Z", "E", "AE", "K", "G", "O", "L", "M"})
UNITS = frozenset({"HUR", "MON", ONE})


def _amount(element: ET.Element | None) -> Decimal:
    return Decimal(element.text) if element is not None and element.text else Decimal("0")


def check(xml: bytes) -> list[str]:
    """The EN 16931 / PEPPOL BIS 3.0 rules checkable offline that this document breaks ([] if none)."""
    root = ET.fromstring(xml)  # noqa: S314 - only documents this module wrote, never uploads
    note = root.tag == f"{{{NS['creditnote']}}}CreditNote"
    c = {"cbc": NS["cbc"], "cac": NS["cac"]}

    def one(path: str) -> ET.Element | None:
        return root.find(path, c)

    errors = []
    for rule, path in (
        ("BR-01", "cbc:CustomizationID"),
        ("BR-02", "cbc:ID"),
        ("BR-03", "cbc:IssueDate"),
        ("BR-04", "cbc:CreditNoteTypeCode" if note else "cbc:InvoiceTypeCode"),
        ("BR-05", "cbc:DocumentCurrencyCode"),
        ("BR-06", "cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName"),
        ("BR-07", "cac:AccountingCustomerParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName"),
        ("BR-08", "cac:AccountingSupplierParty/cac:Party/cac:PostalAddress"),
        ("BR-09", "cac:AccountingSupplierParty/cac:Party/cac:PostalAddress/cac:Country/cbc:IdentificationCode"),
        ("BR-10", "cac:AccountingCustomerParty/cac:Party/cac:PostalAddress"),
        ("BR-12", "cac:LegalMonetaryTotal/cbc:LineExtensionAmount"),
        ("BR-13", "cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount"),
        ("BR-14", "cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount"),
        ("BR-15", "cac:LegalMonetaryTotal/cbc:PayableAmount"),
        ("PEPPOL-EN16931-R001", "cbc:ProfileID"),
        ("PEPPOL-EN16931-R020", "cac:AccountingSupplierParty/cac:Party/cbc:EndpointID"),
        ("PEPPOL-EN16931-R010", "cac:AccountingCustomerParty/cac:Party/cbc:EndpointID"),
    ):
        if one(path) is None or (not (one(path).text or "").strip() and rule not in ("BR-08", "BR-10")):
            errors.append(f"{rule}: {path} is missing")
    if (one("cbc:CustomizationID").text if one("cbc:CustomizationID") is not None else "") != CUSTOMIZATION_ID:
        errors.append("PEPPOL-EN16931-R004: the specification identifier is not BIS Billing 3.0's")
    if one("cbc:BuyerReference") is None and one("cac:OrderReference/cbc:ID") is None:
        errors.append("PEPPOL-EN16931-R003: a buyer reference or purchase order reference is required")
    type_code = one("cbc:CreditNoteTypeCode" if note else "cbc:InvoiceTypeCode")
    if type_code is not None and type_code.text != (CREDIT_NOTE_TYPE if note else INVOICE_TYPE):
        errors.append("BR-CL-01: the document type code is not one this portal issues")
    if one("cbc:DocumentCurrencyCode") is not None and one("cbc:DocumentCurrencyCode").text != CURRENCY:
        errors.append("BR-CL-04: the currency is not GBP")
    for endpoint in root.iterfind(".//cbc:EndpointID", c):
        if endpoint.get("schemeID") not in EAS_CODES:
            errors.append("BR-CL-25: an endpoint's scheme is not on the EAS code list")
    for amount in root.iter():
        if amount.get("currencyID") not in (None, CURRENCY):
            errors.append("BR-CL-03: an amount is not in the document currency")
    lines = root.findall("cac:CreditNoteLine" if note else "cac:InvoiceLine", c)
    if not lines:
        errors.append("BR-16: a document has at least one line")
    line_total = Decimal("0")
    for line in lines:
        quantity = line.find("cbc:CreditedQuantity" if note else "cbc:InvoicedQuantity", c)
        amount = _amount(line.find("cbc:LineExtensionAmount", c))
        price = _amount(line.find("cac:Price/cbc:PriceAmount", c))
        line_total += amount
        if quantity is None or quantity.get("unitCode") not in UNITS:
            errors.append("BR-22/BR-CL-23: a line's quantity has no unit from UN/ECE Recommendation 20")
            continue
        if line.find("cac:Item/cbc:Name", c) is None:
            errors.append("BR-25: a line's item has no name")
        if line.find("cac:Item/cac:ClassifiedTaxCategory/cbc:ID", c) is None:
            errors.append("BR-CO-04: a line has no VAT category")
        expected = (Decimal(quantity.text) * price).quantize(Decimal("0.01"))
        if abs(expected - amount) > Decimal("0.02"):
            errors.append(
                f"PEPPOL-EN16931-R120: line {line.findtext('cbc:ID', '', c)}'s amount is not quantity x price"
            )
    totals = {
        name: _amount(one(f"cac:LegalMonetaryTotal/cbc:{name}"))
        for name in ("LineExtensionAmount", "TaxExclusiveAmount", "TaxInclusiveAmount", "PayableAmount")
    }
    tax_total = _amount(one("cac:TaxTotal/cbc:TaxAmount"))
    if line_total != totals["LineExtensionAmount"]:
        errors.append("BR-CO-10: the sum of the line amounts is not the lines' total")
    if totals["TaxExclusiveAmount"] != totals["LineExtensionAmount"]:
        errors.append("BR-CO-13: the total without VAT is not the lines' total (no allowances or charges)")
    if totals["TaxInclusiveAmount"] != totals["TaxExclusiveAmount"] + tax_total:
        errors.append("BR-CO-15: the total with VAT is not the total without VAT plus the VAT")
    if totals["PayableAmount"] != totals["TaxInclusiveAmount"]:
        errors.append("BR-CO-16: the amount due is not the total with VAT (nothing is prepaid)")
    subtotals = root.findall("cac:TaxTotal/cac:TaxSubtotal", c)
    if sum((_amount(s.find("cbc:TaxAmount", c)) for s in subtotals), Decimal("0")) != tax_total:
        errors.append("BR-CO-14: the VAT total is not the sum of the VAT breakdown")
    for subtotal in subtotals:
        category = subtotal.findtext("cac:TaxCategory/cbc:ID", "", c)
        taxable = _amount(subtotal.find("cbc:TaxableAmount", c))
        vat = _amount(subtotal.find("cbc:TaxAmount", c))
        if category not in CATEGORIES:
            errors.append("BR-CL-17: a VAT category is not on the UNCL 5305 list")
        if category == "S":
            rate = Decimal(subtotal.findtext("cac:TaxCategory/cbc:Percent", "0", c))
            if (taxable * rate / 100).quantize(Decimal("0.01")) != vat:
                errors.append("BR-S-09: the VAT is not the taxable amount times the rate")
        elif vat != 0:
            errors.append(f"BR-{category}-09: VAT is charged in a category that has none")
        if category in ("E", "O") and not subtotal.findtext("cac:TaxCategory/cbc:TaxExemptionReason", "", c):
            errors.append(f"BR-{category}-10: an exempt or out-of-scope breakdown needs its reason")
        if category == "O" and subtotal.find("cac:TaxCategory/cbc:Percent", c) is not None:
            errors.append("BR-O-05: out of scope of VAT has no rate")
    if note and one("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID") is None:
        errors.append("BR-55: a credit note names the invoice it corrects (this portal's rule, as EN 16931 allows)")
    return errors
