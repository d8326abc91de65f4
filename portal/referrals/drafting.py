"""Making a referral: a saved draft filled in part by part, a "check your answers" page, then send."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload

from portal import access
from portal.contracts.models import Contract
from portal.dates import london_today
from portal.errors import InvalidTransition, StaleRecord, ValidationFailed
from portal.extensions import db
from portal.people.models import Person
from portal.referrals import service, validation
from portal.referrals.blueprint import bp
from portal.referrals.drafting_forms import FORMS, TITLES, ConfirmSendForm
from portal.referrals.models import Referral, ReferralStatus
from portal.web import apply_errors

STEPS = service.STEPS


def _load_draft(referral_id: int) -> Referral:
    """The current user's draft (no one else sees it); a sent referral's page instead."""
    access.require(current_user, "create", Referral)
    referral = access.get_visible_or_404(
        Referral,
        referral_id,
        current_user,
        options=[joinedload(Referral.contract), joinedload(Referral.person)],
    )
    if referral.status != ReferralStatus.DRAFT:
        return redirect_sent(referral)  # type: ignore[return-value]
    return referral


def redirect_sent(referral: Referral) -> Any:
    abort(redirect(url_for("referrals.show", reference=referral.reference)))


def service_options(actor: Any) -> dict[str, str]:
    """The services open to referrals, by name (the service directory says what each offers)."""
    from portal.contracts.services import open_services

    options = {"": "Choose a service"}
    for found in open_services(actor):
        options[f"{found.contract_id}|{found.code}"] = f"{found.name} – {found.contract.partner.name}"
    return options


def set_place_choices(form: Any, crc_id: int) -> None:
    """The CRC's prisons and probation offices in use (its administrators keep the lists)."""
    from portal.places.models import Prison, ProbationOffice
    from portal.places.service import places_of

    places = places_of(crc_id, active_only=True)
    form.prison.choices = {"": "Choose a prison"} | {p.name: p.name for p in places[Prison]}
    form.community_office.choices = {"": "Choose a probation office"} | {
        o.name: o.name + (f" ({o.county.name})" if o.county else "") for o in places[ProbationOffice]
    }


# The service part asks one question for two fields.
FORM_FIELD = {"contract_id": "service", "service_code": "service"}


def _show_errors(form: Any, error: ValidationFailed) -> None:
    """Put the rules' messages against the form's fields, skipping fields already in error."""
    mapped: dict[str, list[str]] = {}
    for field, messages in error.errors.items():
        name = FORM_FIELD.get(field, field)
        target = getattr(form, name, None)
        if target is not None and target.errors:
            continue
        mapped.setdefault(name, []).extend(messages)
    apply_errors(form, ValidationFailed(mapped))


def _fields_from(step: str, form: Any) -> dict[str, Any]:
    data = {name: field.data for name, field in form._fields.items() if name not in {"csrf_token", "version"}}
    if step == "service":
        contract_id, _, service_code = (data.pop("service") or "").partition("|")
        data = {"contract_id": contract_id, "service_code": service_code}
    if step == "needs":
        data["desired_outcomes"] = (data.get("desired_outcomes") or "").splitlines()
    return data


def _prefill(step: str, form: Any, referral: Referral, person: Person | None) -> None:
    if step == "service" and referral.contract_id:
        form.service.data = f"{referral.contract_id}|{referral.service_code}"
    elif step == "person" and person is not None:
        for field in validation.PERSON_FIELDS:
            value = getattr(person, field)
            getattr(form, field).data = value.value if hasattr(value, "value") else value
    elif step in ("location", "risk", "needs"):
        for name, field in form._fields.items():
            if name in {"csrf_token", "version"}:
                continue
            value = getattr(referral, name)
            if name == "desired_outcomes":
                value = "\n".join(value or [])
            elif name == "rar_days":
                value = "" if value is None else str(value)
            elif hasattr(value, "value"):
                value = value.value
            field.data = value
    form.version.data = str(referral.version)


def _next_url(referral: Referral, step: str) -> str:
    if request.args.get("return") == "check" or not service.missing_steps(referral):
        return url_for("referrals.check_answers", referral_id=referral.id)
    following = STEPS[STEPS.index(step) + 1 :] if step in STEPS else ()
    missing = [candidate for candidate in following if candidate in service.missing_steps(referral)]
    target = missing[0] if missing else "check"
    if target == "check":
        return url_for("referrals.check_answers", referral_id=referral.id)
    return url_for("referrals.draft_step", referral_id=referral.id, step=target)


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():  # type: ignore[no-untyped-def]
    access.require(current_user, "create", Referral)
    if request.method == "POST":
        form = ConfirmSendForm()
        if not form.validate_on_submit():
            abort(400)
        draft = service.start_draft(current_user)
        return redirect(url_for("referrals.draft_step", referral_id=draft.id, step="service"))
    drafts = db.session.scalars(
        access.visible(Referral, current_user)
        .where(Referral.status == ReferralStatus.DRAFT)  # a draft is seen only by its author
        .options(joinedload(Referral.person))
        .order_by(Referral.updated_at.desc())
    ).all()
    return render_template("referrals/new.html", drafts=drafts, form=ConfirmSendForm())


