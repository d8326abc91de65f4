"""Forms for answering, assigning, withdrawing and amending referrals, and for case notes."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovCheckboxInput,
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
from wtforms.validators import InputRequired, Optional

from portal.forms import GovDateField, Length
from portal.referrals.models import (
    C2C,
    ColourBand,
    DeclineReason,
    Reoffending,
    RiskFlag,
    RoshLevel,
    WithdrawReason,
)

RISK_FLAG_CHOICES = {flag.value: flag.label for flag in RiskFlag}
ROSH_CHOICES = {level.value: level.label for level in RoshLevel}


class VersionedForm(FlaskForm):
    """Carries the version of the referral the user read, so a lost race is detected."""

    version = HiddenField()


class AcceptForm(VersionedForm):
    risk_information_read = BooleanField(
        "I have read the risk information", widget=GovCheckboxInput(), false_values=("", "false", "n")
    )
    caseworker = SelectField("Caseworker (optional)", widget=GovSelect(), default="", validate_choice=False)
    submit = SubmitField("Accept referral", widget=GovSubmitInput())


class DeclineForm(VersionedForm):
    reason_code = RadioField(
        "Why are you declining the referral?",
        widget=GovRadioInput(),
        choices={reason.value: reason.label for reason in DeclineReason},
        validate_choice=False,
    )
    detail = TextAreaField("Explain why", widget=GovTextArea(), validators=[Length(max=5000)])
    submit = SubmitField("Decline referral", widget=GovSubmitInput())


class AssignForm(VersionedForm):
    caseworker = SelectField("Caseworker", widget=GovSelect(), default="", validate_choice=False)
    submit = SubmitField("Assign", widget=GovSubmitInput())


class WithdrawForm(VersionedForm):
    reason_code = RadioField(
        "Why are you withdrawing the referral?",
        widget=GovRadioInput(),
        choices={reason.value: reason.label for reason in WithdrawReason},
        validate_choice=False,
    )
    detail = TextAreaField("Explain why", widget=GovTextArea(), validators=[Length(max=5000)])
    submit = SubmitField("Withdraw referral", widget=GovSubmitInput())


class AmendForm(VersionedForm):
    rosh_level = RadioField("Risk of serious harm", widget=GovRadioInput(), choices=ROSH_CHOICES, validate_choice=False)
    risk_flags = SelectMultipleField(
        "Risk flags", widget=GovCheckboxesInput(), choices=RISK_FLAG_CHOICES, validate_choice=False
    )
    risk_summary = TextAreaField("Risk summary", widget=GovTextArea(), validators=[Length(max=5000)])
    desired_outcomes = TextAreaField("Desired outcomes (one a line)", widget=GovTextArea())
    rar_days = StringField("RAR days", widget=GovTextInput(), validators=[Optional(), Length(max=3)])
    expected_release_date = GovDateField("Expected release date", name_in_messages="Expected release date")
    contact_details = TextAreaField("Contact details", widget=GovTextArea(), validators=[Length(max=5000)])
    reoffending = RadioField(
        "Likelihood of reoffending",
        widget=GovRadioInput(),
        validate_choice=False,
        choices={"": "Not known"} | {r.value: r.value.capitalize() for r in Reoffending},
    )
    c2c = RadioField(
        "C2C",
        widget=GovRadioInput(),
        validate_choice=False,
        choices={"": "Not known"} | {c.value: c.value.capitalize() for c in C2C},
    )
    colour_band = RadioField(
        "Colour band",
        widget=GovRadioInput(),
        validate_choice=False,
        choices={"": "The suggested band"}
        | {b.value: f"{b.label}: {b.minimum_hours} hours minimum" for b in ColourBand},
    )
    colour_band_reason = TextAreaField(
        "Why a band other than the suggested one", widget=GovTextArea(), validators=[Length(max=2000)]
    )
    reason = TextAreaField(
        "Why are you making this change?",
        widget=GovTextArea(),
        validators=[InputRequired(message="Explain why you are amending the referral"), Length(max=2000)],
    )
    submit = SubmitField("Save amendment", widget=GovSubmitInput())


class CaseNoteForm(FlaskForm):
    body = TextAreaField(
        "Add a case note", widget=GovTextArea(), validators=[InputRequired(message="Enter the note"), Length(max=5000)]
    )
    submit = SubmitField("Add note", widget=GovSubmitInput())
