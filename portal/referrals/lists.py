"""Referral lists: the partner's inbox and the CRC's lists (tabs, filters, search, sorting, 50 a page)."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from portal import access
from portal.contracts.models import Contract
from portal.dates import london_today
from portal.extensions import db
from portal.organisations.models import Organisation
from portal.referrals import inbox
from portal.referrals.blueprint import bp
from portal.referrals.models import Referral
from portal.web import paginate

PAGE_SIZE = 50


def _filters() -> inbox.Filters:
    args = request.args
    return inbox.Filters(
        service_code=args.get("service_code", ""),
        caseworker_id=args.get("caseworker_id", ""),
        location=args.get("location", ""),
        overdue=args.get("overdue") == "yes",
        partner_id=args.get("partner_id", ""),
        q=args.get("q", "")[:100],
        contract=args.get("contract", "")[:30],
        sent_from=args.get("sent_from", "")[:10],
        sent_to=args.get("sent_to", "")[:10],
        pathway=args.get("pathway", "")[:40],
        area=args.get("area", "")[:100],
    )


def sort_link(column: str) -> dict[str, str]:
    """href and aria-sort for a sortable column header: a click sorts by it, again reverses."""
    current, direction = request.args.get("sort", "sent"), request.args.get("dir", "desc")
    args = {key: value for key, value in request.args.items() if key not in {"sort", "dir", "page"}}
    next_direction = "asc" if current == column and direction == "desc" else "desc"
    if current != column:
        next_direction = "asc" if column in {"reference", "name", "due", "release"} else "desc"
    aria = ("descending" if direction == "desc" else "ascending") if current == column else "none"
    return {"href": url_for("referrals.index", **args, sort=column, dir=next_direction), "aria": aria}


@bp.route("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    user = current_user._get_current_object()
    tab = request.args.get("tab") or inbox.default_tab(user)
    if tab not in {candidate.key for candidate in inbox.tabs_for(user)}:
        tab = inbox.default_tab(user)
    filters = _filters()
    today = london_today()
    statement = inbox.referral_list(
        user, tab, filters, request.args.get("sort", "sent"), request.args.get("dir", "desc")
    )
    page = paginate(statement, per_page=PAGE_SIZE)
    partners = {}
    if user.is_crc_user:
        partners = {"": "All partners"} | {
            str(organisation.id): organisation.name
            for organisation in db.session.scalars(
                select(Organisation)
                .where(Organisation.id.in_(select(Contract.partner_id).where(access.visibility_clause(Contract, user))))
                .order_by(Organisation.name)
            )
        }
    filter_args = {key: value for key, value in request.args.items() if key not in {"tab", "page"}}
    return render_template(
        "referrals/index.html",
        tab=tab,
        tabs=inbox.tabs_for(user),
        counts=inbox.tab_counts(user, filters),
        filters=filters,
        filter_args=filter_args,
        page=page,
        today=today,
        services=inbox.service_choices(user),
        caseworkers=inbox.caseworker_choices(user),
        partners=partners,
        sort_link=sort_link,
        can_refer=access.can(user, "create", Referral),
        can_import=access.can(user, "send", Referral),
    )
