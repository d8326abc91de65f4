"""Pages for contracts and their rate cards: lists, details, the forms that change them, CSV files.

Every page finds its records through `portal.access` (another CRC's or partner's contract is
a 404), then checks the permission to change it (403 for all but contract managers); each
form calls one operation in `portal.contracts.service`, whose errors name the fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response as BaseResponse

from portal import access
from portal.contracts import rate_card_csv, service
from portal.contracts.forms import (
    PATHWAY_CHOICES,
    ConfirmForm,
    ContractFilterForm,
    ContractForm,
    EndContractForm,
    EndPriceForm,
    ImportRateCardForm,
    ItemForm,
    OutcomeTypeForm,
    PriceForm,
)
from portal.contracts.measures import SESSION_KINDS
from portal.contracts.models import (
    Contract,
    ContractStatus,
    OutcomeType,
    RateCardItem,
    RateCardPrice,
)
from portal.contracts.pricing import price_on
from portal.dates import london_today
from portal.errors import InvalidTransition, StaleRecord, ValidationFailed
from portal.extensions import db
from portal.formatting import format_date
from portal.money import pounds
from portal.organisations.models import Organisation, OrganisationKind
from portal.returns.models import ServiceReturn
from portal.urls import as_id
from portal.web import act_and_redirect, apply_errors, paginate

bp = Blueprint("contracts", __name__, url_prefix="/contracts")

# The service names money in pence; the forms ask for pounds under another field name.
FORM_FIELD_FOR = {"value_cap_pence": "value_cap", "vat_rate_bp": "vat_rate", "unit_price_pence": "unit_price"}


# --- finding records -----------------------------------------------------------------------------


def load_contract(reference: str) -> Contract:
    """The contract, if the current user may see it; else 404."""
    return access.get_visible_or_404(Contract, reference.upper(), current_user, column=Contract.reference)


def load_item(contract: Contract, code: str) -> RateCardItem:
    """The item of *this* contract with this code; else 404."""
    item = db.session.scalars(
        access.visible(RateCardItem, current_user).where(
            RateCardItem.contract_id == contract.id, RateCardItem.code == code.upper()
        )
    ).first()
    if item is None:
        abort(404)
    return item


def load_price(item: RateCardItem, price_id: int) -> RateCardPrice:
    """The price of *this* item with this id; else 404."""
    price = db.session.scalars(
        access.visible(RateCardPrice, current_user).where(
            RateCardPrice.item_id == item.id, RateCardPrice.id == price_id
        )
    ).first()
    if price is None:
        abort(404)
    return price


def load_outcome_type(contract: Contract, outcome_type_id: int) -> OutcomeType:
    outcome_type = db.session.scalars(
        access.visible(OutcomeType, current_user).where(
            OutcomeType.contract_id == contract.id, OutcomeType.id == outcome_type_id
        )
    ).first()
    if outcome_type is None:
        abort(404)
    return outcome_type


def managed_contract(reference: str) -> Contract:
    """The contract, if the current user sees it (else 404) and manages it (else 403)."""
    contract = load_contract(reference)
    access.require(current_user, "manage", contract)
    return contract


# --- mapping the service's answers onto pages ------------------------------------------------------


def show_errors(form: Any, error: ValidationFailed) -> None:
    """The service's field errors beside the form's fields (money fields are named in pounds here)."""
    db.session.rollback()
    apply_errors(
        form, ValidationFailed({FORM_FIELD_FOR.get(name, name): messages for name, messages in error.errors.items()})
    )


def show_stale(form: Any, error: StaleRecord) -> None:
    db.session.rollback()
    form.form_errors.append(error.message)


def back_to(url: str, message: str) -> BaseResponse:
    """A refusal that no field can fix (the contract moved on): say why on the page the user came from."""
    db.session.rollback()
    flash(message, "error")
    return redirect(url)


def contract_url(contract: Contract) -> str:
    return url_for("contracts.show", reference=contract.reference)


def item_url(contract: Contract, item: RateCardItem) -> str:
    return url_for("contracts.item", reference=contract.reference, code=item.code)


# --- what pages show --------------------------------------------------------------------------------


@dataclass
class RateCardRow:
    """An item as the rate card table shows it: today's price and any prices still to come."""

    item: RateCardItem
    current: RateCardPrice | None
    future: list[RateCardPrice] = field(default_factory=list)


