"""Pages for service returns: the list, starting one, the return with its figures and charts, its
narrative, submitting, the contract manager's accept or return, the PDF, the figures as CSV and
the bulk download of a period's accepted returns.

Every page finds the return through `portal.access` (another partner's return is a 404), then
checks the permission to act (403); each form calls one operation in `portal.returns.service`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import defer

from portal import access, charts
from portal.accounts.models import User
from portal.contracts.models import Contract, ContractStatus
from portal.csv_files import csv_response, stream_rows, xlsx_response
from portal.dates import Period, PeriodKind, add_months, london_today, parse_period
from portal.extensions import db
from portal.formatting import format_money
from portal.jobs import job_status, start_job
from portal.pdf import pdf_response
from portal.returns import bulk, service, spreadsheet
from portal.returns.documents import service_return_pdf
from portal.returns.forms import BulkForm, ConfirmForm, NarrativeForm, NewReturnForm, ReturnForm
from portal.returns.kpis import percent_text
from portal.returns.models import NARRATIVE_FIELDS, ReturnStatus, ServiceReturn
from portal.returns.targets import STATUS_LABELS
from portal.web import attempt_and_redirect, paginate

bp = Blueprint("returns", __name__, url_prefix="/service-returns")
PAGE_SIZE = 50


# --- helpers shared with the templates ------------------------------------------------------------


@bp.app_template_filter("figure")
def figure_text(value: Any, kind: str = "count") -> str:
    """A figure as a person reads it: counts, "95.0%", "2.5", "£1,234.00" or "no data"."""
    if kind == "percent":
        return percent_text(value)
    if kind == "money":
        return format_money(value, blank="no data")
    if value is None:
        return "no data"
    return str(value)


def load_return(return_id: int) -> ServiceReturn:
    """The return, if the current user's role works with returns (else 403) and they may see it (else 404)."""
    access.require(current_user, "see", ServiceReturn)
    return access.get_visible_or_404(ServiceReturn, return_id, current_user)


def recent_periods(earliest: date, today: date, *, count: int = 24) -> dict[str, str]:
    """Quarters and months that have started, newest first, none before `earliest`'s month."""
    choices: dict[str, str] = {}
    month = today.replace(day=1)
    floor = max(earliest.replace(day=1), add_months(month, -count))
    while month >= floor:
        if month.month in (1, 4, 7, 10):
            quarter = Period(PeriodKind.QUARTER, month)
            choices[quarter.code] = f"{quarter.label} (quarter {quarter.code})"
        single = Period(PeriodKind.MONTH, month)
        choices[single.code] = f"{single.label} (month)"
        month = add_months(month, -1)
    return choices


def _names(*user_ids: int | None) -> dict[int, str]:
    ids = {user_id for user_id in user_ids if user_id}
    if not ids:
        return {}
    return {user.id: user.name for user in db.session.scalars(select(User).where(User.id.in_(ids)))}


# --- the list ---------------------------------------------------------------------------------------------


STATUS_FILTERS = {"": "Any status"} | {status.value: status.label for status in ReturnStatus}


def _filtered_returns() -> tuple[str, str, Any]:
    """The list's filters and its rows: a contract manager opens it on the returns to review
    (the one submitted longest ago first), a partner on all of theirs, newest period first."""
    deciding = access.can(current_user, "decide", ServiceReturn)
    status = request.args.get("status", "submitted" if deciding else "")
    contract_reference = request.args.get("contract", "")[:30].upper()
    # A list never shows the frozen figures (about 25 kB of JSON a return): not read, and never
    # loaded row by row behind the list's back (raiseload).
    statement = access.visible(ServiceReturn, current_user).options(defer(ServiceReturn.kpis, raiseload=True))
    if status in {s.value for s in ReturnStatus}:
        statement = statement.where(ServiceReturn.status == ReturnStatus(status))
    if contract_reference:
        statement = statement.join(Contract, Contract.id == ServiceReturn.contract_id).where(
            Contract.reference == contract_reference
        )
    if status == ReturnStatus.SUBMITTED.value:
        statement = statement.order_by(ServiceReturn.submitted_at, ServiceReturn.id)
    else:
        statement = statement.order_by(ServiceReturn.period_start.desc(), ServiceReturn.id.desc())
    return status, contract_reference, statement


@bp.route("/export.csv")
@login_required
def export_list():  # type: ignore[no-untyped-def]
    """The filtered list, every page of it, as CSV."""
    access.require(current_user, "see", ServiceReturn)
    _status, _contract, statement = _filtered_returns()
    rows = (
        (
            item.contract.reference,
            item.contract.partner.name,
            item.period.label,
            item.period_start.isoformat(),
            item.period_end.isoformat(),
            item.status.value,
            item.submitted_at.isoformat() if item.submitted_at else "",
        )
        for item in stream_rows(statement)
    )
    header = ("contract", "partner", "period", "period_start", "period_end", "status", "submitted_at")
    return csv_response(header, rows, "service-returns.csv")


@bp.route("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    access.require(current_user, "see", ServiceReturn)
    status, contract_reference, statement = _filtered_returns()
    page = paginate(statement, per_page=PAGE_SIZE)
    # The filter's choices: the references and titles only (whole contracts join two organisations each).
    contracts = db.session.execute(
        access.visible(Contract, current_user)
        .with_only_columns(Contract.reference, Contract.title)
        .order_by(Contract.reference)
    ).all()
    return render_template(
        "returns/index.html",
        page=page,
        status=status,
        statuses=STATUS_FILTERS,
        contract=contract_reference,
        contracts={"": "All contracts"} | {c.reference: f"{c.reference}: {c.title}" for c in contracts},
        can_write=access.can(current_user, "start_returns", Contract),
        can_decide=access.can(current_user, "decide", ServiceReturn),
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():  # type: ignore[no-untyped-def]
    access.require(current_user, "start_returns", Contract)
    contracts = db.session.scalars(
        access.visible(Contract, current_user)
        .where(Contract.status != ContractStatus.DRAFT)
        .order_by(Contract.reference)
    ).all()
    today = london_today()
    form = NewReturnForm()
    form.contract.choices = {"": "Choose a contract"} | {c.reference: f"{c.reference}: {c.title}" for c in contracts}
    earliest = min((c.start_date for c in contracts), default=today)
    form.period.choices = {"": "Choose a period"} | recent_periods(earliest, today)
    if request.method == "GET":
        form.contract.data = request.args.get("contract", "")
    if form.validate_on_submit():
        contract = next((c for c in contracts if c.reference == form.contract.data), None)
        if contract is None:
            form.contract.errors = ["Select a contract"]
        else:
            created: list[ServiceReturn] = []
            response = attempt_and_redirect(
                form,
                lambda: created.append(service.create_return(current_user, contract, form.period.data)),
                success="The return has been started. Check the figures, then write the narrative.",
                back="",
            )
            if response is not None:
                return redirect(url_for("returns.show", return_id=created[0].id))
    return render_template("returns/new.html", form=form, has_contracts=bool(contracts))


# --- one return ----------------------------------------------------------------------------------------


def _show(service_return: ServiceReturn, *, form: Any = None, status: int = 200):  # type: ignore[no-untyped-def]
    figures = service.figures_of(service_return)
    names = _names(
        service_return.submitted_by_id,
        service_return.accepted_by_id,
        service_return.returned_by_id,
        service_return.created_by_id,
    )
    user = current_user
    workflow = service.RETURN_WORKFLOW
    return (
        render_template(
            "returns/show.html",
            service_return=service_return,
            contract=service_return.contract,
            figures=figures,
            charts=charts,
            names=names,
            form=form or ConfirmForm(version=str(service_return.version)),
            missing=service.missing_narrative(service_return) if service_return.is_editable else {},
            target_statuses=STATUS_LABELS,
            today=london_today(),
            can={
                "write": access.can(user, "write", service_return) and service_return.is_editable,
                "submit": access.can(user, "write", service_return) and workflow.allowed(service_return, "submit"),
                "accept": access.can(user, "decide", service_return) and workflow.allowed(service_return, "accept"),
                "return": access.can(user, "decide", service_return) and workflow.allowed(service_return, "return"),
            },
        ),
        status,
    )


@bp.route("/<int:return_id>")
@login_required
def show(return_id: int):  # type: ignore[no-untyped-def]
    return _show(load_return(return_id))


@bp.route("/<int:return_id>/narrative", methods=["GET", "POST"])
@login_required
def narrative(return_id: int):  # type: ignore[no-untyped-def]
    service_return = load_return(return_id)
    access.require(current_user, "write", service_return)
    if not service_return.is_editable:
        flash("This return has been submitted: its narrative can no longer change.", "info")
        return redirect(url_for("returns.show", return_id=service_return.id))
    form = NarrativeForm()
    if request.method == "GET":
        form.version.data = str(service_return.version)
        for name in NARRATIVE_FIELDS:
            value = getattr(service_return, name)
            getattr(form, name).data = "" if value is None else str(value)
    elif form.validate_on_submit():
        fields = {name: getattr(form, name).data for name in NARRATIVE_FIELDS}
        response = attempt_and_redirect(
            form,
            lambda: service.update_narrative(current_user, service_return, fields, version=form.version.data),
            success="The narrative has been saved.",
            back=url_for("returns.show", return_id=service_return.id, _anchor="narrative"),
        )
        if response is not None:
            return response
    return render_template("returns/narrative.html", service_return=service_return, form=form)


def _button(return_id: int, verb: str, operation: Any, success: str) -> Any:
    """A button on the return's page: the operation, or the page again saying why not."""
    service_return = load_return(return_id)
    access.require(current_user, verb, service_return)
    form = ConfirmForm()
    if form.validate_on_submit():
        response = attempt_and_redirect(
            form,
            lambda: operation(current_user, service_return, version=form.version.data),
            success=success,
            back=url_for("returns.show", return_id=service_return.id),
        )
        if response is not None:
            return response
    return _show(service_return, form=form, status=400)


@bp.route("/<int:return_id>/submit", methods=["POST"])
@login_required
def submit(return_id: int):  # type: ignore[no-untyped-def]
    return _button(
        return_id,
        "write",
        service.submit_return,
        "The return has been submitted. Its figures are now fixed; the CRC's contract manager will review it.",
    )


@bp.route("/<int:return_id>/accept", methods=["POST"])
@login_required
def accept(return_id: int):  # type: ignore[no-untyped-def]
    return _button(return_id, "decide", service.accept_return, "The return has been accepted.")


@bp.route("/<int:return_id>/return", methods=["GET", "POST"])
@login_required
def send_back(return_id: int):  # type: ignore[no-untyped-def]
    service_return = load_return(return_id)
    access.require(current_user, "decide", service_return)
    form = ReturnForm()
    if request.method == "GET":
        form.version.data = str(service_return.version)
    elif form.validate_on_submit():
        response = attempt_and_redirect(
            form,
            lambda: service.return_return(
                current_user, service_return, reason=form.reason.data, version=form.version.data
            ),
            success="The return has been sent back to the partner with your reason.",
            back=url_for("returns.show", return_id=service_return.id),
        )
        if response is not None:
            return response
    return render_template("returns/return.html", service_return=service_return, form=form)


@bp.route("/<int:return_id>.pdf")
@login_required
def pdf(return_id: int):  # type: ignore[no-untyped-def]
    service_return = load_return(return_id)
    return pdf_response(service_return_pdf(service_return), service_return.filename)


@bp.route("/<int:return_id>/figures.csv")
@login_required
def figures_csv(return_id: int):  # type: ignore[no-untyped-def]
    service_return = load_return(return_id)
    figures = service.figures_of(service_return)
    name = service_return.filename.removesuffix(".pdf") + ".csv"
    return csv_response((), spreadsheet.text_rows(figures), name, bom=True)


@bp.route("/<int:return_id>/figures.xlsx")
@login_required
def figures_xlsx(return_id: int):  # type: ignore[no-untyped-def]
    service_return = load_return(return_id)
    title = f"Service return: {service_return.contract.reference}, {service_return.period.label}"
    workbook = spreadsheet.workbook(service.figures_of(service_return), title)
    return xlsx_response(workbook, service_return.filename.removesuffix(".pdf") + ".xlsx")


# --- bulk downloads ------------------------------------------------------------------------------------


@bp.route("/bulk", methods=["GET", "POST"])
@login_required
def bulk_download():  # type: ignore[no-untyped-def]
    access.require(current_user, "decide", ServiceReturn)
    today = london_today()
    form = BulkForm()
    form.period.choices = {"": "Choose a period"} | recent_periods(add_months(today, -36), today, count=36)
    if form.validate_on_submit():
        period = parse_period(form.period.data)
        if period is None:
            form.period.errors = ["Select a period"]
        else:
            state = start_job(
                "returns_zip", "portal.returns.bulk:run", current_user.id, period.code, owner_id=current_user.id
            )
            return redirect(url_for("returns.bulk_status", job_id=state.id))
    return render_template("returns/bulk.html", form=form)


def _own_job(job_id: str) -> Any:
    access.require(current_user, "decide", ServiceReturn)
    state = job_status(job_id)
    if state is None or state.owner_id != current_user.id or state.kind != "returns_zip":
        abort(404)
    return state


@bp.route("/bulk/<job_id>")
@login_required
def bulk_status(job_id: str):  # type: ignore[no-untyped-def]
    return render_template("returns/bulk_status.html", job=_own_job(job_id))


@bp.route("/bulk/<job_id>/status.json")
@login_required
def bulk_progress(job_id: str):  # type: ignore[no-untyped-def]
    state = _own_job(job_id)
    payload = state.as_json()
    # The shared progress script reloads the page once "import_status" is no longer "importing".
    payload["import_status"] = "importing" if state.status in ("queued", "running") else state.status
    return jsonify(payload)


@bp.route("/bulk/<job_id>/download")
@login_required
def bulk_file(job_id: str):  # type: ignore[no-untyped-def]
    state = _own_job(job_id)
    if state.status != "finished" or not state.result.get("file"):
        abort(404)
    path = bulk.export_path(state.result["file"])
    if not path.exists():
        abort(404)
    return send_file(path, mimetype="application/zip", as_attachment=True, download_name=state.result["download_name"])
