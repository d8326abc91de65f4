"""Referral lists: the partner's inbox tabs and the CRC's lists, with filters, search and sorting.

Everything here builds on access.visible(Referral, user), so a list can never show a
referral its reader may not see; counts are single aggregate queries.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from flask import g, has_request_context
from sqlalchemy import Select, and_, case, func, or_, select, text
from sqlalchemy.orm import selectinload

from portal import access, keyset
from portal.accounts.models import User
from portal.contracts.models import Contract, Pathway, Service
from portal.contracts.services import in_pathway
from portal.extensions import db
from portal.list_indexes import SEARCH_NAME
from portal.people.models import Person
from portal.referrals.models import LocationType, Referral, ReferralStatus
from portal.referrals.validation import CRN
from portal.urls import as_id

S = ReferralStatus


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    statuses: frozenset[ReferralStatus]
    mine: bool = False
    unassigned: bool = False


PARTNER_TABS = (
    Tab("new", "New", frozenset({S.SENT})),
    Tab("mine", "My cases", frozenset({S.ACCEPTED, S.IN_PROGRESS}), mine=True),
    Tab("open", "All open", frozenset({S.ACCEPTED, S.IN_PROGRESS})),
    Tab("unassigned", "Unassigned", frozenset({S.ACCEPTED, S.IN_PROGRESS}), unassigned=True),
    Tab("completed", "Completed", frozenset({S.COMPLETED})),
    Tab("closed", "Declined or withdrawn", frozenset({S.DECLINED, S.WITHDRAWN})),
    Tab("all", "All", frozenset(set(S) - {S.DRAFT})),
)
CRC_TABS = (
    Tab("drafts", "Drafts", frozenset({S.DRAFT}), mine=True),
    Tab("sent", "Waiting for an answer", frozenset({S.SENT})),
    Tab("open", "Open", frozenset({S.ACCEPTED, S.IN_PROGRESS})),
    Tab("completed", "Completed", frozenset({S.COMPLETED})),
    Tab("closed", "Declined or withdrawn", frozenset({S.DECLINED, S.WITHDRAWN})),
    Tab("all", "All", frozenset(set(S) - {S.DRAFT})),
)

SORTS = {
    "sent": Referral.sent_at,
    "reference": Referral.reference,
    "name": Person.family_name,
    "due": func.coalesce(Referral.accept_due_on, Referral.first_contact_due_on),
    "release": Referral.expected_release_date,
    "status": Referral.status,
}


def tabs_for(user: User) -> tuple[Tab, ...]:
    return CRC_TABS if user.is_crc_user else PARTNER_TABS


def default_tab(user: User) -> str:
    return "sent" if user.is_crc_user else "new"


@dataclass
class Filters:
    service_code: str = ""
    caseworker_id: str = ""
    location: str = ""
    overdue: bool = False
    partner_id: str = ""
    q: str = ""
    # From the dashboards' and returns' links: a contract (reference), the London days a
    # referral was sent between (YYYY-MM-DD), a pathway (of its service) and an area (prison or office).
    contract: str = ""
    sent_from: str = ""
    sent_to: str = ""
    pathway: str = ""
    area: str = ""


def _tab_clause(tab: Tab, user: User) -> Any:
    clauses = [Referral.status.in_(tab.statuses)]
    if tab.mine:
        clauses.append(Referral.referrer_id == user.id if user.is_crc_user else Referral.caseworker_id == user.id)
    if tab.unassigned:
        clauses.append(Referral.caseworker_id.is_(None))
    return and_(*clauses)


def _filtered(statement: Select, filters: Filters) -> Select:
    if filters.service_code:
        statement = statement.where(Referral.service_code == filters.service_code)
    if (caseworker_id := as_id(filters.caseworker_id)) is not None:
        statement = statement.where(Referral.caseworker_id == caseworker_id)
    if filters.location in {member.value for member in LocationType}:
        statement = statement.where(Referral.location_type == LocationType(filters.location))
    if filters.overdue:
        # The statuses are implied by `overdue` (only a sent or an accepted referral can be), but
        # said outright they let the database read just those from the (contract, status) index.
        statement = statement.where(Referral.status.in_((S.SENT, S.ACCEPTED)), Referral.overdue)
    if (partner_id := as_id(filters.partner_id)) is not None:
        statement = statement.where(
            Referral.contract_id.in_(select(Contract.id).where(Contract.partner_id == partner_id))
        )
    if filters.contract:
        statement = statement.where(
            Referral.contract_id.in_(select(Contract.id).where(Contract.reference == filters.contract.upper()))
        )
    statement = _sent_between(statement, filters.sent_from, filters.sent_to)
    if filters.pathway in {member.value for member in Pathway}:
        statement = statement.where(in_pathway(Referral.contract_id, Referral.service_code, filters.pathway))
    if filters.area:
        statement = statement.where(or_(Referral.prison == filters.area, Referral.community_office == filters.area))
    if term := filters.q.strip():
        statement = statement.where(_searched(term))
    return statement


# What the search box was given: a referral's reference (AB1234CD), a person's CRN (X123456), or
# else part of a name. Neither a reference nor a CRN can be part of a name, so each kind of term is
# looked for only where it can be, each with its own index (the reference's, the CRN's, the name's
# trigrams on PostgreSQL) and as a plain AND: one OR across referral and person would make the
# database join every referral the reader can see to its person before it could pick fifty.
REFERENCE_TERM = re.compile(r"^[A-Z]{2}\d{4}[A-Z]{2}$")


def _searched(term: str) -> Any:
    if REFERENCE_TERM.match(term.upper()):
        return Referral.reference == term.upper()
    if CRN.match(crn := term.upper().replace(" ", "")):
        return Referral.person_id.in_(select(Person.id).where(Person.crn == crn))
    # "given family" holds a family name too, so this one test finds a name typed either way. The
    # name is read from the referral's own copy (kept by the database as the person's changes), so a
    # search never joins tens of thousands of referrals to their people to count or pick fifty.
    pattern = f"%{_escaped(term.lower())}%"
    if _broad(pattern):
        # The bare column, which no trigram index is on: the database reads the lists' own indexes,
        # which carry the name, in order.
        return Referral.person_name.like(pattern, escape="\\")
    # The expression the trigram index is on (NULL, no person, matches nothing either way).
    return SEARCH_NAME.like(pattern, escape="\\")


# A name matching more referrals than this is searched by reading the lists' indexes in order
# rather than the trigram index: the trigrams of a common name ("person1", "smith") list most
# referrals, and reading those lists costs more than testing the reader's own referrals one by one,
# while a rare name ("kim person33086") is found in the trigram index at once.
BROAD_NAME = 5_000


def _broad(pattern: str) -> bool:
    """Whether the planner's estimate of the referrals a name pattern matches (its trigram
    statistics; one EXPLAIN, no rows read) makes it a broad term. Asked once a request per term."""
    if db.session.get_bind().dialect.name != "postgresql":
        return False
    cache = g.setdefault("broad_names", {}) if has_request_context() else {}
    if pattern not in cache:
        plan = db.session.execute(
            text("EXPLAIN (FORMAT JSON) SELECT 1 FROM referral WHERE person_name LIKE :pattern ESCAPE '\\'"),
            {"pattern": pattern},
        ).scalar_one()
        plan = json.loads(plan) if isinstance(plan, str) else plan
        cache[pattern] = plan[0]["Plan"]["Plan Rows"] > BROAD_NAME
    return cache[pattern]


def _escaped(term: str) -> str:
    """The term as LIKE reads it literally: a % or _ typed into the box is that character."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _sent_between(statement: Select, sent_from: str, sent_to: str) -> Select:
    from portal.dates import end_of_london_day, parse_user_date, start_of_london_day

    first, last = parse_user_date(sent_from), parse_user_date(sent_to)
    if first:
        statement = statement.where(Referral.sent_at >= start_of_london_day(first))
    if last:
        statement = statement.where(Referral.sent_at < end_of_london_day(last))
    return statement


