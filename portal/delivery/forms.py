"""Forms for sessions, outcomes, corrections and the end-of-service report (GOV.UK widgets)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from govuk_frontend_wtf.wtforms_widgets import (
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
    FieldList,
    FormField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)

from portal.delivery.models import Achievement, Attendance, NonAttendanceReason, SessionKind
from portal.forms import GovDateField, Length

ATTENDANCE_CHOICES = {"": "Not yet: the session is in the future"} | {a.value: a.label for a in Attendance}
REASON_CHOICES = {r.value: r.label for r in NonAttendanceReason}


class SessionForm(FlaskForm):
    version = HiddenField()
    date = GovDateField("Date", name_in_messages="The date")
    start_time = StringField("Start time", widget=GovTextInput(), validators=[Length(max=5)])
    duration_minutes = StringField("Length in minutes", widget=GovTextInput(), validators=[Length(max=4)])
    kind = RadioField(
        "Kind of session",
        widget=GovRadioInput(),
        validate_choice=False,
        choices={k.value: k.label for k in SessionKind if k != SessionKind.GROUP},
    )
    attendance = RadioField(
        "Attendance", widget=GovRadioInput(), validate_choice=False, choices=ATTENDANCE_CHOICES, default=""
    )
    non_attendance_reason = RadioField(
        "Why was it missed?", widget=GovRadioInput(), validate_choice=False, choices=REASON_CHOICES
    )
    counts_as_rar_day = BooleanField("This session counts as a RAR day", widget=GovCheckboxInput())
    summary = TextAreaField("Summary", widget=GovTextArea(), validators=[Length(max=5000)])
    behaviour_concern = BooleanField("There was a behaviour concern", widget=GovCheckboxInput())
    concern_detail = TextAreaField("Describe the concern", widget=GovTextArea(), validators=[Length(max=5000)])


class RescheduleForm(FlaskForm):
    version = HiddenField()
    date = GovDateField("New date", name_in_messages="The new date")
    start_time = StringField("New start time", widget=GovTextInput(), validators=[Length(max=5)])
    reason = TextAreaField("Why is it moving?", widget=GovTextArea(), validators=[Length(max=2000)])


class NoteForm(FlaskForm):
    body = TextAreaField("What is wrong with the record?", widget=GovTextArea(), validators=[Length(max=5000)])


class ConfirmForm(FlaskForm):
    version = HiddenField()


class OutcomeForm(FlaskForm):
    version = HiddenField()
    outcome_type_id = SelectField("Outcome", widget=GovSelect(), default="", validate_choice=False)
    achieved_on = GovDateField("Date achieved", name_in_messages="The date achieved")
    evidence = TextAreaField("Evidence", widget=GovTextArea(), validators=[Length(max=5000)])
    evidence_files = MultipleFileField("Evidence files (optional)", widget=GovFileInput(multiple=True))


class RejectForm(FlaskForm):
    version = HiddenField()
    reason = TextAreaField("Why is the claim rejected?", widget=GovTextArea(), validators=[Length(max=2000)])


class AchievementForm(FlaskForm):
    class Meta:
        csrf = False  # part of the report form, which carries the token

    achievement = RadioField(
        "How did it go?", widget=GovRadioInput(), validate_choice=False, choices={a.value: a.label for a in Achievement}
    )
    comment = TextAreaField("Comment (optional)", widget=GovTextArea(), validators=[Length(max=2000)])


class CompleteForm(FlaskForm):
    version = HiddenField()
    outcomes = FieldList(FormField(AchievementForm))
    summary = TextAreaField("Summary of the work", widget=GovTextArea(), validators=[Length(max=5000)])
    further_needs = TextAreaField("Further needs (optional)", widget=GovTextArea(), validators=[Length(max=5000)])


class GroupSessionForm(FlaskForm):
    """Correcting a group session's details (each person's attendance is corrected on their session)."""

    title = StringField("Title", widget=GovTextInput(), validators=[Length(max=200)])
    facilitator = StringField("Facilitator", widget=GovTextInput(), validators=[Length(max=200)])
    date = GovDateField("Date", name_in_messages="The date")
    start_time = StringField("Start time", widget=GovTextInput(), validators=[Length(max=5)])
    duration_minutes = StringField("Length in minutes", widget=GovTextInput(), validators=[Length(max=4)])
    submit = SubmitField("Save corrections", widget=GovSubmitInput())
