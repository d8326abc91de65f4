"""Pages for signing in and out, passwords, the user's own account and user administration."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import or_
from sqlalchemy.orm import contains_eager

from portal import access
from portal.accounts import mfa, service, sessions
from portal.accounts.forms import (
    ChangePasswordForm,
    CodeForm,
    ConfirmForm,
    EditUserForm,
    ForgotPasswordForm,
    SetPasswordForm,
    SignInForm,
    TurnOffTwoStepForm,
    UserFilterForm,
    UserForm,
)
from portal.accounts.models import Role, User
from portal.accounts.tokens import tokens_of
from portal.db import utcnow
from portal.errors import NotFound, StaleRecord, ValidationFailed
from portal.extensions import db, limiter
from portal.organisations.models import Organisation
from portal.urls import as_id, safe_next
from portal.web import act_and_redirect, apply_errors, attempt_and_redirect, paginate

bp = Blueprint("accounts", __name__)


# --- signing in and out ----------------------------------------------------------------------


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def sign_in():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = SignInForm()
    if form.validate_on_submit():
        try:
            user = service.authenticate(form.email.data, form.password.data)
        except service.SignInFailed as failure:
            form.form_errors.append(failure.message)
        else:
            started = service.start_session(user)
            next_page = safe_next(request.args.get("next"))
            session.clear()  # a fresh session on sign-in: no fixation
            session.permanent = True
            if started.next_step is None:
                login_user(user)
                return redirect(next_page or url_for("main.home"))
            session[PENDING] = started.secret
            session[PENDING_NEXT] = next_page
            if started.next_step == "set_up":
                return redirect(url_for("accounts.set_up_two_step"))
            return redirect(url_for("accounts.enter_code"))
    return render_template("accounts/sign_in.html", form=form)


# The cookie keys of a sign-in whose password was right and whose second step is still owed.
PENDING = "pending_sign_in"
PENDING_NEXT = "pending_next"


def _pending_sign_in():  # type: ignore[no-untyped-def]
    return sessions.pending(session.get(PENDING))


def _finish_sign_in(user: User, secret: str) -> str:
    """The second step is done: the cookie now names the live session. Returns where to go."""
    next_page = session.get(PENDING_NEXT)
    session.clear()
    session.permanent = True
    user.session_secret = secret
    login_user(user)
    return next_page or url_for("main.home")


def _start_again():  # type: ignore[no-untyped-def]
    session.pop(PENDING, None)
    flash("Sign in again to continue.", "info")
    return redirect(url_for("accounts.sign_in"))


@bp.route("/sign-in/code", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def enter_code():  # type: ignore[no-untyped-def]
    row = _pending_sign_in()
    if row is None or not row.user.has_mfa:
        return _start_again()
    user = row.user
    form = CodeForm()
    if form.validate_on_submit():
        try:
            secret = service.enter_code(row, form.code.data)
        except ValidationFailed as error:
            apply_errors(form, error)
        except service.SignInFailed as failure:
            session.pop(PENDING, None)
            flash(failure.message, "error")
            return redirect(url_for("accounts.sign_in"))
        else:
            return redirect(_finish_sign_in(user, secret))
    return render_template("accounts/enter_code.html", form=form)


@bp.route("/sign-in/set-up-two-step", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def set_up_two_step():  # type: ignore[no-untyped-def]
    """Enrolment on first sign-in, for the roles that must use two-step verification."""
    row = _pending_sign_in()
    if row is None or row.user.has_mfa:
        return _start_again()
    return _set_up_page(row.user, row)


@bp.route("/account/two-step-verification", methods=["GET", "POST"])
@login_required
def set_up_two_step_from_account():  # type: ignore[no-untyped-def]
    """Caseworkers choose to set it up; so does anyone whose administrator reset theirs mid-session."""
    user = current_user._get_current_object()
    if user.has_mfa:
        return redirect(url_for("accounts.account"))
    return _set_up_page(user, None)


def _set_up_page(user: User, row):  # type: ignore[no-untyped-def]
    form = CodeForm()
    if form.validate_on_submit():
        try:
            codes = service.set_up_second_step(user, form.code.data, row)
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            continue_to = _finish_sign_in(user, user.session_secret) if row is not None else url_for("accounts.account")
            return render_template("accounts/recovery_codes.html", codes=codes, continue_to=continue_to, first=True)
    secret = mfa.begin_enrolment(user)
    uri = mfa.provisioning_uri(user, secret)
    return render_template(
        "accounts/set_up_two_step.html",
        form=form,
        qr_code=mfa.qr_code_data_uri(uri),
        secret=mfa.grouped(secret),
        during_sign_in=row is not None,
    )


@bp.route("/sign-out", methods=["POST"])
@login_required
def sign_out():  # type: ignore[no-untyped-def]
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    row = g.user_session
    logout_user()
    session.clear()
    sessions.sign_out(row)
    flash("You have signed out.", "success")
    return redirect(url_for("accounts.sign_in"))


# --- passwords -----------------------------------------------------------------------------


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def forgot_password():  # type: ignore[no-untyped-def]
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        service.request_password_reset(form.email.data)
        return render_template(
            "accounts/reset_link_sent.html",
            email=form.email.data.strip(),
            minutes=current_app.config["PASSWORD_RESET_MINUTES"],
        )
    return render_template("accounts/forgot_password.html", form=form)


def _set_password_page(token: str, purpose: str):  # type: ignore[no-untyped-def]
    user = service.user_for_password_token(token, purpose)
    if user is None:
        return render_template("accounts/link_expired.html", purpose=purpose), 404
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            service.set_password_from_link(token, purpose, form.password.data, form.confirm_password.data)
        except ValidationFailed as error:
            apply_errors(form, error)
        except NotFound:
            return render_template("accounts/link_expired.html", purpose=purpose), 404
        else:
            flash("Your password has been saved. Sign in with your new password.", "success")
            return redirect(url_for("accounts.sign_in"))
    return render_template("accounts/set_password.html", form=form, user=user, purpose=purpose)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str):  # type: ignore[no-untyped-def]
    return _set_password_page(token, "reset")


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str):  # type: ignore[no-untyped-def]
    return _set_password_page(token, "invite")


# --- the user's own account --------------------------------------------------------------------


@bp.route("/account")
@login_required
def account():  # type: ignore[no-untyped-def]
    user = current_user._get_current_object()
    return render_template(
        "accounts/account.html",
        user=user,
        live_sessions=sessions.live_sessions(user),
        this_session=g.user_session,
        mfa_required=mfa.is_required_for(user),
        may_turn_off=mfa.may_turn_off(user),
        recovery_codes_left=mfa.unused_recovery_codes(user) if user.has_mfa else 0,
        form=ConfirmForm(),
    )


@bp.route("/account/sessions/<int:session_id>/end", methods=["POST"])
@login_required
def end_session(session_id: int):  # type: ignore[no-untyped-def]
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        ended = sessions.end_other_session(current_user, session_id, g.user_session)
    except NotFound:
        abort(404)
    flash(f"{ended.device} has been signed out.", "success")
    return redirect(url_for("accounts.account"))


@bp.route("/account/sessions/end-others", methods=["POST"])
@login_required
def end_other_sessions():  # type: ignore[no-untyped-def]
    if not ConfirmForm().validate_on_submit():
        abort(400)
    ended = sessions.end_other_sessions(current_user, g.user_session)
    flash(
        "You have been signed out of your other devices." if ended else "You were not signed in on any other device.",
        "success",
    )
    return redirect(url_for("accounts.account"))


@bp.route("/account/two-step-verification/recovery-codes", methods=["POST"])
@login_required
def new_recovery_codes():  # type: ignore[no-untyped-def]
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        codes = service.new_recovery_codes(current_user)
    except ValidationFailed:
        return redirect(url_for("accounts.set_up_two_step_from_account"))
    return render_template(
        "accounts/recovery_codes.html", codes=codes, continue_to=url_for("accounts.account"), first=False
    )


@bp.route("/account/two-step-verification/turn-off", methods=["GET", "POST"])
@login_required
def turn_off_two_step():  # type: ignore[no-untyped-def]
    if not mfa.may_turn_off(current_user):
        abort(403)
    form = TurnOffTwoStepForm()
    if form.validate_on_submit():
        try:
            service.turn_off_second_step(current_user, form.password.data)
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash("Two-step verification is off. You can set it up again at any time.", "success")
            return redirect(url_for("accounts.account"))
    return render_template("accounts/turn_off_two_step.html", form=form)


@bp.route("/account/emails", methods=["GET", "POST"])
@login_required
def email_preferences():  # type: ignore[no-untyped-def]
    """Emails about work: one each time, or a daily digest (security emails always come at once)."""
    from portal.accounts.forms import EmailPreferencesForm
    from portal.notifications import rules

    form = EmailPreferencesForm()
    form.frequency.choices = list(rules.FREQUENCIES.items())
    if request.method == "GET":
        form.frequency.data = current_user.email_frequency
    if form.validate_on_submit():
        done = attempt_and_redirect(
            form,
            lambda: rules.set_email_frequency(current_user._get_current_object(), form.frequency.data),
            success="Your email preferences have been saved.",
            back=url_for("accounts.account"),
        )
        if done:
            return done
    return render_template("accounts/email_preferences.html", form=form)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():  # type: ignore[no-untyped-def]
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            service.change_password(
                user,
                form.current_password.data,
                form.new_password.data,
                form.confirm_new_password.data,
                keep=g.user_session,
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash("Your password has been changed. Other devices have been signed out.", "success")
            return redirect(url_for("accounts.account"))
    return render_template("accounts/change_password.html", form=form)


# --- user administration ------------------------------------------------------------------------


def _require_user_admin() -> None:
    """The user administration pages are for those who manage users (403 for anyone else, whatever the id)."""
    access.require(current_user, "manage", User)


@bp.route("/users")
@login_required
def users():  # type: ignore[no-untyped-def]
    _require_user_admin()
    form = UserFilterForm(request.args)
    organisations = db.session.execute(
        access.visible(Organisation, current_user)
        .with_only_columns(Organisation.id, Organisation.name)
        .order_by(Organisation.name)
    ).all()
    form.organisation.choices = {"": "All organisations"} | {str(o.id): o.name for o in organisations}
    form.role.choices = {"": "Any role"} | {role.value: role.label for role in Role}

    # The organisation joined for the order is the one each row shows (not joined a second time).
    statement = (
        access.visible(User, current_user)
        .join(User.organisation)
        .options(contains_eager(User.organisation))
        .order_by(Organisation.name, User.name)
    )
    if form.q.data:
        term = f"%{form.q.data.strip().lower()}%"
        statement = statement.where(or_(User.email.like(term), User.name.ilike(term)))
    if (organisation_id := as_id(form.organisation.data)) is not None:
        statement = statement.where(User.organisation_id == organisation_id)
    if form.role.data in {role.value for role in Role}:
        statement = statement.where(User.role == Role(form.role.data))
    now = utcnow()
    match form.status.data:
        case "active":
            statement = statement.where(
                User.active.is_(True),
                User.password_hash.is_not(None),
                or_(User.locked_until.is_(None), User.locked_until <= now),
            )
        case "invited":
            statement = statement.where(User.active.is_(True), User.password_hash.is_(None))
        case "locked":
            statement = statement.where(User.locked_until > now)
        case "deactivated":
            statement = statement.where(User.active.is_(False))
    page = paginate(statement, per_page=50)
    return render_template(
        "accounts/users.html",
        form=form,
        page=page,
        show_organisation=access.can(current_user, "manage_in_any_organisation", User),
    )


def _load_managed_user(user_id: int) -> User:
    """The user, if the current user may see them (else 404) and manage them (else 403)."""
    _require_user_admin()
    user = access.get_visible_or_404(User, user_id, current_user)
    access.require(current_user, "manage", user)
    return user


@bp.route("/users/new", methods=["GET", "POST"])
@login_required
def new_user():  # type: ignore[no-untyped-def]
    _require_user_admin()
    form = UserForm()
    choose_organisation = access.can(current_user, "manage_in_any_organisation", User)
    if choose_organisation:
        organisations = db.session.scalars(access.organisations_for_user_admin(current_user)).all()
        form.organisation_id.choices = {o.id: o.name for o in organisations}
        organisation = next((o for o in organisations if o.id == form.organisation_id.data), None)
        roles = list(Role)  # the service checks the role fits the organisation chosen
    else:
        del form.organisation_id  # partner managers add users to their own organisation only
        organisation = current_user.organisation
        roles = access.assignable_roles(current_user, organisation)
    form.role.choices = {role.value: role.label for role in roles}
    if form.validate_on_submit():
        try:
            created = service.create_user(
                current_user,
                email=form.email.data,
                name=form.name.data,
                role=form.role.data,
                organisation=organisation,
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            if created.user is None:  # an account elsewhere: the owner is told, the manager is not
                flash(f"An invitation has been sent to {form.email.data.strip().lower()}.", "success")
                return redirect(url_for("accounts.users"))
            flash(f"An invitation has been sent to {created.user.email}.", "success")
            return redirect(url_for("accounts.user", user_id=created.user.id))
    return render_template("accounts/new_user.html", form=form, choose_organisation=choose_organisation)


@bp.route("/users/<int:user_id>")
@login_required
def user(user_id: int):  # type: ignore[no-untyped-def]
    _require_user_admin()
    shown = access.get_visible_or_404(User, user_id, current_user)
    return render_template(
        "accounts/user.html",
        shown=shown,
        form=ConfirmForm(),
        can_manage=access.can(current_user, "manage", shown),
        now=utcnow(),
        api_tokens=tokens_of(shown) if access.can(current_user, "see_api_tokens", shown) else None,
        can_reset_mfa=access.can(current_user, "reset_mfa", shown),
    )


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@login_required
def edit_user(user_id: int):  # type: ignore[no-untyped-def]
    shown = _load_managed_user(user_id)
    form = EditUserForm(obj=shown)
    form.role.choices = {role.value: role.label for role in access.assignable_roles(current_user, shown.organisation)}
    if request.method == "GET":
        form.role.data = shown.role.value
    if form.validate_on_submit():
        try:
            service.update_user(
                current_user, shown, name=form.name.data, role=form.role.data, version=form.version.data
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        except StaleRecord as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            flash("Changes saved.", "success")
            return redirect(url_for("accounts.user", user_id=shown.id))
    return render_template("accounts/edit_user.html", form=form, shown=shown)


USER_ACTIONS = {
    "deactivate": (service.deactivate_user, "The account has been deactivated. They have been signed out."),
    "reactivate": (service.reactivate_user, "The account has been reactivated."),
}


@bp.route("/users/<int:user_id>/<any(deactivate, reactivate):action>", methods=["GET", "POST"])
@login_required
def user_status(user_id: int, action: str):  # type: ignore[no-untyped-def]
    shown = _load_managed_user(user_id)
    form = ConfirmForm()
    if request.method == "GET":
        form.version.data = str(shown.version)
    if form.validate_on_submit():
        operation, message = USER_ACTIONS[action]
        return act_and_redirect(
            lambda: operation(current_user, shown, version=int(form.version.data or shown.version)),
            success=message,
            back=url_for("accounts.user", user_id=shown.id),
        )
    return render_template("accounts/confirm_user_status.html", form=form, shown=shown, action=action)


@bp.route("/users/<int:user_id>/unlock", methods=["POST"])
@login_required
def unlock_user(user_id: int):  # type: ignore[no-untyped-def]
    shown = _load_managed_user(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    service.unlock_user(current_user, shown)
    flash("The account has been unlocked.", "success")
    return redirect(url_for("accounts.user", user_id=shown.id))


@bp.route("/users/<int:user_id>/reset-two-step", methods=["POST"])
@login_required
def reset_two_step(user_id: int):  # type: ignore[no-untyped-def]
    shown = _load_managed_user(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    service.reset_second_step(current_user, shown)  # a refusal is the app's 403 page
    flash(
        f"Two-step verification has been reset. {shown.name} will set up an authenticator app at their next sign-in.",
        "success",
    )
    return redirect(url_for("accounts.user", user_id=shown.id))


@bp.route("/users/<int:user_id>/resend-invitation", methods=["POST"])
@login_required
def resend_invitation(user_id: int):  # type: ignore[no-untyped-def]
    shown = _load_managed_user(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    return act_and_redirect(
        lambda: service.resend_invitation(current_user, shown),
        success=f"A new invitation has been sent to {shown.email}.",
        back=url_for("accounts.user", user_id=shown.id),
    )
