"""The CRC and partners of Annex 3 (HMIP, BeNCH CRC inspection, May 2019), as demo organisations.

Registration numbers and addresses are illustrative, not the charities' real details.
"""

from __future__ import annotations

from dataclasses import dataclass

DEMO_PASSWORD = "demo-password-2026"
# The authenticator key of every demo account that must use two-step verification (CRC staff and
# partner managers): public, like the password, so anyone trying the demo can add it to an app once
# (or run `flask demo-code`). Only loaded when MFA_REQUIRED is on; never in production.
DEMO_MFA_SECRET = "DEMOPARTNERPORTALDEMOPARTNERPORT"
CRC_DOMAIN = "bench-crc.example"


def demo_peppol_id(slug: str) -> str:
    """A made-up GLN (scheme 0088) for a demo partner that is not VAT registered, so its e-invoices
    have somewhere to go: GS1 UK's prefix 50, ten digits from the slug, and the GS1 check digit."""
    import zlib

    body = f"50{zlib.crc32(slug.encode()) % 10**10:010d}"
    total = sum(int(digit) * (3 if position % 2 else 1) for position, digit in enumerate(body))
    return f"0088:{body}{(10 - total % 10) % 10}"


@dataclass(frozen=True)
class DemoOrganisation:
    slug: str  # email domain: manager@<slug>.example
    name: str
    kind: str
    tier: str | None
    services: str  # Annex 3: service and service area
    town: str
    postcode: str
    charity_number: str | None = None
    company_number: str | None = None
    vat_number: str | None = None
    street: str = "1 High Street"
    phone: str | None = None  # Ofcom's numbers for drama (01632 960xxx): never a real line


CRC = DemoOrganisation(
    slug="bench-crc",
    name="BeNCH Community Rehabilitation Company",
    kind="crc",
    tier=None,
    services="Bedfordshire, Northamptonshire, Cambridgeshire and Hertfordshire CPA; hub in Huntingdon",
    town="Huntingdon",
    postcode="PE29 3SJ",
    company_number="08961217",
    vat_number="GB186203451",
    street="Hub, 1 Princes Street",
)

PARTNERS = (
    DemoOrganisation(
        "nacro",
        "Nacro",
        "partner",
        "II",
        "Accommodation, finance, benefit and debt: in custody at HMP Bedford and HMP Woodhill; "
        "in the community in Bedfordshire and Northamptonshire",
        "Bedford",
        "MK40 1QJ",
        charity_number="226171",
        company_number="00781389",
        vat_number="GB243618254",
        street="Kimbolton House, 14 Kimbolton Road",
        phone="01632 960 101",
    ),
    DemoOrganisation(
        "st-giles-trust",
        "St Giles Trust",
        "partner",
        "II",
        "BCST2, release planning and ETE in custody at HMP The Mount, Bedford, Woodhill and "
        "Peterborough; accommodation, finance and ETE in Cambridgeshire",
        "Peterborough",
        "PE1 1XJ",
        charity_number="801355",
        company_number="02276891",
        street="Bridge House, 3 Bridge Street",
        phone="01632 960 102",
    ),
    DemoOrganisation(
        "st-mungos",
        "St Mungo Community Housing Association",
        "partner",
        "II",
        "Accommodation, finance, benefit and debt: in custody at HMP The Mount; in the community in Hertfordshire",
        "Hemel Hempstead",
        "HP1 1BT",
        charity_number="1149085",
        company_number="08225808",
        street="2 Marlowes Court, Marlowes",
        phone="01632 960 103",
    ),
    DemoOrganisation(
        "bold-moves",
        "Bold Moves",
        "partner",
        "II",
        "Domestic violence and veterans programmes, BeNCH-wide and at HMP Peterborough",
        "Bedford",
        "MK42 9AE",
        charity_number="1138452",
        street="Unit 4, Elstow Road Business Park",
        phone="01632 960 104",
    ),
    DemoOrganisation(
        "ormiston-families",
        "Ormiston Families",
        "partner",
        "II",
        "Family support programmes in Bedfordshire, Cambridgeshire and at HMP Peterborough",
        "Ipswich",
        "IP1 2LD",
        charity_number="1015896",
        company_number="02775728",
        street="Unit 11, Boulton House, Civic Drive",
        phone="01632 960 105",
    ),
    DemoOrganisation(
        "cambridge-womens-resource-centre",
        "Cambridge Women's Resource Centre",
        "partner",
        "III",
        "Women's services in Cambridge and Peterborough",
        "Cambridge",
        "CB4 3PW",
        charity_number="1111635",
        street="Hooper Street",
        phone="01632 960 106",
    ),
    DemoOrganisation(
        "family-groups-bedford",
        "Family Groups (Bedford)",
        "partner",
        "III",
        "Women's services in the Bedford area",
        "Bedford",
        "MK40 2NY",
        charity_number="1092357",
        street="27 Harpur Street",
        phone="01632 960 107",
    ),
    DemoOrganisation(
        "stepping-stones-luton",
        "Stepping Stones (Luton)",
        "partner",
        "III",
        "Women's services in the Luton area",
        "Luton",
        "LU1 2PJ",
        charity_number="1124612",
        street="8 King Street",
        phone="01632 960 108",
    ),
    DemoOrganisation(
        "c2c-social-action",
        "C2C Social Action",
        "partner",
        "III",
        "Women's services in Northamptonshire",
        "Northampton",
        "NN1 2AQ",
        charity_number="1095213",
        street="Guildhall Chambers, 6 Guildhall Road",
        phone="01632 960 109",
    ),
    DemoOrganisation(
        "user-voice",
        "User Voice",
        "partner",
        "II",
        "Peer mentors, service user council and service user feedback in Stevenage and Peterborough",
        "Stevenage",
        "SG1 1HN",
        charity_number="1117745",
        company_number="05915377",
        street="Swingate House, Danestrete",
        phone="01632 960 110",
    ),
)

# (email local part, name, role) for the CRC; partners each get a manager and a caseworker.
CRC_USERS = (
    ("admin", "Priya Shah", "admin"),
    ("contracts", "Helen Whitmore", "contract_manager"),
    ("referrer", "Daniel Okafor", "crc_referrer"),
    ("referrer.luton", "Grace Mensah", "crc_referrer"),
    ("contracts.finance", "Tom Ellery", "contract_manager"),
)

# Sets up the demo contracts, so the audit log shows them as this person's work.
DEMO_CONTRACT_MANAGER = "contracts"

PARTNER_PEOPLE = {
    "nacro": (("Sarah Collins", "James Hartley"), ("Aisha Begum",)),
    "st-giles-trust": (("Mark Dempsey", "Leanne Ford"), ("Kwame Asante",)),
    "st-mungos": (("Rachel Evans", "Owen Price"), ()),
    "bold-moves": (("Simon Barker", "Nadia Rahman"), ()),
    "ormiston-families": (("Claire Turner", "Ben Woodward"), ()),
    "cambridge-womens-resource-centre": (("Fiona MacLeod", "Hannah Green"), ()),
    "family-groups-bedford": (("Joanne Patel", "Emma Lewis"), ()),
    "stepping-stones-luton": (("Yasmin Hussain", "Chloe Adams"), ()),
    "c2c-social-action": (("Paul Richardson", "Sophie Clarke"), ()),
    "user-voice": (("Marcus Reid", "Dean Fletcher"), ("Tariq Ali",)),
}


def email_for(local: str, slug: str) -> str:
    return f"{local}@{slug}.example"
