"""The dashboard's summary is remembered until a record it counts changes (portal.figure_cache):
whoever changes a record, by whatever route, the next visit shows the figures counted afresh."""

from __future__ import annotations

import importlib
import random
import re
import threading
from datetime import date, timedelta

import pytest
import time_machine
from sqlalchemy import event, select, text

from portal.dates import parse_period
from portal.delivery.models import Attendance
from portal.extensions import db
from portal.figure_cache import FIGURE_TABLES, current_stamps, forget, remembered
from portal.figures import (
    FIGURE_SESSION_TABLES,
    SUMMARY_TABLES,
    count_by_contract,
    count_equality,
    count_figures,
    count_summary,
    figure_counts,
    figure_sessions,
    remembered_figures,
    remembered_summary,
    summary_counts,
    summary_sessions,
    tables_read,
)
from portal.grants.below_plan import below_plan_for
from portal.people.models import Gender
from portal.places.models import Prison
from portal.referrals.models import Referral, ReferralStatus
from portal.returns.records import default_labels, figures_for
from portal.safeguarding.models import ConcernCategory, SafeguardingConcern, Urgency
from tests.factories import ContractFactory, OutcomeFactory, ReferralFactory, SessionFactory, places_named
from tests.helpers import STORY_DAY, QueryCounter, redis_or_skip
from tests.returns.conftest import at

pytestmark = pytest.mark.on_day(STORY_DAY)  # the returns' worked example, set in 2026

RECEIVED = re.compile(r'<p class="portal-tile__number">(\d+)</p>')
Q3 = parse_period("2026-Q3")


@pytest.fixture(autouse=True)
def _nothing_remembered():
    forget()
    yield
    forget()


def received(portal) -> int:
    """The summary's first tile: the referrals received in the quarter."""
    match = RECEIVED.search(portal.get("/dashboard/?period=2026-Q3").get_data(as_text=True))
    assert match
    return int(match.group(1))


def _tables_read_by(counting) -> set[str]:  # type: ignore[no-untyped-def]
    """The tables the SQL that `counting()` sends reads from."""
    seen: set[str] = set()

    def read(conn, cursor, statement, *args) -> None:
        seen.update(re.findall(r"\b(?:FROM|JOIN)\s+([a-z_]+)\b", statement))

    event.listen(db.engine, "before_cursor_execute", read)
    try:
        counting()
    finally:
        event.remove(db.engine, "before_cursor_execute", read)
    # Functions the achievements are unnested by, and the names the queries give their own parts.
    return seen - {"json_array_elements", "json_each", "rar_cases", "starters"}


FILTERS = ((None, None), ("accommodation", None), (None, "HMP Bedford"), ("accommodation", "HMP Bedford"))


def test_the_remembered_parts_read_only_tables_whose_changes_renew_the_stamp(quarter):
    """A figure that starts reading another table fails here until a migration gives that table
    the triggers and FIGURE_TABLES names it: otherwise its changes would not reach the dashboard."""
    contract_id = quarter["contract"].id  # read before listening: only the figures' own SQL counts

    def everything() -> None:
        for pathway, area in FILTERS:
            count_summary([contract_id], Q3, today=STORY_DAY, pathway=pathway, area=area)
            count_by_contract([contract_id], Q3, today=STORY_DAY, pathway=pathway, area=area)
            count_figures([contract_id], Q3, today=STORY_DAY, pathway=pathway, area=area)
            count_equality([contract_id], Q3, today=STORY_DAY, pathway=pathway, area=area)
        below_plan_for([contract_id], STORY_DAY)  # the contract manager's home

    tables = _tables_read_by(everything)
    assert {"referral", "person"} <= tables <= set(FIGURE_TABLES), tables - set(FIGURE_TABLES)
    first = importlib.import_module("migrations.versions.0039_sessions_speed")
    then = importlib.import_module("migrations.versions.0041_all_figures_remembered")
    by_table = importlib.import_module("migrations.versions.0042_figures_by_table")
    assert sorted(first.TABLES + then.ADDED) == sorted(FIGURE_TABLES) == sorted(by_table.TABLES)


