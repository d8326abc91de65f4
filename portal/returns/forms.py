"""Forms for service returns: starting one, its narrative, the contract manager's decisions, bulk downloads."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSelect, GovTextArea
from wtforms import HiddenField, SelectField, TextAreaField
from wtforms.validators import InputRequired

from portal.forms import Length


class NewReturnForm(FlaskForm):
    contract = SelectField(
        "Contract", widget=GovSelect(), validate_choice=False, validators=[InputRequired("Select a contract")]
    )
    period = SelectField(
        "Period",
        widget=GovSelect(),
        validate_choice=False,
        validators=[InputRequired("Select the period to report on")],
    )


class NarrativeForm(FlaskForm):
    version = HiddenField()
    achievements = TextAreaField("Achievements", widget=GovTextArea(), validators=[Length(max=5000)])
    challenges = TextAreaField("Challenges", widget=GovTextArea(), validators=[Length(max=5000)])
    case_study = TextAreaField("Case study", widget=GovTextArea(), validators=[Length(max=5000)])
    safeguarding_note = TextAreaField(
        "About the safeguarding concerns", widget=GovTextArea(), validators=[Length(max=5000)]
    )
    complaints = TextAreaField("Complaints (optional)", widget=GovTextArea(), validators=[Length(max=5000)])
    staffing = TextAreaField("Staffing (optional)", widget=GovTextArea(), validators=[Length(max=5000)])


class ConfirmForm(FlaskForm):
    version = HiddenField()


class ReturnForm(FlaskForm):
    version = HiddenField()
    reason = TextAreaField("What needs to change?", widget=GovTextArea(), validators=[Length(max=2000)])


class BulkForm(FlaskForm):
    period = SelectField(
        "Period", widget=GovSelect(), validate_choice=False, validators=[InputRequired("Select a period")]
    )
