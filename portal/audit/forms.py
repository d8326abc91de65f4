"""The audit log's filter form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSelect, GovSubmitInput, GovTextInput
from wtforms import SelectField, StringField, SubmitField
from wtforms.validators import Optional, ValidationError

from portal.dates import parse_user_date
from portal.forms import Length


def _valid_date(form: FlaskForm, field: StringField) -> None:
    if field.data and parse_user_date(field.data) is None:
        raise ValidationError(f"{field.label.text} must be a real date, like 3/3/2026")


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    user = StringField("User's email", widget=GovTextInput(), validators=[Optional(), Length(max=254)])
    action = SelectField("Action", widget=GovSelect(), coerce=str, default="")
    record_type = SelectField("Record type", widget=GovSelect(), coerce=str, default="")
    record_id = StringField("Record ID", widget=GovTextInput(), validators=[Optional(), Length(max=64)])
    date_from = StringField("From", widget=GovTextInput(), validators=[Optional(), _valid_date])
    date_to = StringField("To", widget=GovTextInput(), validators=[Optional(), _valid_date])
    submit = SubmitField("Filter", widget=GovSubmitInput())
