"""The audit log page for administrators: every event, filtered and paginated."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from portal import access
from portal.audit.forms import AuditFilterForm
from portal.audit.models import AuditEvent
from portal.dates import end_of_london_day, parse_user_date, start_of_london_day
from portal.extensions import db
from portal.web import paginate

bp = Blueprint("audit", __name__, url_prefix="/audit")

# Counting every event of a log that holds millions takes longer than showing a page of them: the
# page counts up to this many (200 pages) and says "more than" past it.
AUDIT_COUNT_LIMIT = 10_000


def distinct_values(column: Any) -> list[str]:
    """The column's distinct values (NULL left out), in order, read by hopping along its index from
    one value to the next (a recursive query), instead of reading every row as DISTINCT does."""
    found = select(func.min(column).label("value")).cte("found", recursive=True)
    following = select(func.min(column)).where(column > found.c.value).scalar_subquery()
    found = found.union_all(select(following.label("value")).where(found.c.value.is_not(None)))
    return list(db.session.scalars(select(found.c.value).where(found.c.value.is_not(None)).order_by(found.c.value)))


# record_type -> (endpoint, URL argument) for linking an event to its record
RECORD_LINKS = {
    "user": ("accounts.user", "user_id"),
    "organisation": ("organisations.show", "organisation_id"),
}


def record_link(event: AuditEvent) -> str | None:
    link = RECORD_LINKS.get(event.record_type or "")
    if link is None or not (event.record_id or "").isdigit():
        return None
    endpoint, argument = link
    return url_for(endpoint, **{argument: int(event.record_id)})


@bp.route("/")
@login_required
def index():  # type: ignore[no-untyped-def]
    access.require(current_user, "read", AuditEvent)
    form = AuditFilterForm(request.args)
    actions = distinct_values(AuditEvent.action)
    record_types = distinct_values(AuditEvent.record_type)
    form.action.choices = {"": "Any action"} | {action: action for action in actions}
    form.record_type.choices = {"": "Any record"} | {kind: kind for kind in record_types}

    statement = (
        access.visible(AuditEvent, current_user)
        .options(joinedload(AuditEvent.organisation))
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    )
    if form.validate():
        if form.user.data:
            statement = statement.where(
                AuditEvent.actor_email.contains(form.user.data.strip().lower(), autoescape=True)
            )
        if form.action.data:
            statement = statement.where(AuditEvent.action == form.action.data)
        if form.record_type.data:
            statement = statement.where(AuditEvent.record_type == form.record_type.data)
        if form.record_id.data:
            statement = statement.where(AuditEvent.record_id == form.record_id.data.strip())
        if day := parse_user_date(form.date_from.data):
            statement = statement.where(AuditEvent.occurred_at >= start_of_london_day(day))
        if day := parse_user_date(form.date_to.data):
            statement = statement.where(AuditEvent.occurred_at < end_of_london_day(day))
        page = paginate(statement, per_page=current_app.config["AUDIT_PAGE_SIZE"], count_limit=AUDIT_COUNT_LIMIT)
    else:
        page = None
    return render_template("audit/index.html", form=form, page=page, record_link=record_link)
