"""Organisation operations: who may add and change partners, what is valid, and what the audit log keeps."""

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.errors import NotAllowed, NotFound, StaleRecord, ValidationFailed
from portal.extensions import db
from portal.organisations.models import Organisation, OrganisationKind, Tier
from portal.organisations.service import create_organisation, update_organisation

PARTNER = {
    "name": "Ormiston Families",
    "tier": "II",
    "charity_number": "1015896",
    "company_number": "02775728",
    "vat_number": None,
    "address_line_1": "Unit 11, Boulton House",
    "address_line_2": "Civic Drive",
    "town": "Ipswich",
    "postcode": "ip1 2ld",
    "contact_name": "Claire Turner",
    "contact_email": "claire.turner@ormiston.example",
    "contact_phone": "01473 724 517",
}


def events(action):
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()


def test_a_contract_manager_adds_a_partner_and_the_audit_log_keeps_every_value(contract_manager):
    partner = create_organisation(contract_manager, **PARTNER)

    assert partner.kind == OrganisationKind.PARTNER
    assert partner.tier == Tier.II
    assert partner.postcode == "IP1 2LD"
    (event,) = events("organisation.created")
    assert event.actor_id == contract_manager.id
    assert event.record_id == str(partner.id)
    assert event.details["name"] == "Ormiston Families"
    assert event.details["contact_email"] == "claire.turner@ormiston.example"
    assert event.details["via"] == "web"


def test_only_partners_are_added_in_the_portal(contract_manager):
    with pytest.raises(NotAllowed):
        create_organisation(contract_manager, **{**PARTNER, "kind": "crc", "tier": None})
    assert db.session.scalar(select(func.count()).select_from(Organisation)) == 1  # the CRC itself


@pytest.mark.parametrize("role_fixture", ["admin", "referrer", "nacro_manager", "nacro_caseworker"])
def test_nobody_but_a_contract_manager_adds_or_changes_partners(request, role_fixture, st_giles):
    actor = request.getfixturevalue(role_fixture)
    with pytest.raises(NotAllowed):
        create_organisation(actor, **PARTNER)
    # The CRC's staff see St Giles Trust but may not change it; to another partner it does not exist.
    with pytest.raises(NotFound if actor.is_partner_user else NotAllowed):
        update_organisation(actor, st_giles, version=st_giles.version, town="Luton")
    assert not events("organisation.created") and not events("organisation.updated")


def test_the_cli_operator_may_add_any_organisation_without_contact_details():
    crc = create_organisation(None, name="BeNCH CRC", kind="crc")
    assert crc.kind == OrganisationKind.CRC
    assert events("organisation.created")[0].details["via"] == "cli"


def test_a_partner_added_in_the_portal_needs_an_address_and_a_main_contact(contract_manager):
    with pytest.raises(ValidationFailed) as failure:
        create_organisation(contract_manager, name="Bold Moves", tier="II")
    assert failure.value.errors == {
        "address_line_1": ["Enter address line 1, typically the building and street"],
        "town": ["Enter the town or city"],
        "postcode": ["Enter the postcode"],
        "contact_name": ["Enter the main contact's full name"],
        "contact_email": ["Enter the main contact's email address"],
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("vat_number", "123456789", "Enter a VAT number in the correct format, like GB123456789"),
        ("vat_number", "GB12345", "Enter a VAT number in the correct format, like GB123456789"),
        ("charity_number", "12-AB", "Enter a charity number in the correct format, like 1123456"),
        ("peppol_id", "5060123456783", "Enter the PEPPOL participant ID as scheme and identifier"),
        ("peppol_id", "0088:5060123456782", "A GLN (scheme 0088) is 13 digits ending in its check digit"),
        ("peppol_id", "EM:finance@nacro.example", "Enter the PEPPOL participant ID as scheme and identifier"),
        ("peppol_id", "1234:ABC", "1234 is not a PEPPOL electronic address scheme"),
        ("company_number", "1234", "Enter a company number in the correct format, like 01234567"),
        ("postcode", "MK40", "Enter a full UK postcode, like MK40 1QJ"),
        ("postcode", "12345", "Enter a full UK postcode, like MK40 1QJ"),
        ("postcode", "MK40 1QJX", "Enter a full UK postcode, like MK40 1QJ"),
        ("contact_email", "claire.turner", "in the correct format, like name@example.org"),
        ("contact_email", "claire@", "in the correct format, like name@example.org"),
        ("contact_phone", "call me", "Enter the main contact's phone number in the correct format"),
        ("name", "x" * 201, "The organisation's name must be 200 characters or fewer"),
        ("tier", "IV", "Select the partner's tier: II (subcontract) or III (grant)"),
    ],
)
def test_bad_values_are_refused_naming_the_field(contract_manager, field, value, message):
    with pytest.raises(ValidationFailed) as failure:
        create_organisation(contract_manager, **{**PARTNER, field: value})
    assert list(failure.value.errors) == [field]
    assert message in failure.value.errors[field][0]
    assert not events("organisation.created")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("mk401qj", "MK40 1QJ"), ("  MK40   1QJ ", "MK40 1QJ"), ("w1a 1aa", "W1A 1AA"), ("b1 1aa", "B1 1AA")],
)
def test_postcodes_are_stored_in_capitals_with_one_space(contract_manager, typed, stored):
    assert create_organisation(contract_manager, **{**PARTNER, "postcode": typed}).postcode == stored