@bp.route("/drafts/<int:referral_id>/<any(service, person, location, risk, needs):step>", methods=["GET", "POST"])
@login_required
def draft_step(referral_id: int, step: str):  # type: ignore[no-untyped-def]
    referral = _load_draft(referral_id)
    form = FORMS[step]()
    if step == "service":
        form.service.choices = service_options(current_user)
    if step == "location":
        set_place_choices(form, referral.crc_id)
    person = db.session.get(Person, referral.person_id) if referral.person_id else None
    found = None
    searched_crn = request.args.get("crn", "") if step == "person" else ""
    if request.method == "GET":
        if searched_crn:
            # Found by CRN: an existing person's details come ready to check and correct.
            try:
                found = service.find_person(validation.check_crn(searched_crn), referral.crc_id)
            except ValidationFailed:
                found = None
            person = found or person
        _prefill(step, form, referral, person)
        if searched_crn and found is None:
            form.crn.data = validation.normalise_crn(searched_crn)
    elif form.validate_on_submit():
        try:
            service.save_step(current_user, referral, step, _fields_from(step, form), version=form.version.data)
        except ValidationFailed as error:
            _show_errors(form, error)
        except StaleRecord as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            if "later" in request.form:
                flash(
                    f"Your draft referral has been saved, with the part “{TITLES[step]}”. "
                    "Carry on with it from your drafts when you are ready.",
                    "success",
                )
                return redirect(url_for("referrals.index", tab="drafts"))
            return redirect(_next_url(referral, step))
    else:
        # A date that is not a real date stops the form early; show every other problem too.
        try:
            service.STEP_CHECKS[step](current_user, _fields_from(step, form))
        except ValidationFailed as error:
            _show_errors(form, error)
    return render_template(
        f"referrals/draft_{step}.html",
        referral=referral,
        form=form,
        step=step,
        steps=STEPS,
        title=TITLES[step],
        found=found,
        check=request.args.get("return") == "check",
    )


@bp.route("/drafts/<int:referral_id>/check", methods=["GET", "POST"])
@login_required
def check_answers(referral_id: int):  # type: ignore[no-untyped-def]
    referral = _load_draft(referral_id)
    form = ConfirmSendForm()
    if request.method == "GET":
        form.version.data = str(referral.version)
    elif form.validate_on_submit():
        try:
            sent = service.send_referral(
                current_user,
                referral,
                version=form.version.data,
                duplicate_confirmed=bool(form.not_a_duplicate.data),
            )
        except ValidationFailed as error:
            db.session.rollback()
            for field, messages in error.errors.items():
                (form.not_a_duplicate.errors if field == "not_a_duplicate" else form.form_errors).extend(messages)
        except (StaleRecord, InvalidTransition) as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            return redirect(url_for("referrals.confirmation", reference=sent.reference))
    contract = db.session.get(Contract, referral.contract_id) if referral.contract_id else None
    return render_template(
        "referrals/check_answers.html",
        referral=referral,
        person=db.session.get(Person, referral.person_id) if referral.person_id else None,
        contract=contract,
        service_name=dict(validation.referrable_services(contract)).get(referral.service_code, referral.service_code)
        if contract
        else None,
        missing=service.missing_steps(referral),
        duplicates=service.open_duplicates(current_user, referral),
        form=form,
        today=london_today(),
    )


@bp.route("/drafts/<int:referral_id>/discard", methods=["POST"])
@login_required
def discard(referral_id: int):  # type: ignore[no-untyped-def]
    referral = _load_draft(referral_id)
    if not ConfirmSendForm().validate_on_submit():
        abort(400)
    service.discard_draft(current_user, referral)
    flash("The draft referral has been deleted.", "success")
    return redirect(url_for("referrals.new"))


@bp.route("/<reference>/sent")
@login_required
def confirmation(reference: str):  # type: ignore[no-untyped-def]
    referral = access.get_visible_or_404(
        Referral, reference.upper(), current_user, column=Referral.reference, options=[joinedload(Referral.contract)]
    )
    return render_template("referrals/confirmation.html", referral=referral)
