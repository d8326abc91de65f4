"""Forms for raising, acknowledging and closing safeguarding concerns, and naming team managers."""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Any

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

from portal.errors import ValidationFailed
from portal.formatting import LONDON
from portal.forms import GovDateField, Length
from portal.safeguarding.models import RISK_FIELDS, AtRisk, CheckStatus, ConcernCategory, ConcernOutcome, Urgency

TIME = re.compile(r"^([01]?\d|2[0-3])[:.]([0-5]\d)$")


class RaiseConcernForm(FlaskForm):
    category = RadioField(
        "What is the concern about?",
        widget=GovRadioInput(),
        validate_choice=False,
        choices={category.value: category.label for category in ConcernCategory},
    )
    what_happened = TextAreaField(
        "What happened, and who is at risk?", widget=GovTextArea(), validators=[Length(max=5000)]
    )
    urgency = RadioField(
        "How urgent is it?",
        widget=GovRadioInput(),
        validate_choice=False,
        choices={
            Urgency.URGENT.value: "Urgent: the referrer must acknowledge it within 4 working hours",
            Urgency.STANDARD.value: "Not urgent: within 8 working hours (one working day)",
        },
    )
    told_mash = BooleanField("The MASH (multi-agency safeguarding hub)", widget=GovCheckboxInput())
    told_police = BooleanField("The police", widget=GovCheckboxInput())
    told_responsible_officer = BooleanField("The responsible officer", widget=GovCheckboxInput())
    told_at = GovDateField("Date you told them", name_in_messages="The date you told them")
    told_time = StringField("Time you told them", widget=GovTextInput(), validators=[Length(max=5)])
    rosh_high = BooleanField(
        "The risk of serious harm is now high: the case must transfer to the NPS", widget=GovCheckboxInput()
    )
    submit = SubmitField("Raise the concern", widget=GovSubmitInput())

    def fields_for_service(self) -> dict[str, Any]:
        """The concern as the service takes it; the date and time boxes become one London moment."""
        told_at: datetime | None = None
        text = (self.told_time.data or "").strip()
        if self.told_at.data is not None or text:
            match = TIME.match(text)
            if self.told_at.data is None:
                raise ValidationFailed.single("told_at", "Enter the date you told them")
            if not match:
                raise ValidationFailed.single("told_time", "Enter the time you told them, like 14:30")
            told_at = datetime.combine(self.told_at.data, time(int(match[1]), int(match[2])), tzinfo=LONDON)
        return {
            "category": self.category.data,
            "what_happened": self.what_happened.data,
            "urgency": self.urgency.data,
            "told_mash": self.told_mash.data,
            "told_police": self.told_police.data,
            "told_responsible_officer": self.told_responsible_officer.data,
            "told_at": told_at,
            "rosh_high": self.rosh_high.data,
        }


class CloseConcernForm(FlaskForm):
    version = HiddenField()
    outcome = RadioField(
        "What was the outcome?",
        widget=GovRadioInput(),
        validate_choice=False,
        choices={outcome.value: outcome.label for outcome in ConcernOutcome},
    )
    outcome_detail = TextAreaField("What was done", widget=GovTextArea(), validators=[Length(max=5000)])
    submit = SubmitField("Close the concern", widget=GovSubmitInput())


class TeamManagerForm(FlaskForm):
    team_manager = SelectField("Team manager", widget=GovSelect(), validate_choice=False, default="")
    submit = SubmitField("Save", widget=GovSubmitInput())


class RiskSummaryForm(FlaskForm):
    based_on = HiddenField()
    at_risk = SelectMultipleField(
        "Who is at risk?",
        widget=GovCheckboxesInput(),
        validate_choice=False,
        choices={who.value: who.label for who in AtRisk},
    )
    nature = TextAreaField("Nature of the risk", widget=GovTextArea(), validators=[Length(max=5000)])
    when_greatest = TextAreaField("When is the risk greatest?", widget=GovTextArea(), validators=[Length(max=5000)])
    protective_factors = TextAreaField("Protective factors", widget=GovTextArea(), validators=[Length(max=5000)])
    police_da_check = RadioField(
        "Police domestic abuse check",
        widget=GovRadioInput(),
        validate_choice=False,
        choices={status.value: status.label for status in CheckStatus},
        default=CheckStatus.NOT_REQUESTED.value,
    )
    police_da_check_on = GovDateField("Date of the police check", name_in_messages="The date of the police check")
    childrens_services_check = RadioField(
        "Children's services check",
        widget=GovRadioInput(),
        validate_choice=False,
        choices={status.value: status.label for status in CheckStatus},
        default=CheckStatus.NOT_REQUESTED.value,
    )
    childrens_services_check_on = GovDateField(
        "Date of the children's services check", name_in_messages="The date of the children's services check"
    )
    mappa = BooleanField("Managed under MAPPA", widget=GovCheckboxInput())
    iom = BooleanField("Managed under Integrated Offender Management (IOM)", widget=GovCheckboxInput())
    lone_working_restrictions = TextAreaField(
        "Lone-working restrictions", widget=GovTextArea(), validators=[Length(max=5000)]
    )
    reason = TextAreaField("Why are you amending it?", widget=GovTextArea(), validators=[Length(max=5000)])
    submit = SubmitField("Save the risk summary", widget=GovSubmitInput())

    def fields_for_service(self) -> dict[str, Any]:
        return {name: getattr(self, name).data for name in RISK_FIELDS}
