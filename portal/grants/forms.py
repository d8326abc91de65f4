"""Forms for grant schedules, grant payments, grant-funded activity and expected volumes (GOV.UK
widgets). They read what people type; the rules are the services', whose errors name these fields."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxInput,
    GovFileInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextArea,
    GovTextInput,
)
from wtforms import BooleanField, RadioField, SelectField, StringField, SubmitField, TextAreaField

from portal.contracts.forms import VersionedForm
from portal.forms import DateRequired, GovDateField, Length
from portal.grants.models import ActivityKind, Timing

TIMING_CHOICES = {
    Timing.ADVANCE.value: "In advance: paid on or before the first day of the period",
    Timing.ARREARS.value: "In arrears: paid after the period has ended",
}


class InstalmentForm(FlaskForm):
    period_start = GovDateField("Period starts", name_in_messages="The period's first day")
    period_end = GovDateField("Period ends", name_in_messages="The period's last day")
    due_on = GovDateField("Due date", name_in_messages="The due date")
    amount = StringField("Amount", widget=GovTextInput(), validators=[Length(max=20)])
    timing = RadioField("Paid", widget=GovRadioInput(), choices=TIMING_CHOICES, validate_choice=False)
    needs_accepted_return = BooleanField(
        "Release it only when the service returns for its period have been accepted", widget=GovCheckboxInput()
    )
    submit = SubmitField("Add instalment", widget=GovSubmitInput())


class FileForm(FlaskForm):
    file = FileField("CSV file", widget=GovFileInput())
    submit = SubmitField("Import", widget=GovSubmitInput())


class VolumesFileForm(FlaskForm):
    what = RadioField(
        "What the file holds",
        widget=GovRadioInput(),
        choices={
            "starts": "Expected starts: month, service_code, expected_starts",
            "spend": "Spend profile: month, expected_spend",
        },
        validate_choice=False,
    )
    file = FileField("CSV file", widget=GovFileInput())
    submit = SubmitField("Import", widget=GovSubmitInput())


class ExpectedStartsForm(VersionedForm):
    """One figure of the contract's expected starts: a service (or the whole contract) and a month.
    The version is 0 for a figure not yet set."""

    service_code = SelectField("Service", widget=GovSelect(), validate_choice=False)
    month = StringField("Month", widget=GovTextInput(), validators=[Length(max=7)])
    expected_starts = StringField("Starts expected in the month", widget=GovTextInput(), validators=[Length(max=7)])
    submit = SubmitField("Save expected starts", widget=GovSubmitInput())


class ExpectedStartsRangeForm(FlaskForm):
    """The same starts expected of a service (or the whole contract) in each month of a range."""

    service_code = SelectField("Service", widget=GovSelect(), validate_choice=False)
    from_month = StringField("First month", widget=GovTextInput(), validators=[Length(max=7)])
    to_month = StringField("Last month", widget=GovTextInput(), validators=[Length(max=7)])
    expected_starts = StringField("Starts expected in each month", widget=GovTextInput(), validators=[Length(max=7)])
    submit = SubmitField("Save expected starts", widget=GovSubmitInput())


class ConfirmForm(VersionedForm):
    submit = SubmitField("Confirm", widget=GovSubmitInput())


class ReasonForm(VersionedForm):
    reason = TextAreaField("Reason", widget=GovTextArea(), validators=[Length(max=2000)])
    submit = SubmitField("Confirm", widget=GovSubmitInput())


class MarkPaidForm(VersionedForm):
    paid_on = GovDateField(
        "Date paid", validators=[DateRequired("Enter the date it was paid")], name_in_messages="Date paid"
    )
    payment_reference = StringField("Payment reference", widget=GovTextInput(), validators=[Length(max=60)])
    submit = SubmitField("Mark as paid", widget=GovSubmitInput())


class ReplaceForm(VersionedForm):
    """A replacement for a rejected grant payment: the contract manager may change its amount and
    due date (the partner's manager sees no fields: it is replaced as it was scheduled)."""

    amount = StringField("Amount", widget=GovTextInput(), validators=[Length(max=20)])
    due_on = GovDateField("Due date", name_in_messages="The due date")
    submit = SubmitField("Put a replacement on the schedule", widget=GovSubmitInput())


class ActivityForm(FlaskForm):
    day = GovDateField("Date", validators=[DateRequired("Enter the date of the activity")], name_in_messages="Date")
    kind = RadioField(
        "Kind of activity",
        widget=GovRadioInput(),
        choices={kind.value: kind.label for kind in ActivityKind},
        validate_choice=False,
    )
    attendees = StringField("How many people came", widget=GovTextInput(), validators=[Length(max=6)])
    duration_minutes = StringField(
        "How long it lasted, in minutes", widget=GovTextInput(), default="60", validators=[Length(max=6)]
    )
    description = StringField("What it was (optional)", widget=GovTextInput(), validators=[Length(max=200)])
    submit = SubmitField("Record activity", widget=GovSubmitInput())
