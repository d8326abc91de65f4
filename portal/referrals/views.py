"""Pages for referrals. (Being built: see the referrals issue.)"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from portal import access
from portal.referrals.models import Referral

bp = Blueprint("referrals", __name__, url_prefix="/referrals")


@bp.route("/<reference>")
@login_required
def show(reference: str):  # type: ignore[no-untyped-def]
    referral = access.get_visible_or_404(Referral, reference.upper(), current_user, column=Referral.reference)
    return render_template("referrals/show.html", referral=referral)
