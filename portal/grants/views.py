"""Pages for grants: a grant's schedule of instalments (set by the contract manager, one at a time or
from a CSV file), its grant payments (raised by the partner, decided and paid by the CRC, each with
a PDF), the grant-funded activity recorded without a referral, and a list of grant payments.
Thin: each reads the form, calls one service function and renders or redirects."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal import access
from portal.contracts.models import Contract, ContractTier
from portal.csv_files import FileRejected, csv_response
from portal.dates import london_today
from portal.errors import InvalidTransition, ValidationFailed
from portal.extensions import db
from portal.formatting import format_date
from portal.grants import activity as activity_service
from portal.grants import (
    service,
    work_items,  # noqa: F401  (registers the grants' work list items)
)
from portal.grants.forms import (
    ActivityForm,
    ConfirmForm,
    FileForm,
    InstalmentForm,
    MarkPaidForm,
    ReasonForm,
    ReplaceForm,
)
from portal.grants.models import GrantActivity, GrantInstalment, GrantPaymentStatus
from portal.invoicing import einvoice
from portal.money import NotAnAmount, parse_pounds
from portal.pdf import pdf_response, render_pdf
from portal.urls import as_id
from portal.web import act_and_redirect, attempt, paginate

bp = Blueprint("grants", __name__, url_prefix="/grants")
PAGE_SIZE = 50


def _user() -> Any:
    return current_user._get_current_object()


def _grant(reference: str) -> Contract:
    """A grant contract the user can see, by reference (another partner's is not found)."""
    contract = access.get_visible_or_404(Contract, reference.upper()[:30], _user(), column=Contract.reference)
    if contract.tier != ContractTier.GRANT:
        abort(404)
    return contract


def _instalment(instalment_id: int) -> GrantInstalment:
    key = as_id(instalment_id)
    if key is None:
        abort(404)
    return access.get_visible_or_404(GrantInstalment, key, _user())


def payment_url(instalment: GrantInstalment) -> str:
    return url_for("grants.payment", instalment_id=instalment.id)


# --- the schedule -------------------------------------------------------------------------------------


@bp.route("/<reference>")
@login_required
def schedule(reference: str):  # type: ignore[no-untyped-def]
    contract = _grant(reference)
    user = _user()
    today = london_today()
    instalments = service.schedule_of(contract)
    returns = service.accepted_returns([contract.id])[contract.id]
    return render_template(
        "grants/schedule.html",
        contract=contract,
        instalments=instalments,
        states={i.id: service.state_of(contract, i, today, returns) for i in instalments if not i.is_raised},
        paid_pence=service.paid_to_date_pence(contract),
        scheduled_pence=sum(i.amount_pence for i in instalments if i.status != GrantPaymentStatus.REJECTED),
        can_manage=access.can(user, "manage", contract),
        can_record=access.can(user, "record_grant_activity", contract),
        raise_from={i.id: service.raise_from(contract, i) for i in instalments},
    )


@bp.route("/<reference>/instalments/new", methods=["GET", "POST"])
@login_required
def new_instalment(reference: str):  # type: ignore[no-untyped-def]
    contract = _grant(reference)
    access.require(_user(), "manage", contract)
    form = InstalmentForm()
    if form.validate_on_submit():
        try:
            amount: int | None = parse_pounds(form.amount.data or "")
        except NotAnAmount:
            amount = None
        fields = service.InstalmentFields(
            period_start=form.period_start.data,
            period_end=form.period_end.data,
            due_on=form.due_on.data,
            amount_pence=amount,
            timing=form.timing.data or None,
            needs_accepted_return=bool(form.needs_accepted_return.data),
        )
        done = attempt(form, lambda: service.add_instalment(_user(), contract, fields))
        if done.ok:
            flash(
                f"Instalment for {format_date(fields.period_start)} to {format_date(fields.period_end)} added.",
                "success",
            )
            return redirect(url_for("grants.schedule", reference=contract.reference))
    return render_template("grants/instalment_form.html", form=form, contract=contract)


@bp.route("/<reference>/schedule/import", methods=["GET", "POST"])
@login_required
def import_schedule(reference: str):  # type: ignore[no-untyped-def]
    contract = _grant(reference)
    access.require(_user(), "manage", contract)
    form = FileForm()
    failure = None
    if form.validate_on_submit():
        upload = form.file.data
        if upload is None or not upload.filename:
            form.file.errors = ["Select a CSV file"]
        else:
            data = upload.stream.read(200_001)
            try:
                made = service.import_schedule(_user(), contract, data)
            except FileRejected as error:
                db.session.rollback()
                failure = error
                form.file.errors = [
                    "The schedule was not imported. Nothing was saved. Correct the problems in the table below, "
                    "then select the file again"
                ]
            except ValidationFailed as error:  # the contract itself takes no schedule
                db.session.rollback()
                form.file.errors = [message for messages in error.errors.values() for message in messages]
            except InvalidTransition as error:
                db.session.rollback()
                form.file.errors = [error.message]
            else:
                flash(f"Schedule imported: {len(made)} instalments not yet raised.", "success")
                return redirect(url_for("grants.schedule", reference=contract.reference))
    return render_template(
        "grants/import.html", form=form, contract=contract, failure=failure, columns=service.CSV_COLUMNS
    )


@bp.route("/<reference>/schedule.csv")
@login_required
def schedule_csv(reference: str):  # type: ignore[no-untyped-def]
    contract = _grant(reference)
    name = f"grant-schedule-{contract.reference}.csv"
    return csv_response(service.CSV_COLUMNS, service.schedule_csv(contract), name, bom=True)


# --- grant payments -----------------------------------------------------------------------------------


@bp.route("/payments")
@login_required
def payments():  # type: ignore[no-untyped-def]
    user = _user()
    status = request.args.get("status", "")
    statement = access.visible(GrantInstalment, user)
    if status != GrantPaymentStatus.SCHEDULED.value:
        statement = statement.where(GrantInstalment.status != GrantPaymentStatus.SCHEDULED)
    if status in {s.value for s in GrantPaymentStatus}:
        statement = statement.where(GrantInstalment.status == GrantPaymentStatus(status))
    page = paginate(
        statement.with_only_columns(GrantInstalment, Contract)
        .join(Contract, Contract.id == GrantInstalment.contract_id)
        .order_by(GrantInstalment.submitted_at.desc().nulls_last(), GrantInstalment.id.desc()),
        per_page=PAGE_SIZE,
    )
    return render_template(
        "grants/payments.html",
        page=page,
        rows=page.items,
        status=status,
        statuses={"": "Any status (raised)"}
        | {s.value: s.label for s in GrantPaymentStatus if s != GrantPaymentStatus.SCHEDULED}
        | {"scheduled": "Scheduled, not yet raised"},
    )


@bp.route("/payments/<int:instalment_id>")
@login_required
def payment(instalment_id: int):  # type: ignore[no-untyped-def]
    instalment = _instalment(instalment_id)
    contract = db.session.get(Contract, instalment.contract_id)
    user = _user()
    today = london_today()
    return render_template(
        "grants/payment.html",
        instalment=instalment,
        contract=contract,
        actions=service.actions_for(user, instalment),
        replaced_by=service.replacement_of(instalment) if instalment.status == GrantPaymentStatus.REJECTED else None,
        replaces=db.session.get(GrantInstalment, instalment.replaces_id) if instalment.replaces_id else None,
        not_released=service.why_not_released(contract, instalment, today) if not instalment.is_raised else None,
        form=ConfirmForm(data={"version": str(instalment.version)}),
        overdue=instalment.payment_due_on is not None
        and instalment.status in (GrantPaymentStatus.SUBMITTED, GrantPaymentStatus.APPROVED)
        and instalment.payment_due_on < today,
    )


@bp.route("/payments/<int:instalment_id>.pdf")
@login_required
def payment_pdf(instalment_id: int):  # type: ignore[no-untyped-def]
    instalment = _instalment(instalment_id)
    return pdf_response(grant_payment_pdf(instalment), pdf_filename(instalment))


@bp.route("/payments/<int:instalment_id>.xml")
@login_required
def payment_einvoice(instalment_id: int):  # type: ignore[no-untyped-def]
    """The raised grant payment as a UBL 2.1 e-invoice (PEPPOL BIS Billing 3.0)."""
    instalment = _instalment(instalment_id)
    return einvoice.download(einvoice.grant_payment_document(instalment), f"{instalment.number}.xml")


def pdf_filename(instalment: GrantInstalment) -> str:
    return f"{instalment.number}.pdf" if instalment.number else f"grant-instalment-{instalment.id}.pdf"


def grant_payment_pdf(instalment: GrantInstalment) -> bytes:
    from portal.remittance.service import remittance_of

    contract = db.session.get(Contract, instalment.contract_id)
    return render_pdf(
        "pdf/grant_payment.html",
        instalment=instalment,
        contract=contract,
        partner=contract.partner,
        crc=contract.crc,
        # As raised (frozen at each submission); an instalment not yet raised shows today's.
        remittance=remittance_of(instalment, contract),
        replaces=db.session.get(GrantInstalment, instalment.replaces_id) if instalment.replaces_id else None,
    )


def _confirmed(instalment_id: int, operation: Any, success: str) -> Any:
    instalment = _instalment(instalment_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash("Your request could not be checked. Try again.", "error")
        return redirect(payment_url(instalment))
    return act_and_redirect(
        lambda: operation(_user(), instalment, version=form.version_read),
        success=success,
        back=payment_url(instalment),
    )


@bp.route("/payments/<int:instalment_id>/submit", methods=["POST"])
@login_required
def submit(instalment_id: int):  # type: ignore[no-untyped-def]
    return _confirmed(instalment_id, service.submit_payment, "Grant payment submitted to the CRC.")


@bp.route("/payments/<int:instalment_id>/approve", methods=["POST"])
@login_required
def approve(instalment_id: int):  # type: ignore[no-untyped-def]
    return _confirmed(instalment_id, service.approve_payment, "Grant payment approved.")


@bp.route("/payments/<int:instalment_id>/remove", methods=["POST"])
@login_required
def remove(instalment_id: int):  # type: ignore[no-untyped-def]
    instalment = _instalment(instalment_id)
    contract = db.session.get(Contract, instalment.contract_id)
    form = ConfirmForm()
    back = url_for("grants.schedule", reference=contract.reference)
    if not form.validate_on_submit():
        flash("Your request could not be checked. Try again.", "error")
        return redirect(back)
    return act_and_redirect(
        lambda: service.remove_instalment(_user(), instalment, version=form.version_read),
        success="Instalment taken off the schedule.",
        back=back,
    )


REASON_PAGES = {
    "query": ("Query grant payment", "What should the partner check or change?", service.query_payment, "queried"),
    "reject": ("Reject grant payment", "Why is it rejected?", service.reject_payment, "rejected"),
}


@bp.route("/payments/<int:instalment_id>/<any(query, reject):action>", methods=["GET", "POST"])
@login_required
def decide_with_reason(instalment_id: int, action: str):  # type: ignore[no-untyped-def]
    instalment = _instalment(instalment_id)
    access.require(_user(), "decide", instalment)
    title, question, operation, done = REASON_PAGES[action]
    form = ReasonForm(data={"version": str(instalment.version)} if request.method == "GET" else None)
    if form.validate_on_submit():
        result = attempt(
            form, lambda: operation(_user(), instalment, reason=form.reason.data or "", version=form.version_read)
        )
        if result.ok:
            flash(f"Grant payment {instalment.number} {done}.", "success")
            return redirect(payment_url(instalment))
    return render_template(
        "grants/reason.html", form=form, instalment=instalment, title=title, question=question, action=action
    )


@bp.route("/payments/<int:instalment_id>/pay", methods=["GET", "POST"])
@login_required
def pay(instalment_id: int):  # type: ignore[no-untyped-def]
    instalment = _instalment(instalment_id)
    access.require(_user(), "decide", instalment)
    form = MarkPaidForm(data={"version": str(instalment.version)} if request.method == "GET" else None)
    if form.validate_on_submit():
        result = attempt(
            form,
            lambda: service.mark_paid(
                _user(),
                instalment,
                paid_on=form.paid_on.data,
                payment_reference=form.payment_reference.data or "",
                version=form.version_read,
            ),
        )
        if result.ok:
            flash(f"Grant payment {instalment.number} marked as paid on {format_date(instalment.paid_on)}.", "success")
            return redirect(payment_url(instalment))
    return render_template("grants/mark_paid.html", form=form, instalment=instalment)


@bp.route("/payments/<int:instalment_id>/replace", methods=["GET", "POST"])
@login_required
def replace(instalment_id: int):  # type: ignore[no-untyped-def]
    """Schedule again the period of a rejected grant payment, which is kept as it was."""
    instalment = _instalment(instalment_id)
    contract = db.session.get(Contract, instalment.contract_id)
    user = _user()
    if not service.may_replace(user, instalment):
        if not (access.can(user, "manage", contract) or access.can(user, "claim", instalment)):
            access.require(user, "claim", instalment)  # a 403 naming who may
        flash("Only a rejected grant payment can be replaced.", "error")
        return redirect(payment_url(instalment))
    manages = access.can(user, "manage", contract)
    form = ReplaceForm(
        data={
            "version": str(instalment.version),
            "amount": f"{instalment.amount_pence / 100:.2f}",
            "due_on": instalment.due_on,
        }
        if request.method == "GET"
        else None
    )
    if form.validate_on_submit():
        amount: int | None = None
        if manages:
            try:
                amount = parse_pounds(form.amount.data or "")
            except NotAnAmount:
                form.amount.errors = ["Enter the amount in pounds, like 10000 or 12,500.00"]
        if not form.amount.errors:
            result = attempt(
                form,
                lambda: service.replace_rejected(
                    user,
                    instalment,
                    amount_pence=amount,
                    due_on=form.due_on.data if manages else None,
                    version=form.version_read,
                ),
            )
            if result.ok:
                flash(
                    f"Replacement for grant payment {instalment.number} put on the schedule. "
                    "The partner's manager raises it when it is released.",
                    "success",
                )
                return redirect(payment_url(result.result))
    return render_template("grants/replace.html", form=form, instalment=instalment, contract=contract, manages=manages)


# --- grant-funded activity ----------------------------------------------------------------------------


@bp.route("/<reference>/activity")
@login_required
def activity(reference: str):  # type: ignore[no-untyped-def]
    contract = _grant(reference)
    return render_template(
        "grants/activity.html",
        contract=contract,
        activities=activity_service.activity_of(contract),
        can_record=access.can(_user(), "record_grant_activity", contract),
        form=ConfirmForm(),
    )


@bp.route("/<reference>/activity/new", methods=["GET", "POST"])
@login_required
def new_activity(reference: str):  # type: ignore[no-untyped-def]
    contract = _grant(reference)
    access.require(_user(), "record_grant_activity", contract)
    form = ActivityForm()
    if form.validate_on_submit():
        result = attempt(
            form,
            lambda: activity_service.record_activity(
                _user(),
                contract,
                day=form.day.data,
                kind=form.kind.data,
                attendees=form.attendees.data,
                duration_minutes=form.duration_minutes.data,
                description=form.description.data,
            ),
        )
        if result.ok:
            flash("Activity recorded.", "success")
            return redirect(url_for("grants.activity", reference=contract.reference))
    return render_template("grants/activity_form.html", form=form, contract=contract)


@bp.route("/activity/<int:activity_id>/delete", methods=["POST"])
@login_required
def delete_activity(activity_id: int):  # type: ignore[no-untyped-def]
    key = as_id(activity_id)
    if key is None:
        abort(404)
    record = access.get_visible_or_404(GrantActivity, key, _user())
    contract = db.session.get(Contract, record.contract_id)
    back = url_for("grants.activity", reference=contract.reference)
    if not ConfirmForm().validate_on_submit():
        flash("Your request could not be checked. Try again.", "error")
        return redirect(back)
    return act_and_redirect(
        lambda: activity_service.delete_activity(_user(), record), success="Activity deleted.", back=back
    )