def referral_list(user: User, tab_key: str, filters: Filters, sort: str, direction: str) -> Select:
    """The rows of one tab, filtered and sorted, with what the table shows loaded eagerly."""
    tab = next((tab for tab in tabs_for(user) if tab.key == tab_key), tabs_for(user)[0])
    statement = (
        access.visible(Referral, user)
        .where(_tab_clause(tab, user))
        # Loaded for the page's rows once they are chosen (a query each, whatever the page size): joined
        # in, the database would join every one of the partner's referrals before picking fifty.
        .options(
            selectinload(Referral.person),
            selectinload(Referral.caseworker),
            selectinload(Referral.contract),
            selectinload(Referral.service),
        )
    )
    statement = _filtered(statement, filters)
    if sort == "name":
        # Joined only to sort by: joined (even unused), it keeps the database from counting a list
        # from an index alone, since the join's key is not in the index.
        statement = statement.outerjoin(Person, Person.id == Referral.person_id)
    else:
        # A page's fifty are chosen from the indexes alone (keyset._ids_first): a name search tests
        # thousands of referrals' names to find them, from the index rather than the table.
        statement = statement.execution_options(seek_ids_first=True)
    column = SORTS.get(sort, Referral.sent_at)
    ordered = column.desc() if direction == "desc" else column.asc()
    return statement.order_by(ordered.nulls_last(), Referral.id.desc())


