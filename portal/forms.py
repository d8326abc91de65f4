"""Form fields shared across the portal: GOV.UK date inputs with GOV.UK error messages."""

from __future__ import annotations

from datetime import date
from typing import Any

from govuk_frontend_wtf.wtforms_widgets import GovDateInput
from wtforms import Field, validators
from wtforms.validators import StopValidation

from portal.dates import OUTSIDE_BOUNDS, within_bounds


class GovDateField(Field):
    """A GOV.UK date input (day, month, year boxes) giving a `date`, or None when left empty.

    Messages follow the Design System: "Enter the start date", "Start date must be a real date",
    "Start date must include a year".
    """

    widget = GovDateInput()

    def __init__(
        self, label: str | None = None, validators: Any = None, *, name_in_messages: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(label, validators, **kwargs)
        self.name_in_messages = name_in_messages or (label or "Date")

    def _value(self) -> str:
        return self.data.strftime("%d %m %Y") if isinstance(self.data, date) else ""

    def process_formdata(self, valuelist: list[str]) -> None:
        if len(valuelist) != 3:
            # Not submitted as three boxes: the widget must not try to show raw values.
            self.raw_data = None
            if valuelist:
                self.data = None
                raise ValueError(f"{self.name_in_messages} must be a real date")
            return
        parts = [value.strip() for value in valuelist]
        if not any(parts):
            self.data = None
            return
        missing = [name for name, value in zip(("day", "month", "year"), parts, strict=False) if not value]
        if missing:
            self.data = None
            raise ValueError(f"{self.name_in_messages} must include a {' and '.join(missing)}")
        try:
            day, month, year = (int(value) for value in parts)
            if year < 1000:
                raise ValueError
            self.data = date(year, month, day)
        except (ValueError, OverflowError):
            self.data = None
            raise ValueError(f"{self.name_in_messages} must be a real date") from None
        if not within_bounds(self.data):
            self.data = None
            raise ValueError(f"{self.name_in_messages} {OUTSIDE_BOUNDS}")


class DateRequired:
    """Like InputRequired, for GovDateField: "Enter the start date"."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self, form: Any, field: Field) -> None:
        if field.data is None and not field.process_errors:
            field.errors[:] = []
            raise StopValidation(self.message)


class Length(validators.Length):
    """WTForms' Length, with a message naming the field in the GOV.UK style ("Start time must be 5
    characters or fewer") instead of "Field cannot be longer than 5 characters."."""

    def __call__(self, form: Any, field: Any) -> None:
        if self.message is not None:
            super().__call__(form, field)
            return
        length = len(field.data) if field.data else 0
        if length >= self.min and (self.max == -1 or length <= self.max):
            return
        name = str(field.label.text or "This").rstrip("?").strip()
        if self.max != -1 and self.min in (-1, 0):
            message = f"{name} must be {self.max:,} characters or fewer"
        elif self.max == -1:
            message = f"{name} must be {self.min:,} characters or more"
        else:
            message = f"{name} must be between {self.min:,} and {self.max:,} characters"
        raise validators.ValidationError(message)
