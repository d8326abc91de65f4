"""The release form: the day, how, where the person reports now, and the release-day checklist."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField, SubmitField, TextAreaField

from portal.forms import GovDateField, Length
from portal.referrals.models import ReleaseType
from portal.ttg.models import CHECKLIST, FirstNight


class ReleaseForm(FlaskForm):
    version = HiddenField()
    released_on = GovDateField("Release date", name_in_messages="The release date")
    release_type = RadioField(
        "How was the person released?",
        widget=GovRadioInput(),
        validate_choice=False,
        choices={kind.value: kind.label for kind in ReleaseType},
    )
    # Chosen from the CRC's own list of offices (portal/places), as a referral's is.
    community_office = SelectField("Probation office", widget=GovSelect(), default="", validate_choice=False)
    address_area = StringField("Address area (optional)", widget=GovTextInput(), validators=[Length(max=10)])
    first_night = RadioField(
        "Where are they sleeping on their first night out?",
        widget=GovRadioInput(),
        validate_choice=False,
        choices={kind.value: kind.label for kind in FirstNight},
    )
    first_night_address = TextAreaField(
        "First-night address (optional)", widget=GovTextArea(), validators=[Length(max=1000)]
    )
    id_held = BooleanField(dict(CHECKLIST)["id_held"], widget=GovCheckboxInput())
    bank_account = BooleanField(dict(CHECKLIST)["bank_account"], widget=GovCheckboxInput())
    benefit_claim = BooleanField(dict(CHECKLIST)["benefit_claim"], widget=GovCheckboxInput())
    gp_registered = BooleanField(dict(CHECKLIST)["gp_registered"], widget=GovCheckboxInput())
    met_at_gate = BooleanField(dict(CHECKLIST)["met_at_gate"], widget=GovCheckboxInput())
    submit = SubmitField("Record the release", widget=GovSubmitInput())

    def fields_for_service(self) -> dict[str, Any]:
        names = (
            "released_on",
            "release_type",
            "community_office",
            "address_area",
            "first_night",
            "first_night_address",
        )
        return {name: getattr(self, name).data for name in (*names, *(name for name, _ in CHECKLIST))}
