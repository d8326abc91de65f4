"""Pages for the CRC's organisations: the supply chain list, a partner's page, adding and changing partners."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, or_, select

from portal import access
from portal.accounts.models import User
from portal.contracts.models import Contract
from portal.errors import StaleRecord, ValidationFailed
from portal.extensions import db
from portal.organisations import service
from portal.organisations.forms import PartnerForm
from portal.organisations.models import Organisation
from portal.web import apply_errors

bp = Blueprint("organisations", __name__, url_prefix="/organisations")


@bp.route("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    access.require(current_user, "list", Organisation)
    # Counted in SQL, one query for the whole list however many organisations there are.
    user_counts = (
        select(User.organisation_id, func.count(User.id).label("users"))
        .where(User.active.is_(True))
        .group_by(User.organisation_id)
        .subquery()
    )
    visible_contracts = (
        select(Contract.id, Contract.partner_id, Contract.crc_id)
        .where(access.visibility_clause(Contract, current_user))
        .subquery()
    )
    contract_counts = (
        select(Organisation.id.label("organisation_id"), func.count(visible_contracts.c.id).label("contracts"))
        .join(
            visible_contracts,
            or_(visible_contracts.c.partner_id == Organisation.id, visible_contracts.c.crc_id == Organisation.id),
        )
        .group_by(Organisation.id)
        .subquery()
    )
    rows = db.session.execute(
        access.visible(Organisation, current_user)
        .add_columns(func.coalesce(contract_counts.c.contracts, 0), func.coalesce(user_counts.c.users, 0))
        .outerjoin(contract_counts, contract_counts.c.organisation_id == Organisation.id)
        .outerjoin(user_counts, user_counts.c.organisation_id == Organisation.id)
        .order_by(Organisation.kind, Organisation.name)
    ).all()
    return render_template(
        "organisations/index.html", rows=rows, can_manage_partners=access.can(current_user, "add", Organisation)
    )


@bp.route("/<int:organisation_id>")
@login_required
def show(organisation_id: int):  # type: ignore[no-untyped-def]
    access.require(current_user, "list", Organisation)
    organisation = access.get_visible_or_404(Organisation, organisation_id, current_user)
    contracts = db.session.scalars(
        access.visible(Contract, current_user)
        .where(or_(Contract.partner_id == organisation.id, Contract.crc_id == organisation.id))
        .order_by(Contract.start_date.desc(), Contract.reference)
    ).all()
    users = db.session.scalars(
        access.visible(User, current_user)
        .where(User.organisation_id == organisation.id)
        .order_by(User.active.desc(), User.name)
    ).all()
    return render_template(
        "organisations/show.html",
        organisation=organisation,
        contracts=contracts,
        users=users,
        can_edit=access.can(current_user, "edit", organisation),
        can_manage_users=access.can(current_user, "manage", User),
        # The contract pages are being built alongside these; link to them once they exist.
        link_contracts="contracts.show" in current_app.view_functions,
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():  # type: ignore[no-untyped-def]
    access.require(current_user, "add", Organisation)
    form = PartnerForm()
    if form.validate_on_submit():
        try:
            organisation = service.create_organisation(current_user, **form.organisation_fields())
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(f"{organisation.name} has been added as a partner.", "success")
            return redirect(url_for("organisations.show", organisation_id=organisation.id))
    return render_template("organisations/new.html", form=form)


@bp.route("/<int:organisation_id>/edit", methods=["GET", "POST"])
@login_required
def edit(organisation_id: int):  # type: ignore[no-untyped-def]
    access.require(current_user, "edit", Organisation)  # the role first: no one else learns which ids exist
    organisation = access.get_visible_or_404(Organisation, organisation_id, current_user)
    access.require(current_user, "edit", organisation)
    form = PartnerForm(obj=organisation)
    if form.validate_on_submit():
        try:
            service.update_organisation(
                current_user, organisation, version=form.version.data, **form.organisation_fields()
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        except StaleRecord as error:
            # Show what the other person saved, so the user checks it before changing it again.
            db.session.rollback()
            organisation = access.get_visible_or_404(Organisation, organisation_id, current_user)
            form = PartnerForm(formdata=None, obj=organisation)
            form.form_errors.append(error.message)
        else:
            flash("Changes saved.", "success")
            return redirect(url_for("organisations.show", organisation_id=organisation.id))
    return render_template("organisations/edit.html", form=form, organisation=organisation)