def rate_card_rows(items: list[RateCardItem], today: date) -> list[RateCardRow]:
    return [
        RateCardRow(
            item=item,
            current=price_on(item, today),  # type: ignore[arg-type]
            future=[price for price in item.prices if price.effective_from > today],
        )
        for item in items
    ]


def price_period(price: RateCardPrice, today: date) -> str:
    """'current', 'future' or 'past': which tag a price period wears on the item page."""
    if price.effective_from > today:
        return "future"
    if price.effective_to is not None and price.effective_to < today:
        return "past"
    return "current"


def contract_permissions(contract: Contract) -> dict[str, bool]:
    """The buttons the current user sees on the contract's pages."""
    manage = access.can(current_user, "manage", contract)
    return {
        "manage": manage,
        "change": manage and service.is_editable(contract),
        "activate": manage and service.CONTRACT_WORKFLOW.allowed(contract, "activate"),
        "end": manage and service.CONTRACT_WORKFLOW.allowed(contract, "end"),
    }


def partner_choices(contract: Contract | None = None, *, for_filter: bool = False) -> dict[str, str]:
    """Partners to choose from: the active ones (and the contract's own, even if no longer
    active); a filter offers every partner, since old contracts name inactive ones."""
    partners = db.session.execute(
        access.visible(Organisation, current_user)
        .with_only_columns(Organisation.id, Organisation.name, Organisation.active)
        .where(Organisation.kind == OrganisationKind.PARTNER)
        .order_by(Organisation.name)
    ).all()
    keep = contract.partner_id if contract is not None else None
    first = {"": "All partners"} if for_filter else {"": "Choose a partner"}
    return first | {
        str(partner.id): partner.name for partner in partners if for_filter or partner.active or partner.id == keep
    }


def contract_form_data(contract: Contract) -> dict[str, Any]:
    return {
        "reference": contract.reference,
        "title": contract.title,
        "partner_id": str(contract.partner_id),
        "tier": contract.tier.value,
        "start_date": contract.start_date,
        "end_date": contract.end_date,
        "value_cap": pounds(contract.value_cap_pence),
        "vat_rate": str(contract.vat_rate_bp),
        "payment_terms_days": str(contract.payment_terms_days),
        "accept_sla_working_days": str(contract.accept_sla_working_days),
        "first_contact_sla_working_days": str(contract.first_contact_sla_working_days),
        "counties": [str(county.id) for county in contract.counties],
        "prisons": [str(prison.id) for prison in contract.prisons],
        "description": contract.description or "",
        "version": str(contract.version),
    }


# --- contracts -----------------------------------------------------------------------------------------


