"""Pages listing the CRC's organisations. Editing arrives with contracts (issue 3)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy import func, select

from portal import access
from portal.accounts.models import Role, User
from portal.extensions import db
from portal.organisations.models import Organisation

bp = Blueprint("organisations", __name__, url_prefix="/organisations")

VIEWER_ROLES = (Role.CONTRACT_MANAGER, Role.ADMIN, Role.CRC_REFERRER)


@bp.route("/")
@login_required
@access.roles_required(*VIEWER_ROLES)
def index():  # type: ignore[no-untyped-def]
    user_counts = (
        select(User.organisation_id, func.count(User.id).label("users"))
        .where(User.active.is_(True))
        .group_by(User.organisation_id)
        .subquery()
    )
    rows = db.session.execute(
        access.visible(Organisation, current_user)
        .add_columns(func.coalesce(user_counts.c.users, 0))
        .outerjoin(user_counts, user_counts.c.organisation_id == Organisation.id)
        .order_by(Organisation.kind, Organisation.name)
    ).all()
    return render_template("organisations/index.html", rows=rows)


@bp.route("/<int:organisation_id>")
@login_required
@access.roles_required(*VIEWER_ROLES)
def show(organisation_id: int):  # type: ignore[no-untyped-def]
    organisation = access.get_visible_or_404(Organisation, organisation_id, current_user)
    users = db.session.scalars(
        access.visible(User, current_user)
        .where(User.organisation_id == organisation.id)
        .order_by(User.active.desc(), User.name)
    ).all()
    return render_template(
        "organisations/show.html",
        organisation=organisation,
        users=users,
        can_manage_users=access.can_manage_users(current_user),
    )
