"""The form for a contract's service: what it is and whom it takes (the rules are the service's)."""

from __future__ import annotations

from typing import Any

from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovCheckboxInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import BooleanField, RadioField, SelectField, SelectMultipleField, StringField, SubmitField, TextAreaField

from portal.contracts.forms import PATHWAY_CHOICES, SETTING_CHOICES, VersionedForm
from portal.contracts.models import ServiceSex
from portal.forms import Length

SEX_CHOICES = {"": "Anyone"} | {sex.value: f"{sex.label} only" for sex in ServiceSex}


class ServiceForm(VersionedForm):
    code = StringField("Service code", widget=GovTextInput(), validators=[Length(max=40)])
    name = StringField("Name", widget=GovTextInput(), validators=[Length(max=200)])
    description = TextAreaField("What it offers", widget=GovTextArea(), validators=[Length(max=5000)])
    pathway = SelectField("Pathway", widget=GovSelect(), default="", validate_choice=False)
    setting = RadioField("Where it works", widget=GovRadioInput(), choices=SETTING_CHOICES, validate_choice=False)
    sex = RadioField("Who it is for", widget=GovRadioInput(), choices=SEX_CHOICES, default="", validate_choice=False)
    min_age = StringField("Youngest age (optional)", widget=GovTextInput(), validators=[Length(max=3)])
    max_age = StringField("Oldest age (optional)", widget=GovTextInput(), validators=[Length(max=3)])
    prison_ids = SelectMultipleField("Prisons", widget=GovCheckboxesInput(), validate_choice=False)
    probation_office_ids = SelectMultipleField("Probation offices", widget=GovCheckboxesInput(), validate_choice=False)
    county_ids = SelectMultipleField("Counties", widget=GovCheckboxesInput(), validate_choice=False)
    open_to_referrals = BooleanField("Open to referrals", widget=GovCheckboxInput(), default=True)
    submit = SubmitField("Save service", widget=GovSubmitInput())

    def __init__(self, *args: Any, places: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pathway.choices = {"": "Choose a pathway"} | PATHWAY_CHOICES
        from portal.places.models import County, Prison, ProbationOffice

        places = places or {}

        def choices(model: type) -> dict[str, str]:
            return {
                str(place.id): place.name + ("" if place.active else " (retired)") for place in places.get(model, [])
            }

        self.prison_ids.choices = choices(Prison)
        self.probation_office_ids.choices = choices(ProbationOffice)
        self.county_ids.choices = choices(County)

    def fields_for_service(self) -> dict[str, Any]:
        return {
            "code": self.code.data,
            "name": self.name.data,
            "description": self.description.data,
            "pathway": self.pathway.data,
            "setting": self.setting.data,
            "sex": self.sex.data or None,
            "min_age": self.min_age.data,
            "max_age": self.max_age.data,
            "prison_ids": self.prison_ids.data or [],
            "probation_office_ids": self.probation_office_ids.data or [],
            "county_ids": self.county_ids.data or [],
            "open_to_referrals": bool(self.open_to_referrals.data),
        }


class DirectoryFilterForm(VersionedForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = StringField("Search", widget=GovTextInput(), validators=[Length(max=100)])
    pathway = SelectField("Pathway", widget=GovSelect(), default="", validate_choice=False)
    setting = SelectField("Where", widget=GovSelect(), default="", validate_choice=False)
    submit = SubmitField("Search", widget=GovSubmitInput())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pathway.choices = {"": "Any pathway"} | PATHWAY_CHOICES
        self.setting.choices = {"": "Custody or community", "custody": "In custody", "community": "In the community"}
