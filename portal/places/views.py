"""Pages where a CRC's administrators keep its counties, prisons and probation offices: lists, add,
change or retire, and a CSV file imported all or nothing (and exported, to edit and import again)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from govuk_frontend_wtf.wtforms_widgets import (
    GovCheckboxInput,
    GovFileInput,
    GovSelect,
    GovSubmitInput,
    GovTextInput,
)
from wtforms import BooleanField, HiddenField, SelectField, StringField, SubmitField

from portal import access
from portal.csv_files import FileRejected, csv_response
from portal.errors import StaleRecord, ValidationFailed
from portal.extensions import db
from portal.forms import Length
from portal.places import service
from portal.places.models import PLACE_MODELS, County, ProbationOffice
from portal.web import apply_errors

bp = Blueprint("places", __name__, url_prefix="/places")
KIND = 'any(counties, prisons, "probation-offices")'


class PlaceForm(FlaskForm):
    version = HiddenField()
    name = StringField("Name", widget=GovTextInput(), validators=[Length(max=100)])
    county_id = SelectField("County", widget=GovSelect(), default="", validate_choice=False)
    active = BooleanField("In use: offered on referrals and services", widget=GovCheckboxInput(), default=True)
    submit = SubmitField("Save", widget=GovSubmitInput())


class ImportForm(FlaskForm):
    file = FileField("CSV file", widget=GovFileInput())
    submit = SubmitField("Import", widget=GovSubmitInput())


def _require_admin() -> None:
    access.require(current_user, "manage", County)


def _county_choices(model: type) -> dict[str, str]:
    counties = service.places_of(current_user.organisation_id)[County]
    empty = "Choose a county" if model is ProbationOffice else "Not in one of the counties"
    return {"": empty} | {str(c.id): c.name + ("" if c.active else " (retired)") for c in counties}


@bp.route("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    _require_admin()
    return render_template(
        "places/index.html", places=service.places_of(current_user.organisation_id), kinds=PLACE_MODELS
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():  # type: ignore[no-untyped-def]
    """Add a place: ?kind=counties, prisons or probation-offices (a query, as it names no record)."""
    _require_admin()
    kind = request.args.get("kind", "")
    if kind not in PLACE_MODELS:
        abort(404)
    model = PLACE_MODELS[kind]
    form = PlaceForm()
    form.county_id.choices = _county_choices(model)
    if form.validate_on_submit():
        try:
            added = service.add_place(
                current_user, model, name=form.name.data, county_id=form.county_id.data, active=True
            )
        except ValidationFailed as error:
            db.session.rollback()
            apply_errors(form, error)
        else:
            flash(f"{added.name} added.", "success")
            return redirect(url_for("places.index", _anchor=kind))
    return render_template(
        "places/form.html", form=form, kind=kind, model=model, place=None, words=service.KINDS[model]
    )


@bp.route(f"/<{KIND}:kind>/<int:place_id>/edit", methods=["GET", "POST"])
@login_required
def edit(kind: str, place_id: int):  # type: ignore[no-untyped-def]
    _require_admin()  # no one else keeps places, whichever they name
    model = PLACE_MODELS[kind]
    place = access.get_visible_or_404(model, place_id, current_user)
    data: dict[str, Any] | None = None
    if request.method == "GET":
        data = {"name": place.name, "active": place.active, "version": str(place.version)}
        if model is not County:
            data["county_id"] = str(place.county_id or "")
    form = PlaceForm(data=data)
    form.county_id.choices = _county_choices(model)
    if form.validate_on_submit():
        fields: dict[str, Any] = {"name": form.name.data, "active": bool(form.active.data)}
        if model is not County:
            fields["county_id"] = form.county_id.data
        try:
            service.update_place(current_user, place, version=form.version.data, **fields)
        except ValidationFailed as error:
            db.session.rollback()
            apply_errors(form, error)
        except StaleRecord as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            flash("Changes saved.", "success")
            return redirect(url_for("places.index", _anchor=kind))
    return render_template(
        "places/form.html", form=form, kind=kind, model=model, place=place, words=service.KINDS[model]
    )


@bp.route("/import", methods=["GET", "POST"])
@login_required
def import_places():  # type: ignore[no-untyped-def]
    _require_admin()
    form = ImportForm()
    rejected = None
    if form.validate_on_submit():
        upload = form.file.data
        if upload is None or not upload.filename:
            form.file.errors = ["Select a CSV file"]
        else:
            try:
                result = service.import_places(current_user, upload.read())
            except FileRejected as failure:
                db.session.rollback()
                rejected = failure
                form.file.errors = [f"{failure.message}. Nothing was saved. Correct the file and upload it again."]
            else:
                flash(f"Imported: {result.added} added, {result.changed} changed.", "success")
                return redirect(url_for("places.index"))
    return render_template("places/import.html", form=form, rejected=rejected, columns=service.CSV_COLUMNS)


@bp.route("/places.csv")
@login_required
def export():  # type: ignore[no-untyped-def]
    _require_admin()
    return csv_response(service.CSV_COLUMNS, service.export_rows(current_user.organisation_id), "places.csv")
