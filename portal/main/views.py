"""Home page (what each role does first), the health check and the accessibility statement."""

from __future__ import annotations

import logging

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from portal import access
from portal.extensions import csrf, db, limiter

bp = Blueprint("main", __name__)
log = logging.getLogger(__name__)


@bp.route("/")
def home():  # type: ignore[no-untyped-def]
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.sign_in"))
    from portal.dates import london_today
    from portal.delivery.alerts import open_alerts
    from portal.invoicing.queries import home_counts
    from portal.referrals.inbox import overdue_counts

    user = current_user._get_current_object()
    shows_referrals = access.can_respond_to_referrals(user) or access.can_import_referrals(user)
    shows_invoices = access.can_bill(user) or access.can_decide_invoices(user)
    return render_template(
        "main/home.html",
        can_manage_users=access.can_manage_users(user),
        can_read_audit_log=access.can_read_audit_log(user),
        alerts=open_alerts(user),
        can_acknowledge_alerts=access.can_acknowledge_alerts(user),
        referral_counts=overdue_counts(user) if shows_referrals else None,
        invoice_counts=home_counts(user, london_today()) if shows_invoices else None,
    )


@bp.route("/healthz")
@csrf.exempt
@limiter.exempt
def healthz():  # type: ignore[no-untyped-def]
    """200 when the app can reach its database, 503 when it cannot (for load balancers)."""
    try:
        db.session.execute(text("SELECT 1")).scalar_one()
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("health check: database unreachable (%s)", type(exc).__name__)
        return {"status": "unavailable", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}, 200


@bp.route("/accessibility")
def accessibility():  # type: ignore[no-untyped-def]
    return render_template("main/accessibility.html")