@pytest.mark.parametrize(("pathway", "area"), FILTERS)
def test_each_part_of_the_summary_reads_only_the_tables_it_is_remembered_under(quarter, pathway, area):
    """The summary's two parts are remembered under their own tables' stamps (a session recorded
    leaves the referrals' part as it was): each must read no other table, with any filter."""
    ids = [quarter["contract"].id]
    counts = _tables_read_by(lambda: summary_counts(ids, Q3, today=STORY_DAY, pathway=pathway, area=area))
    sessions = _tables_read_by(lambda: summary_sessions(ids, Q3, pathway=pathway, area=area))
    assert counts <= set(tables_read(SUMMARY_TABLES, pathway=pathway, area=area)), counts
    assert sessions <= set(tables_read(("delivery_session",), pathway=pathway, area=area)), sessions
    assert "delivery_session" not in counts and "delivery_session" in sessions

    # Every figure (a draft return, the dashboard's other parts) likewise.
    def every(part):  # type: ignore[no-untyped-def]
        return _tables_read_by(lambda: part(ids, Q3, contract_start=date(2026, 4, 1), pathway=pathway, area=area))

    counts = every(lambda *args, **kwargs: figure_counts(*args, today=STORY_DAY, **kwargs))
    sessions = every(figure_sessions)
    assert "delivery_session" not in counts
    assert sessions <= set(tables_read(FIGURE_SESSION_TABLES, pathway=pathway, area=area)), sessions


