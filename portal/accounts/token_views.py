"""Pages for personal API tokens: a user's own (list, create — shown once — and revoke), and an
administrator revoking anyone's from the user's page."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from portal import access
from portal.accounts import tokens
from portal.accounts.forms import ApiTokenForm, ConfirmForm
from portal.accounts.models import ApiToken, User
from portal.errors import ValidationFailed
from portal.web import apply_errors

bp = Blueprint("api_tokens", __name__)


def _own_token(token_id: int) -> ApiToken:
    """One of the current user's tokens (an administrator's own page shows only their own, too)."""
    token = access.get_visible_or_404(ApiToken, token_id, current_user)
    if token.user_id != current_user.id:
        abort(404)
    return token


@bp.route("/account/api-tokens")
@login_required
def index():  # type: ignore[no-untyped-def]
    return render_template("accounts/api_tokens.html", tokens=tokens.tokens_of(current_user), form=ConfirmForm())


@bp.route("/account/api-tokens/new", methods=["GET", "POST"])
@login_required
def new():  # type: ignore[no-untyped-def]
    form = ApiTokenForm()
    if form.validate_on_submit():
        try:
            created = tokens.create_token(current_user, current_user, name=form.name.data)
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            # Shown here once, never again: the page is not cached (Cache-Control: no-store).
            return render_template("accounts/api_token_created.html", token=created.token, secret=created.secret)
    return render_template("accounts/api_token_new.html", form=form)


@bp.route("/account/api-tokens/<int:token_id>/revoke", methods=["GET", "POST"])
@login_required
def revoke(token_id: int):  # type: ignore[no-untyped-def]
    token = _own_token(token_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        tokens.revoke_token(current_user, token)
        flash(f"The token ‘{token.name}’ has been revoked. Systems using it can no longer call the API.", "success")
        return redirect(url_for("api_tokens.index"))
    return render_template("accounts/api_token_revoke.html", token=token, form=form)


@bp.route("/users/<int:user_id>/api-tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_for_user(user_id: int, token_id: int):  # type: ignore[no-untyped-def]
    """An administrator revokes someone's token from the user's page."""
    shown = access.get_visible_or_404(User, user_id, current_user)
    token = access.get_visible_or_404(ApiToken, token_id, current_user)
    if token.user_id != shown.id:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    tokens.revoke_token(current_user, token)
    flash(f"The API token ‘{token.name}’ has been revoked.", "success")
    return redirect(url_for("accounts.user", user_id=shown.id))
