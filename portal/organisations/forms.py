"""The form for adding and changing a partner organisation (GOV.UK widgets).

The form only collects what was typed; `service.validate_organisation_fields` decides what is
valid, so the page, the CLI and the API give the same messages.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovTextInput
from wtforms import HiddenField, RadioField, SelectChoice, StringField

from portal.organisations.models import Tier

TIER_CHOICES = [
    SelectChoice(Tier.II.value, "Tier II – service subcontract"),
    SelectChoice(Tier.III.value, "Tier III – grant agreement"),
]


class PartnerForm(FlaskForm):
    name = StringField("Name", widget=GovTextInput())
    tier = RadioField("Tier", widget=GovRadioInput(), choices=TIER_CHOICES, validate_choice=False)
    charity_number = StringField("Charity number (optional)", widget=GovTextInput())
    company_number = StringField("Company number (optional)", widget=GovTextInput())
    vat_number = StringField("VAT registration number (optional)", widget=GovTextInput())
    peppol_id = StringField("PEPPOL participant ID for e-invoices (optional)", widget=GovTextInput())
    address_line_1 = StringField("Address line 1", widget=GovTextInput())
    address_line_2 = StringField("Address line 2 (optional)", widget=GovTextInput())
    town = StringField("Town or city", widget=GovTextInput())
    postcode = StringField("Postcode", widget=GovTextInput())
    contact_name = StringField("Full name", widget=GovTextInput())
    contact_email = StringField("Email address", widget=GovTextInput())
    contact_phone = StringField("Phone number (optional)", widget=GovTextInput())
    # The version the editor read (empty when adding); the service refuses a stale one.
    version = HiddenField()

    FIELDS = (
        "name",
        "tier",
        "charity_number",
        "company_number",
        "vat_number",
        "peppol_id",
        "address_line_1",
        "address_line_2",
        "town",
        "postcode",
        "contact_name",
        "contact_email",
        "contact_phone",
    )

    def organisation_fields(self) -> dict[str, Any]:
        """What the service needs: every field as typed."""
        return {name: getattr(self, name).data for name in self.FIELDS}