@bp.route("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    form = ContractFilterForm(request.args)
    statement = access.visible(Contract, current_user).order_by(Contract.reference)
    show_partner = current_user.is_crc_user
    if show_partner:
        form.partner.choices = partner_choices(for_filter=True)
        if (partner_id := as_id(form.partner.data)) is not None:
            statement = statement.where(Contract.partner_id == partner_id)
    else:
        del form.partner  # partners see only their own organisation's contracts anyway
    if form.status.data in {status.value for status in ContractStatus}:
        statement = statement.where(Contract.status == ContractStatus(form.status.data))
    page = paginate(statement, per_page=50)
    return render_template(
        "contracts/index.html",
        filter_form=form,
        page=page,
        show_partner=show_partner,
        can_manage=access.can(current_user, "add", Contract),
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():  # type: ignore[no-untyped-def]
    access.require(current_user, "add", Contract)
    form = ContractForm()
    form.partner_id.choices = partner_choices()
    form.area_choices(current_user.organisation_id)
    if form.validate_on_submit():
        try:
            contract = service.create_contract(current_user, **form.fields_for_service())
        except ValidationFailed as error:
            show_errors(form, error)
        else:
            flash(
                f"Contract {contract.reference} created as a draft. Add its rate card, then make it active.", "success"
            )
            return redirect(contract_url(contract))
    return render_template("contracts/contract_form.html", form=form, contract=None)


@bp.route("/<reference>")
@login_required
def show(reference: str):  # type: ignore[no-untyped-def]
    contract = load_contract(reference)
    today = london_today()
    spent = service.spend_to_date(contract)
    items = service.items_with_prices(contract)
    return render_template(
        "contracts/show.html",
        contract=contract,
        rows=rate_card_rows(items, today),
        double_billing=service.double_billing_on(items),
        spent=spent,
        spent_percent=min(100, spent * 100 // contract.value_cap_pence) if contract.value_cap_pence > 0 else 0,
        can=contract_permissions(contract),
        link_partner=current_user.is_crc_user,
        related=related_links(contract),
        today=today,
        below_plan=below_plan(contract, today),
    )


def below_plan(contract: Contract, today: date) -> list[Any]:
    from portal.grants.below_plan import below_plan as services_below_plan

    return services_below_plan(contract, today)


def related_links(contract: Contract) -> list[tuple[str, str]]:
    """Where the contract's invoices, returns and figures are, for those who may see them."""
    links = [("Invoices", url_for("invoicing.index", contract=contract.reference))]
    if access.can(current_user, "see", ServiceReturn):
        links.append(("Service returns", url_for("returns.index", contract=contract.reference)))
    if access.can(current_user, "see_figures", contract):
        links.append(("Dashboard", url_for("dashboards.index", contract=contract.reference)))
    return links


@bp.route("/<reference>/edit", methods=["GET", "POST"])
@login_required
def edit(reference: str):  # type: ignore[no-untyped-def]
    contract = managed_contract(reference)
    form = ContractForm(data=contract_form_data(contract) if request.method == "GET" else None)
    form.partner_id.choices = partner_choices(contract)
    form.area_choices(contract.crc_id, contract)
    if form.validate_on_submit():
        try:
            service.update_contract(current_user, contract, version=form.version_read, **form.fields_for_service())
        except ValidationFailed as error:
            show_errors(form, error)
        except StaleRecord as error:
            show_stale(form, error)
        else:
            flash("Changes saved.", "success")
            return redirect(contract_url(contract))
    return render_template("contracts/contract_form.html", form=form, contract=contract)


@bp.route("/<reference>/activate", methods=["GET", "POST"])
@login_required
def activate(reference: str):  # type: ignore[no-untyped-def]
    contract = managed_contract(reference)
    form = ConfirmForm(data={"version": str(contract.version)} if request.method == "GET" else None)
    if request.method == "GET" and not service.CONTRACT_WORKFLOW.allowed(contract, "activate"):
        flash("Only a draft contract can be made active.", "error")
        return redirect(contract_url(contract))
    if form.validate_on_submit():
        return act_and_redirect(
            lambda: service.activate_contract(current_user, contract, version=form.version_read),
            success=f"Contract {contract.reference} is now active. Referrals can be sent under it.",
            back=contract_url(contract),
        )
    return render_template("contracts/activate.html", form=form, contract=contract)


@bp.route("/<reference>/end", methods=["GET", "POST"])
@login_required
def end(reference: str):  # type: ignore[no-untyped-def]
    contract = managed_contract(reference)
    if request.method == "GET" and not service.CONTRACT_WORKFLOW.allowed(contract, "end"):
        flash("Only an active contract can be ended.", "error")
        return redirect(contract_url(contract))
    form = EndContractForm(
        data={"end_date": contract.end_date, "version": str(contract.version)} if request.method == "GET" else None
    )
    if form.validate_on_submit():
        try:
            service.end_contract(current_user, contract, end_date=form.end_date.data, version=form.version_read)
        except ValidationFailed as error:
            show_errors(form, error)
        except StaleRecord as error:
            show_stale(form, error)
        except InvalidTransition as error:
            return back_to(contract_url(contract), error.message)
        else:
            flash(
                f"Contract {contract.reference} has ended. Its last day is {format_date(contract.end_date)}.", "success"
            )
            return redirect(contract_url(contract))
    return render_template("contracts/end.html", form=form, contract=contract)


# --- outcome types -----------------------------------------------------------------------------------


@bp.route("/<reference>/outcome-types", methods=["GET", "POST"])
@login_required
def outcome_types(reference: str):  # type: ignore[no-untyped-def]
    contract = load_contract(reference)
    if request.method == "POST":
        access.require(current_user, "manage", contract)
    form = OutcomeTypeForm()
    if form.validate_on_submit():
        try:
            added = service.add_outcome_type(
                current_user,
                contract,
                code=form.code.data,
                name=form.name.data,
                pathway=form.pathway.data,
                **form.rule_fields(),
            )
        except ValidationFailed as error:
            show_errors(form, error)
        else:
            flash(f"Outcome type {added.code} added.", "success")
            return redirect(url_for("contracts.outcome_types", reference=contract.reference))
    return render_template(
        "contracts/outcome_types.html",
        form=form,
        contract=contract,
        outcome_types=service.outcome_types_of(contract),
        can=contract_permissions(contract),
    )


@bp.route("/<reference>/outcome-types/<int:outcome_type_id>/edit", methods=["GET", "POST"])
@login_required
def edit_outcome_type(reference: str, outcome_type_id: int):  # type: ignore[no-untyped-def]
    contract = load_contract(reference)
    outcome_type = load_outcome_type(contract, outcome_type_id)
    access.require(current_user, "manage", contract)
    form = OutcomeTypeForm(obj=outcome_type if request.method == "GET" else None)
    if request.method == "GET":
        form.pathway.data = outcome_type.pathway.value
        form.version.data = str(outcome_type.version)
        form.outcome_from.data = outcome_type.outcome_from.value if outcome_type.outcome_from else ""
        form.outcome_earliest_days.data = str(outcome_type.outcome_earliest_days)
        for name in ("outcome_latest_days", "max_per_referral"):
            value = getattr(outcome_type, name)
            getattr(form, name).data = "" if value is None else str(value)
    if form.validate_on_submit():
        try:
            service.update_outcome_type(
                current_user,
                outcome_type,
                contract,
                version=form.version_read,
                name=form.name.data,
                pathway=form.pathway.data,
                active=bool(form.active.data),
                **form.rule_fields(),
            )
        except ValidationFailed as error:
            show_errors(form, error)
        except StaleRecord as error:
            show_stale(form, error)
        else:
            flash(f"Outcome type {outcome_type.code} saved.", "success")
            return redirect(url_for("contracts.outcome_types", reference=contract.reference))
    return render_template("contracts/edit_outcome_type.html", form=form, contract=contract, outcome_type=outcome_type)


# --- rate-card items ------------------------------------------------------------------------------------


@bp.route("/<reference>/items/new", methods=["GET", "POST"])
@login_required
def new_item(reference: str):  # type: ignore[no-untyped-def]
    contract = managed_contract(reference)
    form = ItemForm(outcome_types=service.outcome_types_of(contract))
    if form.validate_on_submit():
        try:
            item = service.add_item(current_user, contract, **form.fields_for_service())
        except ValidationFailed as error:
            show_errors(form, error)
        else:
            flash(f"Item {item.code} added. Add its price.", "success")
            return redirect(url_for("contracts.new_price", reference=contract.reference, code=item.code))
    return render_template("contracts/item_form.html", form=form, contract=contract, item=None)


@bp.route("/<reference>/items/<code>")
@login_required
def item(reference: str, code: str):  # type: ignore[no-untyped-def]
    contract = load_contract(reference)
    shown = load_item(contract, code)
    today = london_today()
    return render_template(
        "contracts/item.html",
        contract=contract,
        item=shown,
        current=price_on(shown, today),  # type: ignore[arg-type]
        periods=[(price, price_period(price, today), service.price_is_locked(price)) for price in shown.prices],
        can=contract_permissions(contract),
    )


@bp.route("/<reference>/items/<code>/edit", methods=["GET", "POST"])
@login_required
def edit_item(reference: str, code: str):  # type: ignore[no-untyped-def]
    contract = load_contract(reference)
    shown = load_item(contract, code)
    access.require(current_user, "manage", contract)
    data = None
    if request.method == "GET":
        data = {
            "code": shown.code,
            "service_code": shown.service_code,
            "name": shown.name,
            "pathway": shown.pathway.value,
            "setting": shown.setting.value,
            "unit": shown.unit.value,
            "outcome_type_id": str(shown.outcome_type_id or ""),
            "max_units_per_referral": "" if shown.max_units_per_referral is None else str(shown.max_units_per_referral),
            "session_kinds": list(shown.session_kinds),
            "active": shown.active,
            "version": str(shown.version),
        }
    form = ItemForm(data=data, outcome_types=service.outcome_types_of(contract))
    if form.validate_on_submit():
        try:
            service.update_item(current_user, shown, contract, version=form.version_read, **form.fields_for_service())
        except ValidationFailed as error:
            show_errors(form, error)
        except StaleRecord as error:
            show_stale(form, error)
        else:
            flash("Changes saved.", "success")
            return redirect(item_url(contract, shown))
    return render_template("contracts/item_form.html", form=form, contract=contract, item=shown)


# --- prices -----------------------------------------------------------------------------------------------


@bp.route("/<reference>/items/<code>/prices/new", methods=["GET", "POST"])
@login_required
def new_price(reference: str, code: str):  # type: ignore[no-untyped-def]
    contract = load_contract(reference)
    shown = load_item(contract, code)
    access.require(current_user, "manage", contract)
    form = PriceForm()
    if form.validate_on_submit():
        try:
            service.add_price(current_user, shown, contract, **form.fields_for_service())
        except ValidationFailed as error:
            show_errors(form, error)
        else:
            flash("Price added.", "success")
            return redirect(item_url(contract, shown))
    return render_template("contracts/price_form.html", form=form, contract=contract, item=shown, price=None)


def _priced(reference: str, code: str, price_id: int) -> tuple[Contract, RateCardItem, RateCardPrice]:
    contract = load_contract(reference)
    shown = load_item(contract, code)
    price = load_price(shown, price_id)
    access.require(current_user, "manage", contract)
    return contract, shown, price


@bp.route("/<reference>/items/<code>/prices/<int:price_id>/edit", methods=["GET", "POST"])
@login_required
def edit_price(reference: str, code: str, price_id: int):  # type: ignore[no-untyped-def]
    contract, shown, price = _priced(reference, code, price_id)
    data = None
    if request.method == "GET":
        data = {
            "unit_price": pounds(price.unit_price_pence),
            "effective_from": price.effective_from,
            "effective_to": price.effective_to,
            "version": str(price.version),
        }
    form = PriceForm(data=data)
    if form.validate_on_submit():
        try:
            service.update_price(
                current_user, price, shown, contract, version=form.version_read, **form.fields_for_service()
            )
        except ValidationFailed as error:
            show_errors(form, error)
        except StaleRecord as error:
            show_stale(form, error)
        else:
            flash("Price saved.", "success")
            return redirect(item_url(contract, shown))
    return render_template(
        "contracts/price_form.html",
        form=form,
        contract=contract,
        item=shown,
        price=price,
        locked=service.price_is_locked(price),
    )


@bp.route("/<reference>/items/<code>/prices/<int:price_id>/end", methods=["GET", "POST"])
@login_required
def end_price(reference: str, code: str, price_id: int):  # type: ignore[no-untyped-def]
    contract, shown, price = _priced(reference, code, price_id)
    data = {"effective_to": price.effective_to, "version": str(price.version)} if request.method == "GET" else None
    form = EndPriceForm(data=data)
    if form.validate_on_submit():
        try:
            service.end_price(
                current_user, price, shown, contract, effective_to=form.effective_to.data, version=form.version_read
            )
        except ValidationFailed as error:
            show_errors(form, error)
        except StaleRecord as error:
            show_stale(form, error)
        else:
            flash("Price ended.", "success")
            return redirect(item_url(contract, shown))
    return render_template("contracts/end_price.html", form=form, contract=contract, item=shown, price=price)


@bp.route("/<reference>/items/<code>/prices/<int:price_id>/delete", methods=["GET", "POST"])
@login_required
def delete_price(reference: str, code: str, price_id: int):  # type: ignore[no-untyped-def]
    contract, shown, price = _priced(reference, code, price_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            service.delete_price(current_user, price, shown, contract)
        except ValidationFailed as error:
            return back_to(item_url(contract, shown), _first_message(error))
        flash("Price deleted.", "success")
        return redirect(item_url(contract, shown))
    return render_template(
        "contracts/delete_price.html",
        form=form,
        contract=contract,
        item=shown,
        price=price,
        locked=service.price_is_locked(price),
    )


def _first_message(error: ValidationFailed) -> str:
    return next(iter(error.errors.values()))[0]


# --- rate-card files ----------------------------------------------------------------------------------------


@bp.route("/<reference>/rate-card/import", methods=["GET", "POST"])
@login_required
def import_rate_card(reference: str):  # type: ignore[no-untyped-def]
    contract = managed_contract(reference)
    form = ImportRateCardForm()
    failure = None
    if form.validate_on_submit():
        upload = form.file.data
        if upload is None or not upload.filename:
            form.file.errors = ["Select a CSV file"]
        else:
            # Read one byte past the limit, so a huge file is refused without holding it all.
            data = upload.stream.read(rate_card_csv.MAX_BYTES + 1)
            try:
                summary = rate_card_csv.import_rate_card(current_user, contract, data, filename=upload.filename)
            except rate_card_csv.RateCardImportFailed as error:
                db.session.rollback()
                failure = error
                form.file.errors = [
                    "The rate card was not imported. Nothing was saved. "
                    f"Correct the {_problems(len(error.errors))} in the table below, then select the file again"
                ]
            else:
                if summary.changed_anything:
                    flash(f"Rate card imported from {upload.filename}: {summary.describe()}.", "success")
                else:
                    flash(f"The rate card already matched {upload.filename}: nothing changed.", "success")
                return redirect(contract_url(contract))
    return render_template(
        "contracts/import.html",
        form=form,
        contract=contract,
        failure=failure,
        filename=form.file.data.filename if failure is not None else None,
        columns=rate_card_csv.COLUMNS,
        pathways=PATHWAY_CHOICES,
        session_kinds=SESSION_KINDS,
        max_megabytes=rate_card_csv.MAX_BYTES // 1_000_000,
    )


def _problems(count: int) -> str:
    return "problem" if count == 1 else f"{count} problems"


@bp.route("/<reference>/rate-card.csv")
@login_required
def export_rate_card(reference: str):  # type: ignore[no-untyped-def]
    contract = load_contract(reference)
    return Response(
        rate_card_csv.export_rate_card(contract),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{contract.reference}-rate-card.csv"'},
    )
