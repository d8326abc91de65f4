"""Pages for importing referrals from a CSV extract: upload, preview, progress, result."""

from __future__ import annotations

from flask import Response, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from govuk_frontend_wtf.wtforms_widgets import GovFileInput

from portal import access
from portal.csv_files import FileRejected, csv_text
from portal.errors import ValidationFailed
from portal.jobs import job_status
from portal.referrals import bulk_import
from portal.referrals.blueprint import bp
from portal.referrals.models import ImportStatus, Referral, ReferralImport

EXAMPLE_ROW = {
    "contract": "BENCH-ACC-01",
    "service": "Through the Gate resettlement: accommodation, finance, benefit and debt",
    "service_code": "",
    "crn": "X123456",
    "given_name": "Jamie",
    "family_name": "Walker",
    "date_of_birth": "1990-04-01",
    "gender": "male",
    "ethnicity": "white_british",
    "disability": "no",
    "prison_number": "A1234BC",
    "interpreter_language": "",
    "location_type": "custody",
    "prison": "HMP Bedford",
    "expected_release_date": "2027-01-15",
    "community_office": "",
    "postcode": "",
    "contact_details": "Via the prison OMU",
    "rosh_level": "medium",
    "risk_flags": "domestic_abuse;violence",
    "risk_summary": "Domestic abuse towards a former partner.",
    "complexity": "high",
    "desired_outcomes": "Settled accommodation on release|Open a bank account",
    "reason": "No fixed abode on release.",
    "rar_days": "10",
    "sentence_end_date": "2027-09-30",
    "urgent": "no",
    "colour_band": "yellow",
}


class UploadForm(FlaskForm):
    file = FileField("CSV file", widget=GovFileInput())


class ConfirmForm(FlaskForm):
    pass


def _require_importer() -> None:
    access.require(current_user, "send", Referral)


@bp.route("/import", methods=["GET", "POST"])
@login_required
def import_referrals():  # type: ignore[no-untyped-def]
    _require_importer()
    form = UploadForm()
    rejected = None
    if form.validate_on_submit():
        upload = form.file.data
        if upload is None or not upload.filename:
            form.file.errors = ["Select a CSV file"]
        else:
            try:
                referral_import = bulk_import.upload(current_user, upload.filename, upload.read())
            except FileRejected as failure:
                rejected = failure
                form.file.errors = [f"{failure.message}. Nothing was saved. Correct the file and upload it again."]
            else:
                return redirect(url_for("referrals.import_status", import_id=referral_import.id))
    return render_template(
        "referrals/import.html",
        form=form,
        rejected=rejected,
        columns=bulk_import.COLUMNS,
        optional=bulk_import.OPTIONAL_COLUMNS,
        recent=bulk_import.imports_of(current_user),
    )


@bp.route("/import/template.csv")
@login_required
def import_template():  # type: ignore[no-untyped-def]
    _require_importer()
    example = [EXAMPLE_ROW.get(column, "") for column in bulk_import.COLUMNS]
    return Response(
        csv_text(bulk_import.COLUMNS, [example]),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="referrals-template.csv"'},
    )


def _load_import(import_id: int) -> ReferralImport:
    _require_importer()
    return access.get_visible_or_404(ReferralImport, import_id, current_user)


@bp.route("/import/<int:import_id>", methods=["GET", "POST"])
@login_required
def import_status(import_id: int):  # type: ignore[no-untyped-def]
    referral_import = _load_import(import_id)
    form = ConfirmForm()
    problem = None
    if request.method == "POST" and form.validate_on_submit():
        try:
            bulk_import.confirm(current_user, referral_import)
        except ValidationFailed as error:
            problem = next(iter(error.errors.values()))[0]
        else:
            flash("Your referrals are being sent.", "success")
            return redirect(url_for("referrals.import_status", import_id=referral_import.id))
    preview = []
    if referral_import.status == ImportStatus.CHECKED:
        try:
            preview = bulk_import.preview_rows(current_user, referral_import)
        except FileRejected as failure:  # something changed since it was checked: say so
            problem = f"{failure.message}: " + "; ".join(str(error) for error in failure.errors[:5])
    return render_template(
        "referrals/import_status.html",
        referral_import=referral_import,
        form=form,
        preview=preview,
        problem=problem,
        contract_reference=bulk_import.contract_reference,
    )


@bp.route("/import/<int:import_id>/status.json")
@login_required
def import_progress(import_id: int):  # type: ignore[no-untyped-def]
    referral_import = _load_import(import_id)
    state = job_status(referral_import.job_id) if referral_import.job_id else None
    payload = state.as_json() if state else {"status": referral_import.status.value, "percent": 0}
    payload["import_status"] = referral_import.status.value
    return jsonify(payload)
