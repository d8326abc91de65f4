"""Forms for signing in, passwords and user administration (GOV.UK widgets)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import (
    GovPasswordInput,
    GovRadioInput,
    GovSelect,
    GovSubmitInput,
    GovTextInput,
)
from wtforms import HiddenField, IntegerField, PasswordField, RadioField, SelectField, StringField, SubmitField
from wtforms.validators import InputRequired
from wtforms.widgets import HiddenInput

from portal.accounts.models import MAX_TOKEN_NAME
from portal.forms import Length


class SignInForm(FlaskForm):
    email = StringField(
        "Email address",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter your email address"), Length(max=254)],
    )
    password = PasswordField(
        "Password",
        widget=GovPasswordInput(),
        validators=[InputRequired(message="Enter your password"), Length(max=1000)],
    )
    submit = SubmitField("Sign in", widget=GovSubmitInput())


class ForgotPasswordForm(FlaskForm):
    email = StringField(
        "Email address",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter your email address"), Length(max=254)],
    )
    submit = SubmitField("Send reset link", widget=GovSubmitInput())


class SetPasswordForm(FlaskForm):
    password = PasswordField(
        "New password",
        widget=GovPasswordInput(),
        validators=[InputRequired(message="Enter a new password")],
    )
    confirm_password = PasswordField(
        "Confirm new password",
        widget=GovPasswordInput(),
        validators=[InputRequired(message="Confirm your new password")],
    )
    submit = SubmitField("Save password", widget=GovSubmitInput())


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        widget=GovPasswordInput(),
        validators=[InputRequired(message="Enter your current password")],
    )
    new_password = PasswordField(
        "New password",
        widget=GovPasswordInput(),
        validators=[InputRequired(message="Enter a new password")],
    )
    confirm_new_password = PasswordField(
        "Confirm new password",
        widget=GovPasswordInput(),
        validators=[InputRequired(message="Confirm your new password")],
    )
    submit = SubmitField("Change password", widget=GovSubmitInput())


class UserForm(FlaskForm):
    """Inviting a user; editing uses the same fields less email and organisation."""

    name = StringField(
        "Full name",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter the person's full name"), Length(max=200)],
    )
    email = StringField(
        "Email address",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter an email address"), Length(max=254)],
    )
    organisation_id = SelectField(
        "Organisation",
        coerce=int,
        widget=GovSelect(),
        validators=[InputRequired(message="Select an organisation")],
    )
    role = RadioField(
        "Role",
        widget=GovRadioInput(),
        validators=[InputRequired(message="Select a role")],
        validate_choice=False,  # the service decides which roles fit, with a clear message
    )
    version = IntegerField(widget=HiddenInput())
    submit = SubmitField("Send invitation", widget=GovSubmitInput())


class EditUserForm(FlaskForm):
    name = StringField(
        "Full name",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter the person's full name"), Length(max=200)],
    )
    role = RadioField(
        "Role",
        widget=GovRadioInput(),
        validators=[InputRequired(message="Select a role")],
        validate_choice=False,  # the service decides which roles fit, with a clear message
    )
    version = IntegerField(widget=HiddenInput())
    submit = SubmitField("Save changes", widget=GovSubmitInput())


class ConfirmForm(FlaskForm):
    """A bare form for POST-only actions (sign out, deactivate…): just the CSRF token and version."""

    version = HiddenField()
    submit = SubmitField("Confirm", widget=GovSubmitInput())


class UserFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    q = StringField("Name or email", widget=GovTextInput())
    organisation = SelectField("Organisation", widget=GovSelect(), coerce=str, default="")
    role = SelectField("Role", widget=GovSelect(), coerce=str, default="")
    status = SelectField(
        "Status",
        widget=GovSelect(),
        default="",
        choices={
            "": "Any status",
            "active": "Active",
            "invited": "Invited",
            "locked": "Locked",
            "deactivated": "Deactivated",
        },
    )
    submit = SubmitField("Filter", widget=GovSubmitInput())


class ApiTokenForm(FlaskForm):
    name = StringField(
        "Name",
        widget=GovTextInput(),
        validators=[
            InputRequired(message="Enter a name for the token, like the system that will use it"),
            Length(max=MAX_TOKEN_NAME, message=f"The name must be {MAX_TOKEN_NAME} characters or fewer"),
        ],
    )
    submit = SubmitField("Create token", widget=GovSubmitInput())


class CodeForm(FlaskForm):
    """The second step of signing in, and the first code from a newly set-up authenticator app."""

    code = StringField(
        "Code",
        widget=GovTextInput(),
        validators=[InputRequired(message="Enter the 6-digit code from your authenticator app"), Length(max=40)],
    )
    submit = SubmitField("Continue", widget=GovSubmitInput())


class TurnOffTwoStepForm(FlaskForm):
    password = PasswordField(
        "Your password",
        widget=GovPasswordInput(),
        validators=[InputRequired(message="Enter your password"), Length(max=1000)],
    )
    submit = SubmitField("Turn off two-step verification", widget=GovSubmitInput())


class EmailPreferencesForm(FlaskForm):
    frequency = RadioField(
        "How do you want to hear about work waiting for you?",
        widget=GovRadioInput(),
        validators=[InputRequired(message="Select how often you want emails about your work")],
        validate_choice=False,  # the service names the choices, with a clear message
    )
    submit = SubmitField("Save", widget=GovSubmitInput())
