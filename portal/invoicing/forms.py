"""Forms for invoices: generating a draft, deciding (query, reject, mark paid), crediting, and the
small confirm forms behind each button (GOV.UK widgets).

The forms read what people type; the rules (which months may be billed, what may be credited,
when a payment date is possible) are the service's, whose errors name these fields. Every form
that changes an invoice carries the version the user read, so a change made meanwhile is noticed.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_wtf import FlaskForm
from govuk_frontend_wtf.gov_form_base import GovFormBase
from govuk_frontend_wtf.wtforms_widgets import GovRadioInput, GovSelect, GovSubmitInput, GovTextArea, GovTextInput
from wtforms import Field, RadioField, SelectField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, StopValidation

from portal.contracts.forms import VersionedForm
from portal.forms import DateRequired, GovDateField, Length
from portal.invoicing.models import InvoiceStatus

# --- a month: GOV.UK's date input with month and year boxes only --------------------------------------


class GovMonthInput(GovFormBase):
    """Month and year boxes. The month box takes the field's id, so the error summary's link
    (to `#<field id>`) lands in it; the group around the boxes is `<id>-input`."""

    template = "govuk_frontend_wtf/date.html"

    def __call__(self, field: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("id", field.id)
        return super().__call__(field, **kwargs)

    def map_gov_params(self, field: Any, **kwargs: Any) -> dict[str, Any]:
        params = super().map_gov_params(field, **kwargs)
        month, year = field.boxes()
        error_class = " govuk-input--error" if field.errors else ""
        params["id"] = f"{field.id}-input"
        params.setdefault("fieldset", {"legend": {"text": field.label.text}})
        params["items"] = [
            {
                "label": "Month",
                "id": field.id,
                "name": field.name,
                "classes": "govuk-input--width-2" + error_class,
                "value": month,
            },
            {
                "label": "Year",
                "id": f"{field.id}-year",
                "name": field.name,
                "classes": "govuk-input--width-4" + error_class,
                "value": year,
            },
        ]
        return params


class MonthField(Field):
    """A month typed as month and year (like 9 and 2026): `data` is its first day, or None."""

    widget = GovMonthInput()

    def __init__(self, label: str | None = None, validators: Any = None, *, what: str = "Month", **kwargs: Any):
        super().__init__(label, validators, **kwargs)
        self.what = what

    def boxes(self) -> tuple[str, str]:
        if self.raw_data is not None and len(self.raw_data) == 2:
            return self.raw_data[0], self.raw_data[1]
        if isinstance(self.data, date):
            return str(self.data.month), str(self.data.year)
        return "", ""

    def process_formdata(self, valuelist: list[str]) -> None:
        if len(valuelist) != 2:
            self.raw_data = None
            if valuelist:
                self.data = None
                raise ValueError(f"{self.what} must be a real month")
            return
        month, year = (value.strip() for value in valuelist)
        if not month and not year:
            self.data = None
            return
        if not year:
            self.data = None
            raise ValueError(f"{self.what} must include a year")
        if not month:
            self.data = None
            raise ValueError(f"{self.what} must include a month")
        try:
            number, whole_year = int(month), int(year)
            if whole_year < 1000:
                raise ValueError
            self.data = date(whole_year, number, 1)
        except ValueError:
            self.data = None
            raise ValueError(f"{self.what} must be a real month") from None


class MonthRequired:
    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self, form: Any, field: Field) -> None:
        if field.data is None and not field.process_errors:
            field.errors[:] = []
            raise StopValidation(self.message)


# --- the forms -----------------------------------------------------------------------------------------


class GenerateForm(FlaskForm):
    contract = SelectField("Contract", widget=GovSelect(), default="", validate_choice=False)
    period = MonthField(
        "Month to invoice", validators=[MonthRequired("Enter the month to invoice")], what="The month to invoice"
    )
    # Only for a month still running, before its last working day (the service asks for it then).
    early_reason = TextAreaField(
        "Reason for invoicing before the month ends", widget=GovTextArea(), validators=[Length(max=2000)]
    )
    submit = SubmitField("Generate draft invoice", widget=GovSubmitInput())

    def validate_contract(self, field: Field) -> None:
        if not (field.data or "").strip():
            raise StopValidation("Select the contract to invoice")


class ConfirmForm(VersionedForm):
    """A button that changes an invoice: the CSRF token and the version the user read."""

    submit = SubmitField("Confirm", widget=GovSubmitInput())


class ReasonForm(VersionedForm):
    reason = TextAreaField("Reason", widget=GovTextArea(), validators=[Length(max=2000)])
    submit = SubmitField("Confirm", widget=GovSubmitInput())


class MarkPaidForm(VersionedForm):
    paid_on = GovDateField(
        "Date paid", validators=[DateRequired("Enter the date it was paid")], name_in_messages="Date paid"
    )
    payment_reference = StringField(
        "Payment reference",
        widget=GovTextInput(),
        validators=[Length(max=60)],  # required: the service says so, beside what it says of the date
    )
    submit = SubmitField("Mark as paid", widget=GovSubmitInput())


REBILL_CHOICES = {
    "yes": "Yes, the work was done: it can go on a later invoice, correctly",
    "no": "No, the work is not to be paid for",
}


class CreditNoteForm(VersionedForm):
    # Ticked events, and whole lines (for lines with too many events to list one by one).
    event_ids = SelectMultipleField("Work to credit", validate_choice=False)
    line_ids = SelectMultipleField("Whole lines to credit", validate_choice=False)
    reason = TextAreaField("Reason", widget=GovTextArea(), validators=[Length(max=2000)])
    rebill = RadioField(
        "Re-bill this work?",
        widget=GovRadioInput(),
        choices=REBILL_CHOICES,
        validators=[DataRequired("Select whether this work can be billed again")],
        validate_choice=False,
    )
    submit = SubmitField("Raise credit note", widget=GovSubmitInput())

    # Asked here too (the service asks again), so every missing answer shows at once.
    def validate_event_ids(self, field: Field) -> None:
        if not field.data and not self.line_ids.data:
            raise StopValidation("Choose the work to credit from this invoice's uncredited lines")

    def validate_reason(self, field: Field) -> None:
        if not (field.data or "").strip():
            raise StopValidation("Say why the work is credited, for example a session recorded in error")


class InvoiceFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    status = SelectField(
        "Status",
        widget=GovSelect(),
        default="",
        choices={"": "Any status"} | {status.value: status.label for status in InvoiceStatus},
        validate_choice=False,
    )
    contract = SelectField("Contract", widget=GovSelect(), default="", validate_choice=False)
    partner = SelectField("Partner", widget=GovSelect(), default="", validate_choice=False)


class QueryMessageForm(FlaskForm):
    body = TextAreaField("Your message", widget=GovTextArea())
    submit = SubmitField("Send", widget=GovSubmitInput())
