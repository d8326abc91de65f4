"""Administrators find a person by CRN and download everything held about them (subject access)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import select

from portal import access
from portal.audit.service import record_read
from portal.errors import NotFound
from portal.extensions import db
from portal.people import subject_access
from portal.people.models import Person
from portal.referrals.models import Referral
from portal.referrals.validation import normalise_crn

bp = Blueprint("people", __name__, url_prefix="/people")


def _require_admin() -> None:
    access.require(current_user, "subject_access", Person)  # else the app's 403 page


@bp.route("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    _require_admin()
    crn = normalise_crn(request.args.get("crn", ""))[:10]
    found = None
    if crn:
        found = db.session.scalars(access.visible(Person, current_user).where(Person.crn == crn)).first()
    return render_template("people/index.html", crn=crn, found=found)


@bp.route("/<int:person_id>")
@login_required
def show(person_id: int):  # type: ignore[no-untyped-def]
    _require_admin()
    try:
        person = subject_access.find_person(current_user, person_id)
    except NotFound:
        abort(404)
    referrals = db.session.scalars(select(Referral).where(Referral.person_id == person.id).order_by(Referral.id)).all()
    page = render_template("people/show.html", person=person, referrals=referrals)
    record_read(current_user, "person.viewed", record=person)
    return page


@bp.route("/<int:person_id>/subject-access.zip")
@login_required
def subject_access_zip(person_id: int):  # type: ignore[no-untyped-def]
    try:
        export = subject_access.subject_access_export(current_user, person_id)
    except NotFound:
        abort(404)
    return Response(
        export.data,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )
