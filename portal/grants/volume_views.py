"""A contract's expected volumes page: starts expected a month by service and the spend profile,
set by the contract manager from CSV files, and the contract's actual against expected to date,
with forecasts to its end and the under-delivery flags. Partners see their own contracts' page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select

from portal import access
from portal.contracts.models import Contract
from portal.csv_files import FileRejected
from portal.dates import Period, PeriodKind, london_today, month_label, parse_month
from portal.extensions import db
from portal.figures import count_volumes
from portal.grants import volumes
from portal.grants.below_plan import below_plan
from portal.grants.forms import ExpectedStartsForm, ExpectedStartsRangeForm, VolumesFileForm
from portal.grants.models import ExpectedStarts
from portal.web import attempt

bp = Blueprint("volumes", __name__, url_prefix="/contracts")


def _contract(reference: str) -> Contract:
    user = current_user._get_current_object()
    return access.get_visible_or_404(Contract, reference.upper()[:30], user, column=Contract.reference)


def to_date(contract: Contract) -> dict[str, Any]:
    """The contract against what it expected, from its start to today (or its end)."""
    today = london_today()
    day = min(max(today, contract.start_date), contract.end_date)
    # Only the volumes: the month's other figures are not shown here, and cost seconds to count.
    return count_volumes([contract.id], Period(PeriodKind.MONTH, day.replace(day=1)), today=today)["contracts"][0]


@bp.route("/<reference>/volumes")
@login_required
def show(reference: str):  # type: ignore[no-untyped-def]
    contract = _contract(reference)
    starts = volumes.expected_starts_of(contract)
    months = sorted({row.month for row in starts})
    codes = sorted({row.service_code for row in starts})
    grid = {(row.month, row.service_code): row.starts for row in starts}
    behind = below_plan(contract)
    return render_template(
        "grants/volumes.html",
        contract=contract,
        months=months,
        codes=codes,
        grid=grid,
        profile=volumes.spend_profile_of(contract),
        behind=behind,
        summary=to_date(contract),
        can_manage=access.can(current_user, "manage", contract),
        month_label=month_label,
    )


@bp.route("/<reference>/volumes/import", methods=["GET", "POST"])
@login_required
def import_volumes(reference: str):  # type: ignore[no-untyped-def]
    contract = _contract(reference)
    access.require(current_user, "manage", contract)
    form = VolumesFileForm()
    failure = None
    if form.validate_on_submit():
        upload = form.file.data
        if form.what.data not in ("starts", "spend"):
            form.what.errors = ["Select what the file holds"]
        elif upload is None or not upload.filename:
            form.file.errors = ["Select a CSV file"]
        else:
            data = upload.stream.read(500_001)
            operation = volumes.import_expected_starts if form.what.data == "starts" else volumes.import_spend_profile
            try:
                kept = operation(current_user._get_current_object(), contract, data)
            except FileRejected as error:
                db.session.rollback()
                failure = error
                form.file.errors = [
                    "The file was not imported. Nothing was saved. Correct the problems in the table below, "
                    "then select the file again"
                ]
            else:
                what = "Expected starts" if form.what.data == "starts" else "Spend profile"
                flash(f"{what} imported: {kept} rows.", "success")
                return redirect(url_for("volumes.show", reference=contract.reference))
    return render_template("grants/volumes_import.html", form=form, contract=contract, failure=failure)


def _starts_form(reference: str, form_class: type[FlaskForm]) -> tuple[Contract, Any, FlaskForm]:
    """The contract of an expected-starts page, which only those who manage it may use, the user,
    and the page's form offering the contract's services (or the whole contract)."""
    contract = _contract(reference)
    user = current_user._get_current_object()
    access.require(user, "manage", contract)
    form = form_class()
    codes = sorted(volumes.service_codes(contract))
    form.service_code.choices = [("", "Whole contract (every service)")] + [(code, code) for code in codes]
    return contract, user, form


def _save_starts(form: FlaskForm, contract: Contract, operation: Callable[[], Any], said: Callable[[Any], str]) -> Any:
    """Run the setting of expected starts: back to the volumes page with what was saved (`said` of
    the result), or None to show the form again with the reasons."""
    result = attempt(form, operation)
    if not result.ok:
        return None
    flash(said(result.result), "success")
    return redirect(url_for("volumes.show", reference=contract.reference))


@bp.route("/<reference>/volumes/starts", methods=["GET", "POST"])
@login_required
def set_starts(reference: str):  # type: ignore[no-untyped-def]
    """Set or change the starts expected of one service in one month (?service=&month= picks the
    figure to change, with the version it is read at)."""
    contract, user, form = _starts_form(reference, ExpectedStartsForm)
    if request.method == "GET":
        code = request.args.get("service", "")[:40].upper()
        month = parse_month(request.args.get("month", ""))
        existing = None
        if month is not None:
            existing = db.session.scalars(
                select(ExpectedStarts).where(
                    ExpectedStarts.contract_id == contract.id,
                    ExpectedStarts.service_code == code,
                    ExpectedStarts.month == month,
                )
            ).first()
        form.service_code.data = code
        form.month.data = month.strftime("%Y-%m") if month else ""
        form.expected_starts.data = str(existing.starts) if existing else ""
        form.version.data = str(existing.version) if existing else "0"
    elif form.validate_on_submit():
        saved = _save_starts(
            form,
            contract,
            lambda: volumes.set_expected_starts(
                user,
                contract,
                service_code=form.service_code.data,
                month=form.month.data,
                starts=form.expected_starts.data,
                version=(form.version.data or "").strip() or "0",
            ),
            lambda row: (
                f"Expected starts for {row.service_code or 'the whole contract'} in {month_label(row.month)} "
                f"saved: {row.starts}."
            ),
        )
        if saved:
            return saved
    return render_template("grants/expected_starts_form.html", form=form, contract=contract)


@bp.route("/<reference>/volumes/starts/months", methods=["GET", "POST"])
@login_required
def set_starts_for_months(reference: str):  # type: ignore[no-untyped-def]
    """Set the same starts expected of one service in each month of a range, in one submit."""
    contract, user, form = _starts_form(reference, ExpectedStartsRangeForm)
    if form.validate_on_submit():
        saved = _save_starts(
            form,
            contract,
            lambda: volumes.set_expected_starts_for_months(
                user,
                contract,
                service_code=form.service_code.data,
                from_month=form.from_month.data,
                to_month=form.to_month.data,
                starts=form.expected_starts.data,
            ),
            lambda rows: (
                f"Expected starts for {rows[0].service_code or 'the whole contract'} saved: {rows[0].starts} a month "
                f"from {month_label(rows[0].month)} to {month_label(rows[-1].month)} ({len(rows)} months)."
            ),
        )
        if saved:
            return saved
    return render_template("grants/expected_starts_range_form.html", form=form, contract=contract)
