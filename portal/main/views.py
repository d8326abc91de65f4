"""Home page (what each role does first), the health check and the accessibility statement."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from portal import access
from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.delivery.models import Alert
from portal.extensions import csrf, db, limiter
from portal.invoicing.models import Invoice
from portal.referrals.models import Referral

bp = Blueprint("main", __name__)
log = logging.getLogger(__name__)


@bp.route("/")
def home():  # type: ignore[no-untyped-def]
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.sign_in"))
    from portal.delivery.alerts import open_alerts
    from portal.invoicing.queries import home_counts
    from portal.referrals.inbox import overdue_counts

    user = current_user._get_current_object()
    # The referral tiles are for those who answer referrals or send them; the invoice tiles for
    # those who bill and those who pay.
    shows_referrals = access.can_any(user, ("answer", Referral), ("send", Referral))
    shows_invoices = access.can_any(user, ("bill", Invoice), ("decide", Invoice))
    return render_template(
        "main/home.html",
        can_manage_users=access.can(user, "manage", User),
        can_read_audit_log=access.can(user, "read", AuditEvent),
        alerts=open_alerts(user),
        can_acknowledge_alerts=access.can(user, "acknowledge", Alert),
        referral_counts=overdue_counts(user) if shows_referrals else None,
        invoice_counts=home_counts(user) if shows_invoices else None,
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


@bp.route("/privacy")
def privacy():  # type: ignore[no-untyped-def]
    return render_template("main/privacy.html", retention_years=current_app.config["RETENTION_YEARS"])
