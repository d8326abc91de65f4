"""A contract's expected volumes page: starts expected a month by service and the spend profile,
set by the contract manager from CSV files, and the contract's actual against expected to date,
with forecasts to its end and the under-delivery flags. Partners see their own contracts' page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from portal import access
from portal.contracts.models import Contract
from portal.csv_files import FileRejected
from portal.dates import Period, PeriodKind, london_today, month_label
from portal.extensions import db
from portal.grants import volumes
from portal.grants.forms import VolumesFileForm
from portal.returns.records import figures_for

bp = Blueprint("volumes", __name__, url_prefix="/contracts")


def _contract(reference: str) -> Contract:
    user = current_user._get_current_object()
    return access.get_visible_or_404(Contract, reference.upper()[:30], user, column=Contract.reference)


def to_date(contract: Contract) -> dict[str, Any]:
    """The contract against what it expected, from its start to today (or its end)."""
    today = london_today()
    day = min(max(today, contract.start_date), contract.end_date)
    figures = figures_for(contract, Period(PeriodKind.MONTH, day.replace(day=1)), today=today)
    return figures["volumes"]["contracts"][0]


@bp.route("/<reference>/volumes")
@login_required
def show(reference: str):  # type: ignore[no-untyped-def]
    contract = _contract(reference)
    starts = volumes.expected_starts_of(contract)
    months = sorted({row.month for row in starts})
    codes = sorted({row.service_code for row in starts})
    grid = {(row.month, row.service_code): row.starts for row in starts}
    return render_template(
        "grants/volumes.html",
        contract=contract,
        months=months,
        codes=codes,
        grid=grid,
        profile=volumes.spend_profile_of(contract),
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