def test_registration_numbers_are_stored_without_spaces(contract_manager):
    partner = create_organisation(contract_manager, **{**PARTNER, "vat_number": "gb 243 6182 54"})
    assert partner.vat_number == "GB243618254"


def test_names_are_unique_whatever_their_case(contract_manager, nacro):
    with pytest.raises(ValidationFailed) as failure:
        create_organisation(contract_manager, **{**PARTNER, "name": "NACRO"})
    assert failure.value.errors == {"name": ["An organisation with this name already exists"]}


def test_changing_a_partner_audits_the_values_before_and_after(contract_manager):
    partner = create_organisation(contract_manager, **PARTNER)
    version = partner.version

    update_organisation(
        contract_manager, partner, version=version, town="Bury St Edmunds", postcode="ip33 1ab", tier="III"
    )

    assert partner.version == version + 1
    assert partner.name == "Ormiston Families"  # fields not given keep their values
    (event,) = events("organisation.updated")
    assert event.actor_id == contract_manager.id
    assert event.details == {
        "changes": {
            "postcode": {"before": "IP1 2LD", "after": "IP33 1AB"},
            "tier": {"before": "II", "after": "III"},
            "town": {"before": "Ipswich", "after": "Bury St Edmunds"},
        }
    }


def test_saving_without_changes_writes_no_event_and_keeps_the_version(contract_manager):
    partner = create_organisation(contract_manager, **PARTNER)
    version = partner.version
    update_organisation(contract_manager, partner, version=version, **PARTNER)
    assert partner.version == version
    assert not events("organisation.updated")


def test_a_change_made_from_an_old_version_is_refused(contract_manager):
    partner = create_organisation(contract_manager, **PARTNER)
    read_at = partner.version
    update_organisation(contract_manager, partner, version=read_at, contact_name="Ben Woodward")

    with pytest.raises(StaleRecord) as stale:
        update_organisation(contract_manager, partner, version=read_at, contact_name="Someone Else")

    assert "changed by someone else" in stale.value.message
    db.session.refresh(partner)
    assert partner.contact_name == "Ben Woodward"
    assert len(events("organisation.updated")) == 1


def test_invalid_changes_are_refused_and_nothing_changes(contract_manager):
    partner = create_organisation(contract_manager, **PARTNER)
    with pytest.raises(ValidationFailed) as failure:
        update_organisation(
            contract_manager, partner, version=partner.version, contact_email="nobody", company_number="X"
        )
    assert set(failure.value.errors) == {"contact_email", "company_number"}
    db.session.rollback()
    assert db.session.get(Organisation, partner.id).contact_email == "claire.turner@ormiston.example"


def test_the_crc_is_not_changed_in_the_portal(contract_manager, crc):
    with pytest.raises(NotAllowed):
        update_organisation(contract_manager, crc, version=crc.version, town="Huntingdon")


def test_a_partner_keeps_its_kind(contract_manager, nacro):
    with pytest.raises(ValueError, match="not editable"):
        update_organisation(contract_manager, nacro, version=nacro.version, kind="crc")


def test_a_partner_not_registered_for_vat_records_where_its_e_invoices_go(contract_manager):
    partner = create_organisation(contract_manager, **{**PARTNER, "peppol_id": " 0088:5060 1234 56783 "})
    assert partner.peppol_id == "0088:5060123456783"
    (event,) = events("organisation.created")
    assert event.details["peppol_id"] == "0088:5060123456783"
