"""Shared web-layer helpers: error pages (every domain error a view lets go is mapped to a page here,
in one place), showing a service's refusal on the form that asked, pagination."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from flask import Flask, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from sqlalchemy import Select
from werkzeug.exceptions import HTTPException

from portal import keyset
from portal.errors import DomainError, InvalidTransition, NotAllowed, NotFound, StaleRecord, ValidationFailed
from portal.extensions import db
from portal.persistence import as_conflict
from portal.problems import is_api_request, problem_for, problem_response
from portal.urls import safe_next

log = logging.getLogger(__name__)

ERROR_PAGES = {400, 403, 404, 405, 413, 429, 500, 503}


def register_error_pages(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):  # type: ignore[no-untyped-def]
        return render_template("errors/csrf.html"), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        if is_api_request():  # the API answers in JSON, never with an HTML page
            return problem_for(error)
        code = error.code or 500
        if code not in ERROR_PAGES:
            return error
        return error_page(code, error)

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):  # type: ignore[no-untyped-def]
        """A service's refusal that no form showed: a record out of reach is the 404 page (the same
        page as for no such record), an action the user's role may not take the 403 page; a record
        that moved on is said on the page the user came from. Nothing is kept."""
        db.session.rollback()
        if is_api_request():
            return problem_for(error)
        if isinstance(error, NotFound):
            return error_page(404)
        if isinstance(error, NotAllowed):
            return error_page(403)
        for message in _messages(error):
            flash(message, "error")
        return redirect(_came_from())

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):  # type: ignore[no-untyped-def]
        db.session.rollback()
        conflict = as_conflict(error)
        if conflict is not None:  # a lost race: said on the page the user came from, as for any 409
            log.warning("lost a race: %s", type(error).__name__)
            return domain_error(conflict)
        log.exception("unhandled error")
        if is_api_request():
            return problem_response("server-error", "Something went wrong. Quote the request id if you report it.")
        return render_template("errors/500.html"), 500


def error_page(code: int, error: HTTPException | None = None) -> tuple[str, int]:
    """The error page; an error that carries a `public_description` (what the user can change, like
    a NUL character to remove) has it shown."""
    return render_template(f"errors/{code}.html", error=error), code


def _messages(error: DomainError) -> list[str]:
    if isinstance(error, ValidationFailed) and error.errors:
        return [message for messages in error.errors.values() for message in messages]
    return [error.message]


def _came_from() -> str:
    """The page this request was made from, if it was one of ours; else the home page."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host:
        back = safe_next(referrer.path + (f"?{referrer.query}" if referrer.query else ""))
        if back:
            return back
    return url_for("main.home")


