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
from portal.extensions import csrf, db, limiter
from portal.invoicing.models import Invoice
from portal.organisations.models import Organisation

bp = Blueprint("main", __name__)
log = logging.getLogger(__name__)


@bp.route("/")
def home():  # type: ignore[no-untyped-def]
    """The user's work list, most urgent first (portal/main/work.py), and the places they go."""
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.sign_in"))
    from portal.dates import london_today
    from portal.main.work import work_list

    user = current_user._get_current_object()
    lines = work_list(user, london_today())
    return render_template(
        "main/home.html",
        waiting=[line for line in lines if line.count],
        nothing_waiting=[line for line in lines if not line.count],
        can_manage_users=access.can(user, "manage", User),
        can_read_audit_log=access.can(user, "read", AuditEvent),
        shows_invoices=access.can_any(user, ("bill", Invoice), ("decide", Invoice)),
        shows_organisations=access.can(user, "list", Organisation),
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
