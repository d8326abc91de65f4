"""Addresses on the PEPPOL network: where an e-invoice is delivered to (its EndpointID).

An organisation is reached at its UK VAT number (scheme 9932) or, when it has none (many small
charities are not VAT registered), at the participant ID it records, such as its GLN (scheme 0088).
The schemes are those of the Electronic Address Scheme (EAS) code list that PEPPOL BIS Billing 3.0
accepts (rule PEPPOL-EN16931-CL008); an e-mail address (EM) is not among them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# The EAS code list as PEPPOL BIS Billing 3.0's Schematron checks it (PEPPOL-EN16931-CL008).
_EAS_LIST = (
    "0002 0007 0009 0037 0060 0088 0096 0097 0106 0130 0135 0142 0151 0183 0184 0188 0190 0191 0192 0193 "
    "0195 0196 0198 0199 0200 0201 0202 0204 0208 0209 0210 0211 0212 0213 0215 0216 0218 0221 0230 9901 "
    "9910 9913 9914 9915 9918 9919 9920 9922 9923 9924 9925 9926 9927 9928 9929 9930 9931 9932 9933 9934 "
    "9935 9936 9937 9938 9939 9940 9941 9942 9943 9944 9945 9946 9947 9948 9949 9950 9951 9952 9953 9957 "
    "9959"
)
EAS_CODES = frozenset(_EAS_LIST.split())
UK_VAT = "9932"
GLN = "0088"
PARTICIPANT_ID = re.compile(r"^(\d{4}):([A-Za-z0-9][A-Za-z0-9.\-_]{0,49})$")


@dataclass(frozen=True)
class Endpoint:
    scheme: str
    identifier: str


def vat_digits(vat_number: str) -> str:
    return "".join(ch for ch in vat_number.upper() if ch.isalnum()).removeprefix("GB")


def gln_check_digit_ok(digits: str) -> bool:
    """A GS1 Global Location Number: 13 digits, the last a mod-10 check digit (weights 1 and 3)."""
    if not re.fullmatch(r"\d{13}", digits):
        return False
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits[:12]))
    return (10 - total % 10) % 10 == int(digits[12])


def participant_id_error(value: str) -> str | None:
    """Why `value` is not a participant ID this portal can address e-invoices to (None if it is)."""
    match = PARTICIPANT_ID.match(value)
    if match is None:
        return "Enter the PEPPOL participant ID as scheme and identifier, like 0088:5060123456783"
    scheme, identifier = match.groups()
    if scheme not in EAS_CODES:
        return f"{scheme} is not a PEPPOL electronic address scheme (a GLN is 0088)"
    if scheme == GLN and not gln_check_digit_ok(identifier):
        return "A GLN (scheme 0088) is 13 digits ending in its check digit: check the number"
    return None


def endpoint_of(organisation: Any) -> Endpoint | None:
    """Where e-invoices reach `organisation`: the participant ID it recorded, else its VAT number;
    None when it has neither."""
    if organisation.peppol_id:
        scheme, identifier = organisation.peppol_id.split(":", 1)
        return Endpoint(scheme, identifier)
    if organisation.vat_number:
        return Endpoint(UK_VAT, vat_digits(organisation.vat_number))
    return None