def apply_errors(form: FlaskForm, error: ValidationFailed) -> None:
    """Show a service's validation errors against the form's fields (or the form itself)."""
    for field_name, messages in error.errors.items():
        field = getattr(form, field_name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + list(messages)
        else:
            form.form_errors.extend(messages)


class Attempt(NamedTuple):
    ok: bool
    result: Any = None


def attempt(form: FlaskForm, operation: Callable[[], Any]) -> Attempt:
    """Run a service operation for a submitted form. A broken rule goes onto the form's fields, a
    lost race or a wrong state onto the form itself, and nothing is kept (the session rolls
    back), so the view shows the form again. A refusal or a record out of reach is not the
    form's business: it goes on to the app's error handler (403, 404) as for any other route."""
    try:
        return Attempt(True, operation())
    except ValidationFailed as error:
        db.session.rollback()
        apply_errors(form, error)
    except (StaleRecord, InvalidTransition) as error:
        db.session.rollback()
        form.form_errors.append(error.message)
    return Attempt(False)


def attempt_and_redirect(form: FlaskForm, operation: Callable[[], Any], *, success: str, back: str) -> Any:
    """`attempt`, then on success a banner (and any warnings the operation gave) and a redirect
    to `back`; None when the form must be shown again with the reasons."""
    outcome = attempt(form, operation)
    if not outcome.ok:
        return None
    for warning in getattr(outcome.result, "warnings", None) or []:
        flash(warning, "info")
    flash(success, "success")
    return redirect(back)


def act_and_redirect(operation: Callable[[], Any], *, success: str, back: str) -> Any:
    """A button with no form to show again (verify, acknowledge, add a note): run the operation,
    then back to `back` with the success banner, or with why it could not be done (nothing kept).
    A refusal or a record out of reach goes on to the app's error handler."""
    try:
        result = operation()
    except (ValidationFailed, StaleRecord, InvalidTransition) as error:
        db.session.rollback()
        for message in _messages(error):
            flash(message, "error")
    else:
        for warning in getattr(result, "warnings", None) or []:
            flash(warning, "info")
        flash(success, "success")
    return redirect(back)


def form_error_summary(form: FlaskForm) -> list[dict[str, str]]:
    """The GOV.UK error summary list for a form: each message linked to its field."""
    items = []
    visible_fields = [
        field
        for field in form
        if field.type not in {"CSRFTokenField", "HiddenField", "SubmitField"}
        and field.widget.__class__.__name__ != "HiddenInput"
    ]
    for message in form.form_errors:
        # A form-level error (like a failed sign-in) points at the first field to correct.
        first = f"#{visible_fields[0].id}" if visible_fields else "#main-content"
        items.append({"text": message, "href": first})
    items.extend(_field_errors(form))
    return items


def _field_errors(form: Any) -> list[dict[str, str]]:
    items = []
    for field in form:
        if field.type in ("FieldList", "FormField"):
            items.extend(_field_errors(field))  # a repeated or nested part of the form
            continue
        for message in field.errors:
            items.append({"text": message, "href": f"#{_first_input_id(field)}"})
    return items


def _first_input_id(field: Any) -> str:
    """GOV.UK date inputs name their first box <id>-day; everything else uses the field's id."""
    from govuk_frontend_wtf.wtforms_widgets import GovDateInput

    return f"{field.id}-day" if isinstance(field.widget, GovDateInput) else field.id


@dataclass
class Page:
    """One page of a list, reached by keyset (portal.keyset): "Next" carries the last row's keys in
    `?after=`, "Previous" the first row's in `?before=`, so a deep page costs what the first does."""

    items: list[Any]
    per_page: int
    # Counted only up to keyset.COUNT_LIMIT: `more` says there are more than `total`.
    total: int
    offset: int = 0
    next_cursor: str | None = None
    previous_cursor: str | None = None
    more: bool = False
    # Where a page holds more than one list (My sessions): each list's cursors are `<name>_after`
    # and `<name>_before`, so paging one keeps the others where they are.
    name: str = ""

    @property
    def first_index(self) -> int:
        return self.offset + 1 if self.items else 0

    @property
    def last_index(self) -> int:
        return self.offset + len(self.items)

    def count_of(self, singular: str, plural_form: str | None = None) -> str:
        """The rows' count as a page says it: "1 referral", "1,234 referrals", or past the count's
        limit "more than 10,000 referrals"."""
        from portal.formatting import plural

        if self.more:
            return f"more than {self.total:,} {plural(2, singular, plural_form).split(' ', 1)[1]}"
        text = plural(self.total, singular, plural_form)
        return f"{self.total:,}{text[len(str(self.total)) :]}"

    def pagination(self, endpoint: str, **values: Any) -> dict[str, Any] | None:
        """Parameters for the GOV.UK pagination component (its Previous and Next links, as for
        content that cannot be numbered), keeping the current filters, search and sort."""
        if self.next_cursor is None and self.previous_cursor is None:
            return None
        after, before = _cursor_names(self.name)
        args = {key: value for key, value in request.args.items() if key not in {"page", after, before}}
        args.update(values)
        params: dict[str, Any] = {}
        if self.previous_cursor is not None:
            params["previous"] = {"href": url_for(endpoint, **args, **{before: self.previous_cursor})}
        if self.next_cursor is not None:
            params["next"] = {"href": url_for(endpoint, **args, **{after: self.next_cursor})}
        return params


def _cursor_names(name: str) -> tuple[str, str]:
    return (f"{name}_after", f"{name}_before") if name else ("after", "before")


def paginate(statement: Select, *, per_page: int, count_limit: int | None = keyset.COUNT_LIMIT, name: str = "") -> Page:
    """One page of `statement`'s rows (ordered, ending in its id) after or before the cursor in the
    query string, and their count up to `count_limit`: two queries whatever the page or its depth.
    A cursor that is not ours (an edited link) shows the first page."""
    after, before = (request.args.get(key) or None for key in _cursor_names(name))
    try:
        window = keyset.seek(statement, per_page=per_page, after=after, before=before)
    except keyset.BadCursor:
        window = keyset.seek(statement, per_page=per_page)
    total, more = keyset.bounded_count(statement, count_limit)
    if not more and window.offset + len(window.items) > total:  # rows went while the reader paged
        total = window.offset + len(window.items)
    return Page(
        items=window.items,
        per_page=per_page,
        total=total,
        offset=window.offset,
        next_cursor=window.next_cursor,
        previous_cursor=window.previous_cursor,
        more=more,
        name=name,
    )
