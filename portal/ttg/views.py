"""Through the Gate pages: recording a release, and the case file's Release section."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user, login_required

from portal import access
from portal.referrals.models import LIVE_STATUSES, LocationType, Referral
from portal.referrals.views import load_referral, service_name
from portal.ttg import service
from portal.ttg.forms import ReleaseForm
from portal.ttg.models import CHECKLIST
from portal.web import attempt_and_redirect

bp = Blueprint("ttg", __name__, url_prefix="/through-the-gate")


@bp.route("/referrals/<reference>/release", methods=["GET", "POST"])
@login_required
def record_release(reference: str):  # type: ignore[no-untyped-def]
    referral = load_referral(reference)
    access.require(current_user, "record_release", referral)
    form = ReleaseForm()
    _office_choices(form, referral.crc_id)
    if form.validate_on_submit():
        done = attempt_and_redirect(
            form,
            lambda: service.record_release(
                current_user, referral, form.fields_for_service(), version=form.version.data
            ),
            success="The release has been recorded: the person is now in the community, on the same case.",
            back=url_for("referrals.section", reference=referral.reference, section="release"),
        )
        if done:
            return done
    elif request.method == "GET":
        form.version.data = str(referral.version)
        form.release_type.data = referral.release_type.value if referral.release_type else None
    return render_template("ttg/release.html", referral=referral, form=form, service_name=service_name(referral))


def _office_choices(form: ReleaseForm, crc_id: int) -> None:
    from portal.places.models import ProbationOffice
    from portal.places.service import places_of

    form.community_office.choices = {"": "Choose a probation office"} | {
        o.name: o.name + (f" ({o.county.name})" if o.county else "")
        for o in places_of(crc_id, active_only=True)[ProbationOffice]
    }


def release_context(referral: Referral, user: Any) -> dict[str, Any]:
    release = service.release_of(referral)
    return {
        "release": release,
        "checklist": CHECKLIST,
        "can_record_release": release is None
        and referral.location_type == LocationType.CUSTODY
        and referral.status in LIVE_STATUSES
        and access.can(user, "record_release", referral),
    }
