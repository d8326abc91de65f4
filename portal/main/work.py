"""Each role's work list: the home page's items, most urgent first, each a count and a link to
where the work is done.

An item is one small query (a count) registered for the roles it is for, with the words and the
link; the home page shows a user the items of their role and no other. To add one (issue 19's
open concerns, issue 18's invoices paid late), decorate its count function with `work_item` in
any module the app imports at start (list it in ITEM_MODULES if nothing else imports it):

    @work_item("concerns_open", {Role.CRC_REFERRER}, order=5, noun="safeguarding concern",
               text="open", href=lambda user: url_for("safeguarding.index"), warn=True)
    def _open_concerns(user, today): return db.session.scalar(select(func.count())...)

Every item costs at most one query however many records it counts (a `detail` costs one more), so
the home page's queries never grow with the work. Items that share a question (whether the user has
any cases; several counts one query answers) ask it through `once_a_request`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from flask import g, has_request_context
from werkzeug.utils import import_string

from portal.accounts.models import Role
from portal.formatting import plural

# Modules whose import registers items (imported once, on first use).
ITEM_MODULES = ["portal.main.work_items"]

T = TypeVar("T")
Count = Callable[[Any, date], int]
# (text, count or None, link) rows shown under an item, such as each caseworker's load.
Detail = Callable[[Any, date], list[tuple[str, int | None, str]]]


@dataclass(frozen=True)
class WorkItem:
    key: str
    roles: frozenset[Role]
    order: int  # lower is more urgent
    noun: str  # "referral"; counted as "1 referral", "2 referrals"
    text: str  # what follows the count: "waiting for your answer"
    href: Callable[[Any], str]
    count: Count
    plural: str | None = None  # for nouns that do not just take -s
    warn: bool = False  # a count above nought needs attention soon (overdue, rejected…)
    detail: Detail | None = None


_ITEMS: dict[str, WorkItem] = {}
_loaded = False


def work_item(
    key: str,
    roles: Iterable[Role],
    *,
    order: int,
    noun: str,
    text: str,
    href: Callable[[Any], str],
    plural: str | None = None,
    warn: bool = False,
    detail: Detail | None = None,
) -> Callable[[Count], Count]:
    def register(count: Count) -> Count:
        _ITEMS[key] = WorkItem(key, frozenset(roles), order, noun, text, href, count, plural, warn, detail)
        return count

    return register


def once_a_request(name: str, user: Any, today: date, ask: Callable[[], T]) -> T:
    """What several items share (whether the user has open cases; counts that one query answers
    together), asked once a request whichever item asks first. Outside a request it is asked afresh,
    so a command acting as several people in turn never reads another's answer."""
    if not has_request_context():
        return ask()
    memo = g.setdefault("work_list_memo", {})
    key = (name, user.id, today)
    if key not in memo:
        memo[key] = ask()
    return memo[key]


def items_for(role: Role) -> list[WorkItem]:
    global _loaded
    if not _loaded:
        for module in ITEM_MODULES:
            import_string(module)
        _loaded = True
    return sorted((item for item in _ITEMS.values() if role in item.roles), key=lambda item: item.order)


@dataclass
class Line:
    """One item of a user's work list, counted."""

    key: str
    count: int
    label: str  # "2 referrals waiting for your answer"
    href: str
    warn: bool
    order: int
    detail: list[tuple[str, int | None, str]] = field(default_factory=list)

    @property
    def words(self) -> str:
        """The label without its count (the page shows the count large beside it)."""
        return self.label.split(" ", 1)[1]

    @property
    def urgent(self) -> bool:
        return self.warn and self.count > 0


def work_list(user: Any, today: date) -> list[Line]:
    """The user's items, counted: those that need attention first, then the rest with work
    waiting, then those with nothing waiting, each group in the order the items were given."""
    lines = []
    for item in items_for(user.role):
        count = int(item.count(user, today) or 0)
        lines.append(
            Line(
                key=item.key,
                count=count,
                label=f"{plural(count, item.noun, item.plural)} {item.text}",
                href=item.href(user),
                warn=item.warn,
                order=item.order,
                detail=item.detail(user, today) if item.detail and count else [],
            )
        )
    return sorted(lines, key=lambda line: (not line.urgent, line.count == 0, line.order))
