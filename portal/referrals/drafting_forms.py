"""Forms for the referral wizard, one per part. They parse what people type; the rules are in
referrals.validation, so the same rules hold for the API and the bulk import."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxesInput,
    GovCheckboxInput,
    GovRadioInput,
    GovSelect,
    GovTextArea,
    GovTextInput,
)
from wtforms import BooleanField, HiddenField, RadioField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import InputRequired

from portal.forms import GovDateField, Length
from portal.people.models import ETHNICITIES, Disability, Gender
from portal.referrals.models import (
    C2C,
    ColourBand,
    Complexity,
    LocationType,
    ReleaseType,
    Reoffending,
    RiskFlag,
    RoshLevel,
)


class StepForm(FlaskForm):
    version = HiddenField()


class ConfirmSendForm(StepForm):
    """Starting, sending or discarding a draft: the CSRF token, the version and (when an open
    referral looks like the same one) the referrer's word that this is not a duplicate."""

    not_a_duplicate = BooleanField(
        "This is not a duplicate: send it as well",
        widget=GovCheckboxInput(),
    )


class ServiceForm(StepForm):
    # Empty, it is the service that is missing, whatever the rules would say of the contract.
    service = SelectField(
        "Service",
        widget=GovSelect(),
        default="",
        validate_choice=False,
        validators=[InputRequired(message="Select the service to refer the person to")],
    )


class PersonForm(StepForm):
    crn = StringField("CRN", widget=GovTextInput(), validators=[Length(max=20)])
    prison_number = StringField("Prison number (optional)", widget=GovTextInput(), validators=[Length(max=20)])
    given_name = StringField("First name", widget=GovTextInput(), validators=[Length(max=100)])
    family_name = StringField("Last name", widget=GovTextInput(), validators=[Length(max=100)])
    date_of_birth = GovDateField("Date of birth", name_in_messages="Date of birth")
    gender = RadioField(
        "Gender", widget=GovRadioInput(), choices={g.value: g.label for g in Gender}, validate_choice=False
    )
    ethnicity = SelectField(
        "Ethnic group",
        widget=GovSelect(),
        default="",
        validate_choice=False,
        choices={"": "Choose an ethnic group"} | {code: label for code, _, label in ETHNICITIES},
    )
    disability = RadioField(
        "Does the person have a disability?",
        widget=GovRadioInput(),
        choices={d.value: d.label for d in Disability},
        validate_choice=False,
    )
    interpreter_language = StringField(
        "Interpreter language (optional)", widget=GovTextInput(), validators=[Length(max=60)]
    )


class LocationForm(StepForm):
    location_type = RadioField(
        "Where is the person?",
        widget=GovRadioInput(),
        choices={t.value: t.label for t in LocationType},
        validate_choice=False,
    )
    # Choices: the CRC's prisons and probation offices in use (set by the page, from portal.places).
    prison = SelectField("Prison", widget=GovSelect(), default="", validate_choice=False)
    expected_release_date = GovDateField("Expected release date", name_in_messages="Expected release date")
    reception_date = GovDateField("Reception date (optional)", name_in_messages="The reception date")
    release_type = SelectField(
        "How will they be released? (optional)",
        widget=GovSelect(),
        default="",
        validate_choice=False,
        choices={"": "Not known yet"} | {kind.value: kind.label for kind in ReleaseType},
    )
    community_office = SelectField("Probation office", widget=GovSelect(), default="", validate_choice=False)
    postcode = StringField("Postcode (optional)", widget=GovTextInput(), validators=[Length(max=10)])
    contact_details = TextAreaField("Contact details (optional)", widget=GovTextArea(), validators=[Length(max=5000)])


class RiskForm(StepForm):
    rosh_level = RadioField(
        "Risk of serious harm",
        widget=GovRadioInput(),
        choices={level.value: level.label for level in RoshLevel},
        validate_choice=False,
    )
    risk_flags = SelectMultipleField(
        "Risk flags",
        widget=GovCheckboxesInput(),
        choices={flag.value: flag.label for flag in RiskFlag},
        validate_choice=False,
    )
    risk_summary = TextAreaField("Risk summary", widget=GovTextArea(), validators=[Length(max=5000)])


class NeedsForm(StepForm):
    complexity = RadioField(
        "How complex are the person's needs?",
        widget=GovRadioInput(),
        choices={c.value: c.label for c in Complexity},
        validate_choice=False,
    )
    desired_outcomes = TextAreaField("Desired outcomes", widget=GovTextArea(), validators=[Length(max=6000)])
    reason = TextAreaField("Reason for referral and needs", widget=GovTextArea(), validators=[Length(max=5000)])
    rar_days = StringField("RAR days ordered (optional)", widget=GovTextInput(), validators=[Length(max=3)])
    sentence_end_date = GovDateField("Sentence end date", name_in_messages="Sentence end date")
    reoffending = RadioField(
        "Likelihood of reoffending (optional)",
        widget=GovRadioInput(),
        validate_choice=False,
        choices={r.value: r.value.capitalize() for r in Reoffending},
    )
    c2c = RadioField(
        "C2C (optional)",
        widget=GovRadioInput(),
        validate_choice=False,
        choices={c.value: c.value.capitalize() for c in C2C},
    )
    colour_band = RadioField(
        "Colour band (optional)",
        widget=GovRadioInput(),
        validate_choice=False,
        choices={"": "The suggested band, or none"}
        | {b.value: f"{b.label}: {b.minimum_hours} hours minimum" for b in ColourBand},
    )
    colour_band_reason = TextAreaField(
        "Why a band other than the suggested one (optional)", widget=GovTextArea(), validators=[Length(max=2000)]
    )
    urgent = BooleanField("This referral is urgent", widget=GovCheckboxInput())


FORMS = {
    "service": ServiceForm,
    "person": PersonForm,
    "location": LocationForm,
    "risk": RiskForm,
    "needs": NeedsForm,
}

TITLES = {
    "service": "Which service are you referring to?",
    "person": "Who are you referring?",
    "location": "Where is the person?",
    "risk": "Risk information",
    "needs": "Needs and desired outcomes",
}