# Referrals that have finished (completed, declined, withdrawn) pile up year after year: counting a
# tab of them exactly would read every one on every request. They are counted up to the lists' limit
# ("more than 10,000", as the list under the tab says); the live ones, a caseload's worth however
# long the CRC has run, are counted exactly.
FINISHED = frozenset({S.COMPLETED, S.DECLINED, S.WITHDRAWN})
LIVE = frozenset(S) - FINISHED


def tab_counts(user: User, filters: Filters) -> dict[str, str]:
    """How many referrals each tab holds under the current filters, as the tab says it ("1,234",
    "more than 10,000"): one query, reading at most the live referrals and the limit's worth of
    finished ones per tab, from the indexes on (contract, status, caseworker) and (CRC, status,
    referrer) without the table."""
    tabs = tabs_for(user)
    seen = _filtered(select(Referral.id).where(access.visibility_clause(Referral, user)), filters)
    live = (
        seen.with_only_columns(
            *(func.count(case((_tab_clause(tab, user), 1))).label(tab.key) for tab in tabs),
        )
        # Named rather than "not finished": the indexes' (contract or CRC, status) then read just
        # these statuses, instead of every referral the reader sees, to test each one's status.
        .where(Referral.status.in_(sorted(LIVE)))
        .subquery()
    )
    capped = {
        tab.key: select(func.count())
        .select_from(
            seen.where(_tab_clause(tab, user), Referral.status.in_(tab.statuses & FINISHED))
            .limit(keyset.COUNT_LIMIT + 1)
            .subquery()
        )
        .scalar_subquery()
        for tab in tabs
        if tab.statuses & FINISHED
    }
    row = db.session.execute(
        select(*(live.c[tab.key] for tab in tabs), *(count.label(f"{key}_finished") for key, count in capped.items()))
    ).one()
    counts = {}
    for tab in tabs:
        finished = getattr(row, f"{tab.key}_finished", 0)
        if finished > keyset.COUNT_LIMIT:
            counts[tab.key] = f"more than {keyset.COUNT_LIMIT:,}"
        else:
            counts[tab.key] = f"{getattr(row, tab.key) + finished:,}"
    return counts


@dataclass(frozen=True)
class OverdueCounts:
    waiting: int  # sent, not yet answered
    answer_overdue: int
    first_contact_overdue: int

    @property
    def overdue(self) -> int:
        return self.answer_overdue + self.first_contact_overdue


def overdue_counts(user: User) -> OverdueCounts:
    """The dashboard tile: referrals waiting for an answer and the SLA clocks run out."""
    row = db.session.execute(
        select(
            func.count(case((Referral.status == S.SENT, 1))),
            func.count(case((Referral.accept_overdue, 1))),
            func.count(case((Referral.first_contact_overdue, 1))),
        ).where(access.visibility_clause(Referral, user))
    ).one()
    return OverdueCounts(*row)


def service_choices(user: User) -> dict[str, str]:
    """The services the reader's referrals were sent to: each of their contracts' services that has
    one (found by the first such referral), rather than every referral read to list a few codes."""
    in_use = (
        select(Referral.id)
        .where(
            access.visibility_clause(Referral, user),
            Referral.contract_id == Service.contract_id,
            Referral.service_code == Service.code,
        )
        .exists()
    )
    codes = db.session.scalars(
        select(Service.code).where(access.visibility_clause(Service, user), in_use).distinct().order_by(Service.code)
    ).all()
    return {"": "All services"} | {code: code for code in codes}


def caseworker_choices(user: User) -> dict[str, str]:
    if user.is_crc_user:
        return {}
    users = db.session.scalars(
        select(User).where(User.organisation_id == user.organisation_id, User.active.is_(True)).order_by(User.name)
    ).all()
    return {"": "Anyone"} | {str(person.id): person.name for person in users}
