"""Keyset pagination (portal.keyset): walking a list page by page, forwards or back, shows every row
exactly once and in order, however many rows share a sort key, and a deep page costs what the
first does."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import keyset
from portal.dates import london_today
from portal.db import utcnow
from portal.extensions import db
from portal.people.models import Person
from portal.referrals.models import Referral
from tests.factories import PersonFactory, ReferralFactory


@pytest.fixture
def tied_referrals(ttg_service, referrer):
    """23 referrals: sent at only three moments, to people of only three family names, a third with
    no release date (NULL), so every sort key has ties that only the id breaks."""
    moments = [utcnow() - timedelta(days=days) for days in (1, 2, 3)]
    names = ["Adams", "Brown", "Brown", "Cole"]
    releases = [london_today() + timedelta(days=30), None, london_today() + timedelta(days=60)]
    made = []
    for number in range(23):
        person = PersonFactory(family_name=names[number % 4])
        made.append(
            ReferralFactory(
                reference=f"KS{number:04d}AA",
                contract=ttg_service,
                service_code="ACC-TTG",
                referrer=referrer,
                person=person,
                sent_at=moments[number % 3],
                expected_release_date=releases[number % 5 % 3],
            )
        )
    db.session.commit()
    return made


def walk(statement, per_page):
    """Every page from the first by its Next cursor; then back from the last by Previous."""
    forwards, windows = [], []
    window = keyset.seek(statement, per_page=per_page)
    while True:
        windows.append(window)
        forwards.extend(window.items)
        if window.next_cursor is None:
            break
        window = keyset.seek(statement, per_page=per_page, after=window.next_cursor)
    backwards = list(window.items)
    while window.previous_cursor is not None:
        window = keyset.seek(statement, per_page=per_page, before=window.previous_cursor)
        backwards = list(window.items) + backwards
    return forwards, backwards, windows


ORDERS = {
    "newest first": lambda: (Referral.sent_at.desc(), Referral.id.desc()),
    "oldest first, id added": lambda: (Referral.sent_at,),
    "name, newest id first": lambda: (Person.family_name.asc(), Referral.id.desc()),
    "release, NULLs last, newest id first": lambda: (
        Referral.expected_release_date.asc().nulls_last(),
        Referral.id.desc(),
    ),
    "release descending, NULLs last": lambda: (Referral.expected_release_date.desc().nulls_last(), Referral.id),
    "release, NULLs first, then name": lambda: (
        Referral.expected_release_date.asc().nulls_first(),
        Person.family_name.desc(),
        Referral.id,
    ),
}


@pytest.mark.parametrize("order", ORDERS, ids=list(ORDERS))
@pytest.mark.parametrize("per_page", [1, 7, 23])
def test_walking_every_page_shows_each_row_once_in_order(tied_referrals, order, per_page):
    statement = select(Referral).join(Person, Person.id == Referral.person_id).order_by(*ORDERS[order]())
    everything = list(db.session.scalars(statement.order_by(None).order_by(*keyset_order(statement))))

    forwards, backwards, windows = walk(statement, per_page)

    assert [r.id for r in forwards] == [r.id for r in everything]
    assert [r.id for r in backwards] == [r.id for r in everything]
    assert len(everything) == 23
    assert [w.offset for w in windows] == list(range(0, 23, per_page))
    assert all(len(w.items) <= per_page for w in windows)


def keyset_order(statement):
    return [key.ordering() for key in keyset.keys_of(statement)]


def test_rows_added_while_paging_never_repeat_a_row_already_seen(tied_referrals, ttg_service, referrer):
    statement = select(Referral).order_by(Referral.sent_at.desc(), Referral.id.desc())
    first = keyset.seek(statement, per_page=10)
    ReferralFactory(contract=ttg_service, service_code="ACC-TTG", referrer=referrer)  # newest: before page 1
    db.session.commit()
    second = keyset.seek(statement, per_page=10, after=first.next_cursor)
    assert not {r.id for r in first.items} & {r.id for r in second.items}
    assert second.offset == 10


def test_a_rows_of_columns_list_pages_too(tied_referrals):
    statement = select(Referral.id, Referral.reference).order_by(Referral.reference, Referral.id)
    forwards, _, _ = walk(statement, 4)
    assert [row.reference for row in forwards] == sorted(r.reference for r in tied_referrals)


@pytest.mark.parametrize("token", ["", "x", "eyJrIjpbXX0", "bm90IGpzb24", "eyJrIjpbeyJ6IjoiMSJ9LDFdLCJwIjoxfQ"])
def test_a_cursor_that_is_not_ours_is_refused(tied_referrals, token):
    statement = select(Referral).order_by(Referral.sent_at, Referral.id)
    with pytest.raises(keyset.BadCursor):
        keyset.decode_cursor(token or "!!", keyset.keys_of(statement))


def test_cursors_carry_dates_times_enums_and_decimals(tied_referrals):
    statement = select(Referral).order_by(Referral.status, Referral.accept_due_on, Referral.sent_at, Referral.id)
    forwards, backwards, _ = walk(statement, 3)
    assert len(forwards) == len(backwards) == 23


def test_random_orders_and_page_sizes_agree_with_the_whole_list(tied_referrals):
    chooser = random.Random(20)
    columns = [Referral.sent_at, Referral.reference, Referral.status, Referral.accept_due_on]
    for _ in range(10):
        chosen = chooser.sample(columns, 2)
        order = [column.desc() if chooser.random() < 0.5 else column.asc() for column in chosen]
        statement = select(Referral).order_by(*order, Referral.id.desc())
        expected = [r.id for r in db.session.scalars(statement)]
        forwards, backwards, _ = walk(statement, chooser.randint(1, 9))
        assert [r.id for r in forwards] == expected
        assert [r.id for r in backwards] == expected


def test_counts_stop_at_the_limit(tied_referrals):
    statement = select(Referral)
    assert keyset.bounded_count(statement, 10) == (10, True)
    assert keyset.bounded_count(statement, 23) == (23, False)
    assert keyset.bounded_count(statement, None) == (23, False)


ENTITY_ORDERS = {name: order for name, order in ORDERS.items() if "name" not in name}


@pytest.mark.parametrize("order", ENTITY_ORDERS, ids=list(ENTITY_ORDERS))
@pytest.mark.parametrize("per_page", [1, 7, 23])
def test_a_page_chosen_by_its_ids_first_is_the_same_page(tied_referrals, order, per_page):
    """seek_ids_first (the page's ids chosen first, then its rows read with their eager loads):
    the same rows, in the same order, forwards, back and by offset, as the statement read whole."""
    from sqlalchemy.orm import joinedload, selectinload

    statement = (
        select(Referral)
        .where(Referral.reference != "KS0004AA")
        .options(joinedload(Referral.contract), selectinload(Referral.person))
        .order_by(*ENTITY_ORDERS[order]())
    )
    fast = statement.execution_options(seek_ids_first=True)

    forwards, backwards, windows = walk(fast, per_page)
    plain_forwards, _, plain_windows = walk(statement, per_page)

    assert [r.id for r in forwards] == [r.id for r in backwards] == [r.id for r in plain_forwards]
    assert len(forwards) == 22
    assert [(w.offset, w.next_cursor, w.previous_cursor) for w in windows] == [
        (w.offset, w.next_cursor, w.previous_cursor) for w in plain_windows
    ]
    assert all(r.person is not None for r in forwards)  # loaded with the page, not lazily
    deep = keyset.seek(fast, per_page=per_page, offset=per_page)
    assert [r.id for r in deep.items] == [r.id for r in plain_forwards[per_page : 2 * per_page]]
