"""Pages for a contract's services (contract managers add and change them) and the service
directory, where referrers search the services open to referrals: what each offers, who is
eligible, where."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal import access
from portal.contracts import services
from portal.contracts.eligibility import rules_in_words
from portal.contracts.models import Contract, Pathway, Service, Setting
from portal.contracts.service_forms import DirectoryFilterForm, ServiceForm
from portal.contracts.views import bp, contract_permissions, load_contract, managed_contract, show_errors, show_stale
from portal.errors import StaleRecord, ValidationFailed
from portal.extensions import db
from portal.places.service import names_of, places_of

directory_bp = Blueprint("services", __name__, url_prefix="/services")


def _load_service(contract: Contract, code: str) -> Service:
    found = db.session.scalars(
        access.visible(Service, current_user).where(Service.contract_id == contract.id, Service.code == code.upper())
    ).first()
    if found is None:
        abort(404)
    return found


@bp.route("/<reference>/services")
@login_required
def services_list(reference: str):  # type: ignore[no-untyped-def]
    contract = load_contract(reference)
    places = names_of(contract.crc_id)
    found = services.services_of(contract)
    return render_template(
        "contracts/services.html",
        contract=contract,
        services=[(service, rules_in_words(service, places)) for service in found],
        can=contract_permissions(contract),
    )


def _form_data(service: Service) -> dict[str, Any]:
    return {
        "code": service.code,
        "name": service.name,
        "description": service.description or "",
        "pathway": service.pathway.value,
        "setting": service.setting.value,
        "sex": service.sex.value if service.sex else "",
        "min_age": "" if service.min_age is None else str(service.min_age),
        "max_age": "" if service.max_age is None else str(service.max_age),
        "prison_ids": [str(i) for i in service.prison_ids],
        "probation_office_ids": [str(i) for i in service.probation_office_ids],
        "county_ids": [str(i) for i in service.county_ids],
        "open_to_referrals": service.open_to_referrals,
        "version": str(service.version),
    }


@bp.route("/<reference>/services/new", methods=["GET", "POST"])
@login_required
def new_service(reference: str):  # type: ignore[no-untyped-def]
    contract = managed_contract(reference)
    form = ServiceForm(places=places_of(contract.crc_id))
    if form.validate_on_submit():
        try:
            added = services.add_service(current_user, contract, **form.fields_for_service())
        except ValidationFailed as error:
            show_errors(form, error)
        else:
            flash(f"Service {added.name} added. Rate-card items with service code {added.code} price it.", "success")
            return redirect(url_for("contracts.services_list", reference=contract.reference))
    return render_template("contracts/service_form.html", form=form, contract=contract, service=None)


@bp.route("/<reference>/services/<code>/edit", methods=["GET", "POST"])
@login_required
def edit_service(reference: str, code: str):  # type: ignore[no-untyped-def]
    contract = load_contract(reference)
    service = _load_service(contract, code)
    access.require(current_user, "manage", contract)
    form = ServiceForm(data=_form_data(service) if request.method == "GET" else None, places=places_of(contract.crc_id))
    if form.validate_on_submit():
        try:
            services.update_service(
                current_user, service, contract, version=form.version_read, **form.fields_for_service()
            )
        except ValidationFailed as error:
            show_errors(form, error)
        except StaleRecord as error:
            show_stale(form, error)
        else:
            flash("Changes saved.", "success")
            return redirect(url_for("contracts.services_list", reference=contract.reference))
    return render_template("contracts/service_form.html", form=form, contract=contract, service=service)


# --- the service directory -------------------------------------------------------------------------------


@directory_bp.route("/")
@login_required
def directory():  # type: ignore[no-untyped-def]
    access.require(current_user, "browse", Service)
    form = DirectoryFilterForm(request.args)
    found = services.open_services(current_user)
    query = (form.q.data or "").strip().lower()
    if query:
        found = [
            s
            for s in found
            if query in " ".join((s.name, s.description or "", s.code, s.contract.partner.name)).lower()
        ]
    if form.pathway.data in {p.value for p in Pathway}:
        found = [s for s in found if s.pathway.value == form.pathway.data]
    if form.setting.data in ("custody", "community"):
        found = [s for s in found if s.setting in (Setting(form.setting.data), Setting.BOTH)]
    places = names_of(current_user.organisation_id)
    return render_template(
        "services/directory.html",
        form=form,
        services=[(service, rules_in_words(service, places)) for service in found],
        searched=bool(query or form.pathway.data or form.setting.data),
    )
