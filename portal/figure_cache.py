"""The figures (the dashboard's, a return's not yet submitted), remembered until a record they count
changes.

The summary of the whole CRC at national scale (200,000 referrals, 2 million sessions) is about a
dozen grouped queries over a year of records: 150 ms of SQL and as much again in Python, on every
visit. Its figures change only when a record they count changes, so they are remembered, keyed by
stamps that the database itself renews whenever a row of those tables is written, by whatever
writes it (a page, the API, an import, the seed's COPY, a hand-typed UPDATE): exactly equal to the
figures counted afresh, never a moment behind.

A stamp for each table (migration 0042). Each remembered part names the tables it reads, and is
keyed by their tokens alone: a session recorded renews `delivery_session`'s token, so the parts
that count sessions are counted again, and the referrals', invoices' and volumes' (most of the
summary's cost) are not. With one token for every table, partners recording sessions all day
would have every figure counted afresh on most visits.

Why this is exact. On PostgreSQL each of FIGURE_TABLES has a deferred constraint trigger that
renews its table's token (random, in `figures_stamp`) once per writing transaction, at its commit,
so the new token and the changed rows become visible together. A reader reads the tokens first
(one query) and counts after: whatever it counts is at least as new as the tokens, so figures
remembered under them never miss a change committed before they were read, and a change committed
later comes with a new token for its table. A random token, not a counter: a transaction rolled
back, or a table emptied (TRUNCATE, which row triggers do not see, has its own trigger), can never
bring an old token back; a table with no token at all has its figures counted every time.
Renewing at commit (not at the first write) means a writer holds the tokens' row locks only while
it commits, as the last locks it takes; the first renewal of a transaction locks every token in
the same order, so two writers of different tables never wait on each other crosswise (deadlock).
SQLite has one writer at a time: plain row triggers renew the token in the writing transaction.

Where they are kept: in each gunicorn worker's memory, and, when the portal has Redis (REDIS_URL),
there too, under the same stamp, so that one worker's count serves every worker and every instance
(a day at most; an old stamp's figures are never asked for again). Without Redis, or while it is
unreachable, each worker counts once per change. What it does not do: a part is counted again
after any change to a table it reads, in any contract; and a part that reads the tables written
most (referrals, sessions) is counted again often. `tests/dashboards/test_figure_cache.py` checks
that everything each part reads is among the tables it names, and those among FIGURE_TABLES, so a
figure that starts reading a new table fails until the table is named and stamped too (migrations
0039, 0041 and 0042).
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db

T = TypeVar("T")

# Every table the figures (portal.figures: count_summary, count_by_contract, count_figures and
# count_equality) read, with their filters: the first thirteen stamped by migration 0039, the
# others by 0041; each with a token of its own since 0042.
FIGURE_TABLES = (
    "contract",
    "delivery_session",
    "end_of_service_report",
    "expected_starts",
    "grant_activity",
    "grant_instalment",
    "invoice",
    "outcome",
    "outcome_type",
    "person",
    "prison",
    "probation_office",
    "referral",
    "release_record",
    "safeguarding_concern",
    "service",
    "spend_profile",
)
# Remembered parts per process: a CRC's few filters and periods, not every combination (each
# figure is two or three parts).
LIMIT = 128


class FiguresStamp(db.Model):
    """A token for each of FIGURE_TABLES, which the database renews whenever a row of that table is
    written (migration 0042; one token for them all before it)."""

    __tablename__ = "figures_stamp"

    table_name: Mapped[str] = mapped_column(String(63), primary_key=True)
    token: Mapped[str] = mapped_column(String(36))


_remembered: OrderedDict[Hashable, Any] = OrderedDict()
_lock = threading.Lock()


def current_stamps() -> dict[str, str]:
    """Each table's token now (one query). A table without one (only in a database emptied by hand)
    has its figures counted afresh until it is written to."""
    return {name: token for name, token in db.session.execute(select(FiguresStamp.table_name, FiguresStamp.token))}


def remembered(name: str, key: Hashable, count: Callable[[], T], *, tables: Iterable[str] = FIGURE_TABLES) -> T:
    """`count()`, or what it returned when `tables` were as they are now. `key` must hold every
    argument the figures depend on besides the records (the contracts, the period, today, the
    filters), with a repr that names them (it keys the shared copy); `tables` every table `count`
    reads (tests/dashboards/test_figure_cache.py holds each part to its list). The result is
    shared: callers read it and never change it."""
    stamps = current_stamps()
    read = sorted(set(tables))
    if any(table not in stamps for table in read):
        return count()
    # The database too: a process may serve more than one (tests, the benchmarks).
    full = (db.engine.url.render_as_string(hide_password=True), tuple(stamps[table] for table in read), name, key)
    with _lock:
        if full in _remembered:
            _remembered.move_to_end(full)
            return _remembered[full]  # type: ignore[no-any-return]
    value = _shared_get(full)
    if value is _MISSING:
        value = count()
        _shared_set(full, value)
    with _lock:
        _remembered[full] = value
        while len(_remembered) > LIMIT:
            _remembered.popitem(last=False)
    return value  # type: ignore[return-value]


def forget() -> None:
    """Drop everything this process remembers (tests that count queries start from nothing)."""
    with _lock:
        _remembered.clear()


# --- the copy every worker shares, in Redis ---------------------------------------------------

_MISSING = object()
# Long enough for a quiet day's figures; a stamp renewed since is never asked for again.
SHARED_SECONDS = 24 * 3600
_clients: dict[str, Any] = {}
log = logging.getLogger(__name__)


def _client() -> Any:
    """The portal's Redis (one client a process), or None when it has none."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    if url not in _clients:
        from redis import Redis

        # Figures are an optimisation: a Redis slow to answer must not hold a page up for long.
        _clients[url] = Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    return _clients[url]


def _shared_key(full: tuple[Any, ...]) -> str:
    return "portal:figures:" + hashlib.sha256(repr(full).encode()).hexdigest()


def _shared_get(full: tuple[Any, ...]) -> Any:
    client = _client()
    if client is None:
        return _MISSING
    try:
        stored = client.get(_shared_key(full))
    except RedisError as error:
        log.warning("figures not read from Redis (%s): counting them here", error)
        return _MISSING
    # Pickled by this portal's own workers, as RQ pickles the jobs they queue: the same trust in
    # the same Redis.
    return _MISSING if stored is None else pickle.loads(stored)  # noqa: S301


def _shared_set(full: tuple[Any, ...], value: Any) -> None:
    client = _client()
    if client is None:
        return
    try:
        client.set(_shared_key(full), pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), ex=SHARED_SECONDS)
    except RedisError as error:
        log.warning("figures not kept in Redis (%s)", error)


def close_shared() -> None:
    """Close this process's connections to Redis: gunicorn's master, before it forks, so that no
    worker inherits a socket another process reads (redis-py would reopen them in each worker
    anyway; this leaves nothing to chance)."""
    for client in _clients.values():
        client.connection_pool.disconnect()
    _clients.clear()