def test_a_session_recorded_counts_only_the_summarys_sessions_again(
    app, portal, quarter, contract_manager, nacro_caseworker
):
    """Sessions are what partners record all day: the summary's referrals, volumes and spend (most
    of its cost) stay remembered, and its attendance rate is counted afresh at once."""
    portal.sign_in(contract_manager)
    statements: list[str] = []

    def sent(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    with app.app_context():  # the engine of the app serving the pages
        engine = db.engine

    def visit() -> str:
        statements.clear()
        event.listen(engine, "before_cursor_execute", sent)
        try:
            return portal.get("/dashboard/?period=2026-Q3").get_data(as_text=True)
        finally:
            event.remove(engine, "before_cursor_execute", sent)

    def counted(table: str) -> bool:
        return any(re.search(rf"SELECT {table}\.contract_id, (count|CASE)", s) for s in statements)

    visit()
    assert counted("referral") and counted("delivery_session")
    visit()
    assert not counted("referral") and not counted("delivery_session")

    def attendance() -> str:
        fresh = count_summary([quarter["contract"].id], Q3, today=STORY_DAY)
        return next(k["shown"] for k in fresh["headline"] if k["key"] == "attendance_rate")

    before = attendance()
    SessionFactory(
        referral=quarter["a"],
        date=date(2026, 8, 20),
        attendance=Attendance.DID_NOT_ATTEND,
        recorded_by=nacro_caseworker,
    )
    page = visit()
    assert counted("delivery_session") and not counted("referral")
    assert attendance() != before
    assert attendance() in page


def test_every_figure_table_renews_the_stamp_in_the_database():
    if db.engine.dialect.name == "postgresql":
        named = "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname LIKE '{}'"
        changed = db.session.scalars(text(named.format("tr_%_figures_changed") + " AND t.tginitdeferred"))
        truncated = db.session.scalars(text(named.format("tr_%_figures_truncated")))
        assert sorted(changed) == sorted(truncated) == sorted(FIGURE_TABLES)
    else:
        triggers = db.session.scalars(
            text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'tr_%_figures_%'")
        )
        assert sorted(triggers) == sorted(
            f"tr_{table}_figures_{change}" for table in FIGURE_TABLES for change in ("insert", "update", "delete")
        )


def test_a_second_visit_is_remembered_and_every_change_is_counted_at_once(app, portal, quarter, contract_manager):
    portal.sign_in(contract_manager)
    with QueryCounter(app) as first:
        assert received(portal) == 4
    with QueryCounter(app) as again:
        assert received(portal) == 4
    assert again.count < first.count - 5  # the summary's grouped queries are not run again

    # Through the ORM (the pages, the API): a referral sent in the quarter.
    stamps = current_stamps()
    sent = ReferralFactory(contract=quarter["contract"], service_code="ACC-TTG", sent_at=at(date(2026, 8, 3)))
    assert current_stamps()["referral"] != stamps["referral"]
    assert current_stamps()["delivery_session"] == stamps["delivery_session"]
    assert received(portal) == 5

    # By hand, in SQL: the same referral moved out of the quarter.
    db.session.execute(
        text("UPDATE referral SET sent_at = :moved WHERE id = :id"), {"moved": at(date(2026, 10, 5)), "id": sent.id}
    )
    db.session.commit()
    assert received(portal) == 4

    # A change rolled back is no change: the stamp and the figures stay as they were.
    stamps = current_stamps()
    db.session.execute(text("DELETE FROM referral WHERE id = :id"), {"id": sent.id})
    db.session.rollback()
    assert current_stamps() == stamps
    assert received(portal) == 4

    # And deleted, for good.
    db.session.execute(
        text("UPDATE referral SET sent_at = :back WHERE id = :id"), {"back": at(date(2026, 8, 3)), "id": sent.id}
    )
    db.session.commit()
    assert received(portal) == 5
    db.session.execute(text("DELETE FROM referral WHERE id = :id"), {"id": sent.id})
    db.session.commit()
    assert received(portal) == 4


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_remembered_figures_equal_figures_counted_afresh_on_a_random_history(quarter, nacro_caseworker, seed):
    """Referrals sent, withdrawn and moved; sessions recorded and their attendance changed;
    outcomes claimed and verified; people's details changed; some by the ORM, some in SQL by hand:
    after each change every remembered part (summary, by contract, every figure, equality) is what
    is counted from the records."""
    rng = random.Random(seed)
    contract = quarter["contract"]
    ids = [contract.id]

    counters = {
        "summary": count_summary,
        "by_contract": count_by_contract,
        "figures": lambda ids, period, today: count_figures(ids, period, today=today).figures,
        "equality": count_equality,
    }

    def summaries():
        fresh = [count(ids, Q3, today=STORY_DAY) for count in counters.values()]
        kept = [
            remembered(f"test.{name}", (tuple(ids), Q3), lambda count=count: count(ids, Q3, today=STORY_DAY))
            for name, count in counters.items()
        ]
        # The summary as the dashboard keeps it: two parts, each under its own tables' stamps.
        for pathway in (None, "accommodation"):
            fresh.append(count_summary(ids, Q3, today=STORY_DAY, pathway=pathway))
            kept.append(remembered_summary("test.summary", ids, Q3, today=STORY_DAY, pathway=pathway))
            fresh.append(count_figures(ids, Q3, today=STORY_DAY, pathway=pathway).figures)
            kept.append(remembered_figures("test.figures", ids, Q3, today=STORY_DAY, pathway=pathway).figures)
        return kept, fresh

    def some_day() -> date:
        return date(2026, 6, 1) + timedelta(days=rng.randrange(150))

    for _ in range(12):
        kept, fresh = summaries()
        assert kept == fresh
        referrals = db.session.scalars(select(Referral).where(Referral.contract_id == contract.id)).all()
        change = rng.choice(("send", "move", "withdraw", "session", "attendance", "outcome", "person"))
        if change == "send":
            ReferralFactory(contract=contract, service_code="ACC-TTG", sent_at=at(some_day()))
        elif change == "move":
            chosen = rng.choice(referrals)
            db.session.execute(
                text("UPDATE referral SET sent_at = :day WHERE id = :id"), {"day": at(some_day()), "id": chosen.id}
            )
            db.session.commit()
        elif change == "withdraw":
            chosen = rng.choice(referrals)
            chosen.status, chosen.withdrawn_at = ReferralStatus.WITHDRAWN, at(some_day())
            db.session.commit()
        elif change == "session":
            SessionFactory(
                referral=rng.choice(referrals),
                date=some_day(),
                attendance=rng.choice(list(Attendance)),
                recorded_by=nacro_caseworker,
            )
        elif change == "outcome":
            OutcomeFactory(referral=rng.choice(referrals), verified=rng.random() < 0.5)
        elif change == "person":  # the equality tables count people starting by their gender
            db.session.execute(
                text("UPDATE person SET gender = :gender WHERE id = :id"),
                {"gender": rng.choice(list(Gender)).value, "id": rng.choice(referrals).person_id},
            )
            db.session.commit()
        else:
            db.session.execute(
                text("UPDATE delivery_session SET attendance = :attendance WHERE referral_id = :id"),
                {"attendance": rng.choice(list(Attendance)).value, "id": rng.choice(referrals).id},
            )
            db.session.commit()
    kept, fresh = summaries()
    assert kept == fresh


def test_a_draft_returns_figures_are_remembered_until_a_person_they_count_changes(quarter):
    """A return not yet submitted shows live figures: counted once, then remembered; a change to a
    person starting in the quarter (whom the equality tables count) is counted at once."""
    contract = quarter["contract"]
    statements: list[str] = []

    def sent(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", sent)
    try:
        before = figures_for(contract, Q3, today=STORY_DAY)
        counted = len(statements)
        assert figures_for(contract, Q3, today=STORY_DAY) == before
    finally:
        event.remove(db.engine, "before_cursor_execute", sent)
    # The stamps and the safeguarding clock (figures.safeguarding_clock), read to know the
    # remembered figures are current; not the figures' grouped queries.
    assert len(statements) - counted == 2

    stamps = current_stamps()
    db.session.execute(text("UPDATE person SET gender = 'other' WHERE id = :id"), {"id": quarter["a"].person_id})
    db.session.commit()  # A started in the quarter
    assert current_stamps()["person"] != stamps["person"]
    after = figures_for(contract, Q3, today=STORY_DAY)
    assert after["equality"] != before["equality"]
    fresh = count_figures(
        [contract.id], Q3, today=STORY_DAY, contract_start=contract.start_date, labels=default_labels()
    )
    assert after == fresh.figures


SHARED = "redis://127.0.0.1:6379/6"


@pytest.fixture
def redis_url(app, observer_app):
    """Gives the portal a Redis, as in production (REDIS_URL): both the app serving pages and the
    one the tests' own code runs in. Call it with the address; it puts theirs back after."""
    apps = (app, observer_app)
    previous = [each.config.get("REDIS_URL") for each in apps]

    def give(url: str) -> None:
        for each in apps:
            each.config["REDIS_URL"] = url

    yield give
    for each, url in zip(apps, previous, strict=True):
        each.config["REDIS_URL"] = url


def test_figures_one_worker_counted_serve_every_worker_through_redis(redis_url, quarter):
    redis_or_skip(SHARED)
    redis_url(SHARED)
    counted = []

    def count() -> dict:
        counted.append(1)
        return {"received": len(counted), "period": Q3}

    assert remembered("test.shared", (Q3,), count) == {"received": 1, "period": Q3}
    forget()  # another worker, or another gunicorn: nothing of it in its own memory
    assert remembered("test.shared", (Q3,), count) == {"received": 1, "period": Q3}
    assert len(counted) == 1

    # A change to a record renews the stamp: every worker counts afresh, whatever Redis holds.
    ReferralFactory(contract=quarter["contract"], service_code="ACC-TTG", sent_at=at(date(2026, 8, 3)))
    forget()
    assert remembered("test.shared", (Q3,), count) == {"received": 2, "period": Q3}


def test_without_redis_answering_the_figures_are_counted_here(redis_url, quarter):
    redis_url("redis://127.0.0.1:1/0")  # nothing listens there
    assert remembered("test.unreachable", (Q3,), lambda: {"received": 4}) == {"received": 4}


def test_a_concern_passing_its_deadline_is_counted_at_once_though_no_record_changed(quarter, nacro_caseworker):
    """The one figure that changes with the clock alone: a concern not acknowledged by its deadline
    counts, from that moment, as acknowledged late. Remembered figures are not served past it."""
    contract, day = quarter["contract"], date(2026, 8, 10)
    with time_machine.travel(at(day, 9), tick=False) as clock:
        db.session.add(
            SafeguardingConcern(
                referral_id=quarter["a"].id,
                category=ConcernCategory.OTHER,
                urgency=Urgency.STANDARD,
                what_happened="Said they are being threatened where they stay.",
                raised_at=at(day, 8),
                raised_by_id=nacro_caseworker.id,
                acknowledge_due_at=at(day, 10),
            )
        )
        db.session.commit()
        before = figures_for(contract, Q3, today=day)
        clock.shift(timedelta(hours=2))  # 11:00: an hour past the deadline, and nobody has acknowledged it
        after = figures_for(contract, Q3, today=day)
        fresh = count_figures([contract.id], Q3, today=day, contract_start=contract.start_date, labels=default_labels())
    assert after == fresh.figures
    assert after != before


def test_writers_of_different_figure_tables_committing_together_never_deadlock_on_the_stamps(crc):
    """Each table has its own stamp, renewed at commit. Two transactions that wrote two tables in
    opposite orders would renew the two stamps in opposite orders, each holding one and waiting for
    the other: the first renewal of a transaction locks every stamp, in one order, before any."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    first, second = ContractFactory(crc=crc), ContractFactory(crc=crc)
    prisons = places_named(Prison, crc.id, ["HMP Stamp One", "HMP Stamp Two"])
    db.session.commit()
    contracts, prisons = [first.id, second.id], [p.id for p in prisons]

    def touch(connection, table: str, row: int) -> None:  # type: ignore[no-untyped-def]
        column = "title" if table == "contract" else "name"
        connection.execute(text(f"UPDATE {table} SET {column} = {column} WHERE id = :id"), {"id": row})

    failures: list[BaseException] = []
    for _ in range(10):
        with db.engine.connect() as one, db.engine.connect() as two:
            touch(one, "contract", contracts[0])  # contract, then prison
            touch(two, "prison", prisons[1])  # prison, then contract
            touch(one, "prison", prisons[0])
            touch(two, "contract", contracts[1])
            together = threading.Barrier(2)

            def commit(connection, together=together) -> None:  # type: ignore[no-untyped-def]
                together.wait()
                try:
                    connection.commit()
                except BaseException as error:  # noqa: BLE001 - reported below
                    failures.append(error)

            threads = [threading.Thread(target=commit, args=(c,)) for c in (one, two)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
    assert failures == []


def test_a_session_recorded_counts_only_a_draft_returns_sessions_again(quarter, nacro_caseworker):
    """A return not yet submitted: its referrals, outcomes, people and concerns stay remembered when a
    session is recorded, and the figures are still exactly those counted afresh."""
    contract = quarter["contract"]
    statements: list[str] = []

    def sent(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    def figures() -> dict:
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", sent)
        try:
            return figures_for(contract, Q3, today=STORY_DAY)
        finally:
            event.remove(db.engine, "before_cursor_execute", sent)

    def counted(table: str) -> bool:
        return any(re.search(rf"SELECT {table}\.contract_id, (count|CASE)", s) for s in statements)

    figures()
    assert counted("referral") and counted("delivery_session")
    SessionFactory(
        referral=quarter["a"], date=date(2026, 8, 20), attendance=Attendance.ATTENDED, recorded_by=nacro_caseworker
    )
    after = figures()
    assert counted("delivery_session") and not counted("referral")
    start = contract.start_date
    assert (
        after
        == count_figures([contract.id], Q3, today=STORY_DAY, contract_start=start, labels=default_labels()).figures
    )
