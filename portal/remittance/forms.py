"""Forms for remittance details (GOV.UK widgets); the rules are the service's, whose errors name
these fields."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovSubmitInput, GovTextArea, GovTextInput
from wtforms import HiddenField, StringField, SubmitField, TextAreaField

from portal.contracts.forms import VersionedForm
from portal.forms import Length


class BankAccountForm(FlaskForm):
    account_name = StringField("Name on the account", widget=GovTextInput(), validators=[Length(max=200)])
    sort_code = StringField("Sort code", widget=GovTextInput(), validators=[Length(max=20)])
    account_number = StringField("Account number", widget=GovTextInput(), validators=[Length(max=20)])
    submit = SubmitField("Ask the CRC to confirm the change", widget=GovSubmitInput())


class RemittanceForm(VersionedForm):
    remittance_email = StringField("Remittance email", widget=GovTextInput(), validators=[Length(max=254)])
    submit = SubmitField("Save remittance details", widget=GovSubmitInput())


def remittance_form(contracts: list[Any], **kwargs: Any) -> RemittanceForm:
    """The form with a purchase order number box for each of the organisation's contracts
    (`po_<contract id>`)."""

    class Form(RemittanceForm):
        pass

    for contract in contracts:
        setattr(
            Form,
            f"po_{contract.id}",
            StringField(
                f"Purchase order number for {contract.reference}", widget=GovTextInput(), validators=[Length(max=100)]
            ),
        )
    return Form(**kwargs)


class DecideChangeForm(FlaskForm):
    """Confirm (or reject, with a reason) the change the contract manager read: its id."""

    change_id = HiddenField()
    reason = TextAreaField("Reason", widget=GovTextArea(), validators=[Length(max=2000)])
    submit = SubmitField("Confirm", widget=GovSubmitInput())
