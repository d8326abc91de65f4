"""The referral page and the actions on it: accept, decline, assign, withdraw, amend, case notes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal import access
from portal.accounts.models import PARTNER_ROLES, User
from portal.dates import london_today
from portal.extensions import db
from portal.referrals import service
from portal.referrals.banding import suggested_band
from portal.referrals.blueprint import bp
from portal.referrals.forms import (
    AcceptForm,
    AmendForm,
    AssignForm,
    CaseNoteForm,
    DeclineForm,
    WithdrawForm,
)
from portal.referrals.models import (
    Referral,
    WithdrawReason,
)
from portal.web import act_and_redirect, attempt_and_redirect


def load_referral(reference: str) -> Referral:
    """The referral with what its pages show, if the current user may see it; else 404."""
    return access.get_visible_or_404(
        Referral,
        reference.upper(),
        current_user,
        column=Referral.reference,
        options=[
            joinedload(Referral.contract),
            joinedload(Referral.person),
            joinedload(Referral.referrer),
            joinedload(Referral.caseworker),
            joinedload(Referral.service),
        ],
    )


def service_name(referral: Referral) -> str:
    """The name of the service as its record says (it was its first rate-card item's name)."""
    return referral.service_name


def caseworker_choices(referral: Referral) -> dict[str, str]:
    users = db.session.scalars(
        select(User)
        .where(
            User.organisation_id == referral.contract.partner_id, User.active.is_(True), User.role.in_(PARTNER_ROLES)
        )
        .order_by(User.name)
    ).all()
    return {"": "Choose a caseworker"} | {str(user.id): f"{user.name} ({user.role.label})" for user in users}


@bp.route("/<reference>")
@login_required
def show(reference: str):  # type: ignore[no-untyped-def]
    """The case file's summary; its other sections are in case_file.py."""
    from portal.referrals.case_file import SUMMARY, render_section

    return render_section(load_referral(reference), SUMMARY)


def _act(referral: Referral, form: Any, operation: Callable[[], Any], success: str, template: str, **context: Any):
    """Run a referral operation from a submitted form: success → back to the referral with a
    banner; a rule broken → the form again with field errors; a lost race or a wrong state →
    the form again saying so. Nothing is changed unless the operation succeeds."""
    if form.validate_on_submit():
        done = attempt_and_redirect(
            form, operation, success=success, back=url_for("referrals.show", reference=referral.reference)
        )
        if done:
            return done
    elif request.method == "GET":
        form.version.data = str(referral.version)
    return render_template(
        template, referral=referral, form=form, service_name=service_name(referral), today=london_today(), **context
    )


@bp.route("/<reference>/accept", methods=["GET", "POST"])
@login_required
def accept(reference: str):  # type: ignore[no-untyped-def]
    referral = load_referral(reference)
    access.require(current_user, "answer", referral)
    form = AcceptForm()
    form.caseworker.choices = caseworker_choices(referral) | {"": "Assign later"}
    return _act(
        referral,
        form,
        lambda: service.accept_referral(
            current_user,
            referral,
            risk_information_read=form.risk_information_read.data,
            caseworker=form.caseworker.data or None,
            version=form.version.data,
        ),
        f"You accepted referral {referral.reference}.",
        "referrals/accept.html",
    )


@bp.route("/<reference>/decline", methods=["GET", "POST"])
@login_required
def decline(reference: str):  # type: ignore[no-untyped-def]
    referral = load_referral(reference)
    access.require(current_user, "answer", referral)
    form = DeclineForm()
    return _act(
        referral,
        form,
        lambda: service.decline_referral(
            current_user,
            referral,
            reason_code=form.reason_code.data,
            detail=form.detail.data,
            version=form.version.data,
        ),
        f"You declined referral {referral.reference}. The referrer has been told.",
        "referrals/decline.html",
    )


@bp.route("/<reference>/assign", methods=["GET", "POST"])
@login_required
def assign(reference: str):  # type: ignore[no-untyped-def]
    referral = load_referral(reference)
    access.require(current_user, "assign", referral)
    form = AssignForm()
    form.caseworker.choices = caseworker_choices(referral)
    if request.method == "GET" and referral.caseworker_id:
        form.caseworker.data = str(referral.caseworker_id)
    return _act(
        referral,
        form,
        lambda: service.assign_caseworker(
            current_user, referral, caseworker=form.caseworker.data or None, version=form.version.data
        ),
        f"Referral {referral.reference} has been assigned.",
        "referrals/assign.html",
    )


@bp.route("/<reference>/withdraw", methods=["GET", "POST"])
@login_required
def withdraw(reference: str):  # type: ignore[no-untyped-def]
    referral = load_referral(reference)
    access.require(current_user, "withdraw", referral)
    form = WithdrawForm()
    return _act(
        referral,
        form,
        lambda: service.withdraw_referral(
            current_user,
            referral,
            reason_code=form.reason_code.data,
            detail=form.detail.data,
            version=form.version.data,
        ),
        f"You withdrew referral {referral.reference}. The partner has been told.",
        "referrals/withdraw.html",
        reasons=list(WithdrawReason),
    )


AMEND_FIELDS = (
    "rosh_level",
    "risk_flags",
    "risk_summary",
    "desired_outcomes",
    "rar_days",
    "expected_release_date",
    "contact_details",
    "reoffending",
    "c2c",
    "colour_band",
    "colour_band_reason",
)


def _amend_values(referral: Referral) -> dict[str, Any]:
    return {
        "rosh_level": referral.rosh_level.value if referral.rosh_level else "",
        "risk_flags": list(referral.risk_flags or []),
        "risk_summary": referral.risk_summary or "",
        "desired_outcomes": "\n".join(referral.desired_outcomes or []),
        "rar_days": "" if referral.rar_days is None else str(referral.rar_days),
        "expected_release_date": referral.expected_release_date,
        "contact_details": referral.contact_details or "",
        "reoffending": referral.reoffending.value if referral.reoffending else "",
        "c2c": referral.c2c.value if referral.c2c else "",
        # A band that follows the suggestion shows as "the suggested band", so it follows a new one.
        "colour_band": referral.colour_band.value if referral.colour_band and referral.colour_band_reason else "",
        "colour_band_reason": referral.colour_band_reason or "",
    }


@bp.route("/<reference>/amend", methods=["GET", "POST"])
@login_required
def amend(reference: str):  # type: ignore[no-untyped-def]
    referral = load_referral(reference)
    access.require(current_user, "amend", referral)
    form = AmendForm()
    current = _amend_values(referral)
    if request.method == "GET":
        for field, value in current.items():
            getattr(form, field).data = value
    if not referral.is_custody:
        del form.expected_release_date

    def changed() -> dict[str, Any]:
        wanted = {}
        for field in AMEND_FIELDS:
            if field not in form:
                continue
            value = getattr(form, field).data
            if field == "desired_outcomes":
                value = "\n".join(line.strip() for line in (value or "").splitlines() if line.strip())
            if field == "risk_flags":
                value = sorted(value or [])
                if value != sorted(current["risk_flags"]):
                    wanted[field] = value
                continue
            if (value or "") != (current[field] or ""):
                wanted[field] = value.splitlines() if field == "desired_outcomes" else value
        return wanted

    return _act(
        referral,
        form,
        lambda: service.amend_referral(
            current_user, referral, changes_wanted=changed(), reason=form.reason.data, version=form.version.data
        ),
        f"Referral {referral.reference} has been amended. The partner has been told.",
        "referrals/amend.html",
        suggested=suggested_band(referral.rosh_level, referral.reoffending, referral.c2c),
    )


@bp.route("/<reference>/notes", methods=["POST"])
@login_required
def add_note(reference: str):  # type: ignore[no-untyped-def]
    referral = load_referral(reference)
    form = CaseNoteForm()
    back = url_for("referrals.section", reference=referral.reference, section="notes")
    if not form.validate_on_submit():
        flash(form.body.errors[0] if form.body.errors else "The note could not be added", "error")
        return redirect(back)
    return act_and_redirect(
        lambda: service.add_case_note(current_user, referral, form.body.data),
        success="Your case note has been added.",
        back=back,
    )
