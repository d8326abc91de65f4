"""Pages for remittance details: a partner's page (bank account, pending change, remittance email,
purchase order numbers), the forms its managers keep them with, and the contract manager's
confirmation or rejection of a change of bank account. Every page finds the organisation through
portal.access (another partner's is a 404)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from portal import access
from portal.accounts.models import User
from portal.contracts.models import Contract
from portal.extensions import db
from portal.organisations.models import Organisation, OrganisationKind
from portal.remittance import service
from portal.remittance.forms import BankAccountForm, DecideChangeForm, remittance_form
from portal.web import attempt_and_redirect

bp = Blueprint("remittance", __name__, url_prefix="/remittance")


def load_organisation(organisation_id: int, verb: str = "see_remittance") -> Organisation:
    organisation = access.get_visible_or_404(Organisation, organisation_id, current_user)
    access.require(current_user, verb, organisation)
    return organisation


def _page(organisation: Organisation) -> str:
    return url_for("remittance.show", organisation_id=organisation.id)


def _contracts(organisation: Organisation) -> list[Contract]:
    return list(
        db.session.scalars(
            access.visible(Contract, current_user)
            .where(Contract.partner_id == organisation.id)
            .order_by(Contract.reference)
        )
    )


@bp.route("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    user = current_user._get_current_object()
    access.require(user, "see_remittance", Organisation)
    if user.is_partner_user:
        return redirect(url_for("remittance.show", organisation_id=user.organisation_id))
    partners = list(
        db.session.scalars(
            access.visible(Organisation, user)
            .where(Organisation.kind == OrganisationKind.PARTNER)
            .order_by(Organisation.name)
        )
    )
    return render_template("remittance/index.html", pending=service.pending_changes_for(user), partners=partners)


@bp.route("/<int:organisation_id>")
@login_required
def show(organisation_id: int):  # type: ignore[no-untyped-def]
    return _render(load_organisation(organisation_id))


def _render(organisation: Organisation, *, form: Any = None, status: int = 200) -> Any:
    user = current_user._get_current_object()
    contracts = _contracts(organisation)
    changes = service.changes_of(organisation.id)
    details = service.details_of(organisation.id)
    people_ids = {c.requested_by_id for c in changes} | {c.decided_by_id for c in changes if c.decided_by_id}
    if details and details.bank_confirmed_by_id:
        people_ids.add(details.bank_confirmed_by_id)
    people = (
        dict(db.session.execute(select(User.id, User.name).where(User.id.in_(people_ids))).all()) if people_ids else {}
    )
    pending = next((change for change in changes if change.status.value == "pending"), None)
    return (
        render_template(
            "remittance/show.html",
            organisation=organisation,
            details=details,
            pending=pending,
            changes=changes,
            contracts=contracts,
            orders=service.purchase_orders([c.id for c in contracts]),
            people=people,
            can_keep=access.can(user, "keep_remittance", organisation),
            can_confirm=access.can(user, "confirm_bank_details", organisation),
            form=form or DecideChangeForm(data={"change_id": str(pending.id) if pending else ""}),
        ),
        status,
    )


@bp.route("/<int:organisation_id>/bank-account", methods=["GET", "POST"])
@login_required
def bank_account(organisation_id: int):  # type: ignore[no-untyped-def]
    organisation = load_organisation(organisation_id, "keep_remittance")
    form = BankAccountForm()
    if form.validate_on_submit():
        done = attempt_and_redirect(
            form,
            lambda: service.request_bank_change(
                current_user._get_current_object(),
                organisation,
                account_name=form.account_name.data,
                sort_code=form.sort_code.data,
                account_number=form.account_number.data,
            ),
            success="Your new bank details have been sent to the CRC. They take effect once a contract manager "
            "confirms them; until then payments go to the account confirmed before.",
            back=_page(organisation),
        )
        if done:
            return done
    return render_template(
        "remittance/bank_account.html",
        organisation=organisation,
        form=form,
        pending=service.pending_change(organisation.id),
    )


@bp.route("/<int:organisation_id>/details", methods=["GET", "POST"])
@login_required
def details(organisation_id: int):  # type: ignore[no-untyped-def]
    organisation = load_organisation(organisation_id, "keep_remittance")
    contracts = _contracts(organisation)
    current = service.details_of(organisation.id)
    orders = service.purchase_orders([c.id for c in contracts])
    if request.method == "GET":
        data = {
            "version": str(current.version) if current else "",
            "remittance_email": current.remittance_email if current else "",
        } | {f"po_{c.id}": orders[c.id].number if c.id in orders else "" for c in contracts}
        form = remittance_form(contracts, data=data)
    else:
        form = remittance_form(contracts)
    if form.validate_on_submit():
        done = attempt_and_redirect(
            form,
            lambda: service.update_remittance(
                current_user._get_current_object(),
                organisation,
                remittance_email=form.remittance_email.data,
                purchase_orders_by_contract={c.id: getattr(form, f"po_{c.id}").data for c in contracts},
                version=form.version_read,
            ),
            success="Your remittance details have been saved.",
            back=_page(organisation),
        )
        if done:
            return done
    return render_template(
        "remittance/details.html",
        organisation=organisation,
        form=form,
        po_fields=[(c, getattr(form, f"po_{c.id}")) for c in contracts],
    )


@bp.route("/<int:organisation_id>/bank-account/confirm", methods=["POST"])
@login_required
def confirm(organisation_id: int):  # type: ignore[no-untyped-def]
    organisation = load_organisation(organisation_id, "confirm_bank_details")
    form = DecideChangeForm()
    if form.validate_on_submit():
        done = attempt_and_redirect(
            form,
            lambda: service.confirm_bank_change(
                current_user._get_current_object(), organisation, change_id=form.change_id.data or None
            ),
            success=f"The new bank details of {organisation.name} are confirmed. Its managers have been told.",
            back=_page(organisation),
        )
        if done:
            return done
    db.session.expire_all()
    return _render(load_organisation(organisation_id), form=form)


@bp.route("/<int:organisation_id>/bank-account/reject", methods=["GET", "POST"])
@login_required
def reject(organisation_id: int):  # type: ignore[no-untyped-def]
    organisation = load_organisation(organisation_id, "confirm_bank_details")
    pending = service.pending_change(organisation.id)
    if pending is None:
        return redirect(_page(organisation))
    form = DecideChangeForm(data={"change_id": str(pending.id)} if request.method == "GET" else None)
    if form.validate_on_submit():
        done = attempt_and_redirect(
            form,
            lambda: service.reject_bank_change(
                current_user._get_current_object(),
                organisation,
                reason=form.reason.data,
                change_id=form.change_id.data or None,
            ),
            success=f"The change of bank details of {organisation.name} is rejected. Its managers have been told.",
            back=_page(organisation),
        )
        if done:
            return done
    return render_template("remittance/reject.html", organisation=organisation, form=form, pending=pending)
