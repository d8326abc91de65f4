"""Forms for writing an action plan, deciding on it, submitting a progress review and reading one."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSelect, GovSubmitInput, GovTextArea, GovTextInput
from wtforms import FieldList, FormField, HiddenField, RadioField, SelectField, StringField, SubmitField, TextAreaField

from portal.errors import ValidationFailed
from portal.forms import Length
from portal.plans.models import Frequency, Progress

# A plan page offers this many activity rows; rows left blank are no activity.
ACTIVITY_ROWS = 6


class ActivityForm(FlaskForm):
    class Meta:
        csrf = False  # part of the plan form, which carries the token

    desired_outcome = SelectField("Desired outcome it works towards", widget=GovSelect(), validate_choice=False)
    description = TextAreaField("What will be done", widget=GovTextArea(), validators=[Length(max=5000)])
    sessions = StringField("Sessions planned", widget=GovTextInput(), validators=[Length(max=4)])
    frequency = SelectField(
        "How often",
        widget=GovSelect(),
        validate_choice=False,
        choices={"": "Choose how often"} | {f.value: f.label for f in Frequency},
    )


class PlanForm(FlaskForm):
    version = HiddenField()
    activities = FieldList(FormField(ActivityForm), min_entries=ACTIVITY_ROWS)
    rar_days_planned = StringField("RAR days planned", widget=GovTextInput(), validators=[Length(max=4)])
    save = SubmitField("Save as a draft", widget=GovSubmitInput())
    submit_plan = SubmitField("Submit for approval", widget=GovSubmitInput())

    def activities_for_service(self) -> list[dict[str, Any]]:
        return [
            {
                "desired_outcome": entry.form.desired_outcome.data or "",
                "description": entry.form.description.data or "",
                "sessions": (entry.form.sessions.data or "").strip(),
                "frequency": entry.form.frequency.data or "",
            }
            for entry in self.activities
        ]


class RequestChangesForm(FlaskForm):
    version = HiddenField()
    reason = TextAreaField("What should change, and why?", widget=GovTextArea(), validators=[Length(max=5000)])
    submit = SubmitField("Ask for changes", widget=GovSubmitInput())


class OutcomeProgressForm(FlaskForm):
    class Meta:
        csrf = False

    progress = RadioField(
        "Progress", widget=GovRadioInput(), validate_choice=False, choices={p.value: p.label for p in Progress}
    )
    comment = TextAreaField("What has happened towards it", widget=GovTextArea(), validators=[Length(max=5000)])


class ReviewForm(FlaskForm):
    outcomes = FieldList(FormField(OutcomeProgressForm))
    risk_observations = TextAreaField("Risk observations", widget=GovTextArea(), validators=[Length(max=5000)])
    submit = SubmitField("Submit the review", widget=GovSubmitInput())


class ReadReviewForm(FlaskForm):
    version = HiddenField()
    response = TextAreaField("Your response (optional)", widget=GovTextArea(), validators=[Length(max=5000)])
    submit = SubmitField("Mark as read", widget=GovSubmitInput())


def apply_nested_errors(form: FlaskForm, error: ValidationFailed) -> None:
    """A service's errors against the form's fields, rows of a list included: `activities-0-sessions`
    goes on the first row's sessions box, so the error summary links to it."""
    for name, messages in error.errors.items():
        target: Any = getattr(form, name, None)
        parts = name.split("-")
        if target is None and len(parts) == 3 and parts[1].isdigit():
            rows = getattr(form, parts[0], None)
            if rows is not None and int(parts[1]) < len(rows):
                target = getattr(rows[int(parts[1])].form, parts[2], None)
                if target is not None:
                    target.errors = list(target.errors) + list(messages)
                    # The list's errors were worked out when it validated: again, so the summary shows.
                    rows.errors = [entry.errors for entry in rows.entries]
                    continue
        if target is not None and hasattr(target, "errors") and not isinstance(target.errors, dict):
            target.errors = list(target.errors) + list(messages)
        else:
            form.form_errors.extend(messages)
