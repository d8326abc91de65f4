"""Forms for contracts, outcome types, rate-card items and prices, and rate-card files (GOV.UK widgets).

The forms only read what people type (pounds, whole numbers, dates); the rules (what is
required, what may overlap, what a reference looks like) are the service's, which names
each field it refuses. Field names match the service's, so its errors land beside them.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovCheckboxInput,
    GovFileInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import (
    BooleanField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)

from portal.contracts.measures import SESSION_KINDS
from portal.contracts.models import ContractStatus, ContractTier, Pathway, Setting, Unit
from portal.forms import GovDateField, Length
from portal.money import NotAnAmount, parse_pounds
from portal.urls import as_id

PATHWAY_CHOICES = {pathway.value: pathway.label for pathway in Pathway}
SETTING_CHOICES = {setting.value: setting.label for setting in Setting}
UNIT_CHOICES = {unit.value: unit.label for unit in Unit}
TIER_CHOICES = {tier.value: tier.label for tier in ContractTier}
VAT_CHOICES = {"0": "0% (exempt)", "2000": "20%"}


def pence_from(text: str | None) -> Any:
    """Pounds typed as text -> pence; a negative amount stays negative (so the service can say
    so); anything unreadable -> None (the service asks for an amount in pounds)."""
    text = (text or "").strip()
    negative = text.startswith("-")
    try:
        pence = parse_pounds(text.removeprefix("-"))
    except NotAnAmount:
        return None
    return -pence if negative else pence


def whole_number_from(text: str | None) -> Any:
    """'30' -> 30; empty -> None; anything else is passed on as typed for the service to refuse."""
    text = (text or "").strip()
    if not text:
        return None
    return int(text) if text.isascii() and text.isdigit() else text


class VersionedForm(FlaskForm):
    """Carries the version of the record the user read, so a change made meanwhile is noticed."""

    version = HiddenField()

    @property
    def version_read(self) -> int | None:
        value = (self.version.data or "").strip()
        return int(value) if value.isascii() and value.isdigit() else None


class ContractForm(VersionedForm):
    reference = StringField("Reference", widget=GovTextInput(), validators=[Length(max=30)])
    title = StringField("Title", widget=GovTextInput(), validators=[Length(max=200)])
    partner_id = SelectField("Partner", widget=GovSelect(), default="", validate_choice=False)
    tier = RadioField("Tier", widget=GovRadioInput(), choices=TIER_CHOICES, validate_choice=False)
    start_date = GovDateField("Start date", name_in_messages="Start date")
    end_date = GovDateField("End date", name_in_messages="End date")
    value_cap = StringField("Value cap", widget=GovTextInput(), validators=[Length(max=20)])
    vat_rate = RadioField("VAT rate", widget=GovRadioInput(), choices=VAT_CHOICES, validate_choice=False)
    payment_terms_days = StringField("Payment terms", widget=GovTextInput(), default="30")
    accept_sla_working_days = StringField("Working days to accept or decline", widget=GovTextInput(), default="2")
    first_contact_sla_working_days = StringField(
        "Working days to first contact after acceptance", widget=GovTextInput(), default="5"
    )
    # Choices: the CRC's counties and prisons by id (portal.places), set by the page with area_choices.
    counties = SelectMultipleField("Counties", widget=GovCheckboxesInput(), choices={}, validate_choice=False)
    prisons = SelectMultipleField("Prisons", widget=GovCheckboxesInput(), choices={}, validate_choice=False)

    def area_choices(self, crc_id: int, contract: Any = None) -> None:
        from portal.contracts.service import area_choices

        for name, places in area_choices(crc_id, contract).items():
            getattr(self, name).choices = {
                str(place.id): place.name + ("" if place.active else " (retired)") for place in places
            }

    description = TextAreaField("Description (optional)", widget=GovTextArea(), validators=[Length(max=5000)])
    submit = SubmitField("Save contract", widget=GovSubmitInput())

    def fields_for_service(self) -> dict[str, Any]:
        partner = (self.partner_id.data or "").strip()
        vat = (self.vat_rate.data or "").strip()
        return {
            "reference": self.reference.data,
            "title": self.title.data,
            "partner_id": as_id(partner),
            "tier": self.tier.data,
            "start_date": self.start_date.data,
            "end_date": self.end_date.data,
            "value_cap_pence": pence_from(self.value_cap.data),
            "vat_rate_bp": int(vat) if vat.isascii() and vat.isdigit() else None,
            "payment_terms_days": whole_number_from(self.payment_terms_days.data),
            "accept_sla_working_days": whole_number_from(self.accept_sla_working_days.data),
            "first_contact_sla_working_days": whole_number_from(self.first_contact_sla_working_days.data),
            # An id that is not a number is passed on as -1, which no place has: the service refuses it.
            "counties": [as_id(value) or -1 for value in self.counties.data or []],
            "prisons": [as_id(value) or -1 for value in self.prisons.data or []],
            "description": self.description.data,
        }


class ConfirmForm(VersionedForm):
    """Making a contract active, deleting a price: just the CSRF token and the version read."""

    submit = SubmitField("Confirm", widget=GovSubmitInput())


class EndContractForm(VersionedForm):
    end_date = GovDateField("End date", name_in_messages="End date")
    submit = SubmitField("End contract", widget=GovSubmitInput())


OUTCOME_FROM_CHOICES = {
    "": "Acceptance of the referral",
    "start": "First contact",
    "release": "Release from custody (first contact for someone in the community)",
}


class OutcomeTypeForm(VersionedForm):
    code = StringField("Code", widget=GovTextInput(), validators=[Length(max=60)])
    name = StringField("Name", widget=GovTextInput(), validators=[Length(max=200)])
    pathway = SelectField("Pathway", widget=GovSelect(), default="", validate_choice=False)
    active = BooleanField("Outcomes of this type can still be recorded", widget=GovCheckboxInput(), default=True)
    outcome_from = RadioField(
        "Days are counted from", widget=GovRadioInput(), choices=OUTCOME_FROM_CHOICES, default="", validate_choice=False
    )
    outcome_earliest_days = StringField("Earliest, in days after it", widget=GovTextInput(), default="0")
    outcome_latest_days = StringField("Latest, in days after it (optional)", widget=GovTextInput())
    max_per_referral = StringField("Most per referral (optional)", widget=GovTextInput())
    evidence_required = BooleanField("A claim must attach an evidence file", widget=GovCheckboxInput())
    recorded_unpaid = BooleanField(
        "Recorded but not paid: partners can claim it on services that have no price for it", widget=GovCheckboxInput()
    )
    submit = SubmitField("Add outcome type", widget=GovSubmitInput())

    def rule_fields(self) -> dict[str, Any]:
        """The rule as typed, for the service to check (which names each field it refuses)."""
        return {
            "outcome_from": self.outcome_from.data or "",
            "outcome_earliest_days": (self.outcome_earliest_days.data or "").strip() or "0",
            "outcome_latest_days": self.outcome_latest_days.data,
            "max_per_referral": self.max_per_referral.data,
            "evidence_required": bool(self.evidence_required.data),
            "recorded_unpaid": bool(self.recorded_unpaid.data),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pathway.choices = {"": "Choose a pathway"} | PATHWAY_CHOICES


class ItemForm(VersionedForm):
    code = StringField("Item code", widget=GovTextInput(), validators=[Length(max=40)])
    service_code = StringField("Service code", widget=GovTextInput(), validators=[Length(max=40)])
    name = StringField("Name", widget=GovTextInput(), validators=[Length(max=200)])
    pathway = SelectField("Pathway", widget=GovSelect(), default="", validate_choice=False)
    setting = RadioField("Setting", widget=GovRadioInput(), choices=SETTING_CHOICES, validate_choice=False)
    unit = RadioField("Unit", widget=GovRadioInput(), choices=UNIT_CHOICES, validate_choice=False)
    outcome_type_id = SelectField("Outcome type", widget=GovSelect(), default="", validate_choice=False)
    max_units_per_referral = StringField("Most units per referral (optional)", widget=GovTextInput())
    session_kinds = SelectMultipleField(
        "Session kinds", widget=GovCheckboxesInput(), choices=SESSION_KINDS, validate_choice=False
    )
    active = BooleanField("This item can still be delivered and billed", widget=GovCheckboxInput(), default=True)
    submit = SubmitField("Save item", widget=GovSubmitInput())

    def __init__(self, *args: Any, outcome_types: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pathway.choices = {"": "Choose a pathway"} | PATHWAY_CHOICES
        self.outcome_type_id.choices = {"": "Choose an outcome type"} | {
            str(outcome.id): f"{outcome.name} ({outcome.code})" for outcome in outcome_types
        }

    def fields_for_service(self) -> dict[str, Any]:
        outcome_type = (self.outcome_type_id.data or "").strip()
        return {
            "code": self.code.data,
            "service_code": self.service_code.data,
            "name": self.name.data,
            "pathway": self.pathway.data,
            "setting": self.setting.data,
            "unit": self.unit.data,
            "outcome_type_id": as_id(outcome_type),
            "max_units_per_referral": whole_number_from(self.max_units_per_referral.data),
            "session_kinds": list(self.session_kinds.data or []),
            "active": bool(self.active.data),
        }


class PriceForm(VersionedForm):
    unit_price = StringField("Unit price", widget=GovTextInput(), validators=[Length(max=20)])
    effective_from = GovDateField("Applies from", name_in_messages="Date the price applies from")
    effective_to = GovDateField("Applies until (optional)", name_in_messages="Date the price applies until")
    submit = SubmitField("Save price", widget=GovSubmitInput())

    def fields_for_service(self) -> dict[str, Any]:
        return {
            "unit_price_pence": pence_from(self.unit_price.data),
            "effective_from": self.effective_from.data,
            "effective_to": self.effective_to.data,
        }


class EndPriceForm(VersionedForm):
    effective_to = GovDateField("Last day the price applies", name_in_messages="Last day the price applies")
    submit = SubmitField("End price", widget=GovSubmitInput())


class ImportRateCardForm(FlaskForm):
    file = FileField("Rate card file", widget=GovFileInput())
    submit = SubmitField("Import rate card", widget=GovSubmitInput())


class ContractFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    partner = SelectField("Partner", widget=GovSelect(), default="", validate_choice=False)
    status = SelectField(
        "Status",
        widget=GovSelect(),
        default="",
        choices={"": "Any status"} | {status.value: status.label for status in ContractStatus},
        validate_choice=False,
    )
    submit = SubmitField("Filter", widget=GovSubmitInput())
