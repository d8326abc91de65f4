"""Shared fixtures: one app and one migrated database for the run, emptied after every test.

Set TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) to run
the suite on PostgreSQL; otherwise it runs on an SQLite file under instance/.

Set TEST_TODAY (`2027-01-04`, or `2027-07-01T00:30` for a London date and time) to run the whole
suite on that day: its clock starts there and runs on (time-machine), for the tests, the app, the
browser tests' server and the CLI alike. Without it the suite runs on the real date.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path

import pytest
import time_machine
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import insert, text

os.environ["PORTAL_ENV"] = "test"
# The suite empties its database: never let it pick up a DATABASE_URL exported for a real one.
os.environ.pop("DATABASE_URL", None)
os.environ.setdefault("INSTANCE_DIR", str(Path(__file__).resolve().parent.parent / "instance"))


from portal import create_app
from portal.accounts.models import Role
from portal.contracts.models import Unit
from portal.dates import london_today
from portal.extensions import db, limiter
from portal.figure_cache import FIGURE_TABLES, FiguresStamp
from portal.formatting import LONDON
from tests.factories import (
    ContractFactory,
    CrcFactory,
    PartnerFactory,
    RateCardItemFactory,
    ReferralFactory,
    UserFactory,
)
from tests.helpers import Portal


def pinned_moment(text: str | None) -> datetime | None:
    """TEST_TODAY as the aware moment the suite's clock starts at: a date alone is noon in London
    (clear of both ends of the day), a date and time is that London wall-clock time."""
    if not text or not text.strip():
        return None
    text = text.strip()
    try:
        moment = datetime.fromisoformat(text) if "T" in text else datetime.combine(date.fromisoformat(text), time(12))
    except ValueError as exc:
        raise pytest.UsageError(f"TEST_TODAY={text!r} is not a date like 2027-01-04 or 2027-07-01T00:30") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=LONDON)


PINNED = pinned_moment(os.environ.get("TEST_TODAY"))


def pytest_configure(config: pytest.Config) -> None:
    """Pin the clock before anything else runs, so collection, fixtures and tests share one calendar.
    The clock ticks on from the pinned moment: idle timeouts and token lifetimes behave as in life."""
    if PINNED is not None:
        traveller = time_machine.travel(PINNED, tick=True)
        traveller.start()
        config.add_cleanup(traveller.stop)


def pytest_report_header(config: pytest.Config) -> str:
    if PINNED is None:
        return "clock: the real date (set TEST_TODAY=YYYY-MM-DD to pin it)"
    return f"clock: pinned to {PINNED.isoformat()} London (TEST_TODAY={os.environ['TEST_TODAY']})"


def _own_database_per_worker(worker: str) -> None:
    """Under pytest-xdist each worker empties and rebuilds its database, so each needs its own:
    `<database>_<worker>` on PostgreSQL (created on first use), its own instance folder (SQLite
    file, evidence storage, outbox) otherwise."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    os.environ["INSTANCE_DIR"] = str(Path(os.environ["INSTANCE_DIR"]) / worker)
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return
    base = make_url(url)
    if base.get_backend_name() == "sqlite":
        database = Path(base.database or "test.sqlite3")
        mine = base.set(database=str(database.with_name(f"{database.stem}-{worker}{database.suffix}")))
    else:
        mine = base.set(database=f"{base.database}_{worker}")
        engine = create_engine(base, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            found = text("SELECT 1 FROM pg_database WHERE datname = :name")
            if connection.execute(found, {"name": mine.database}).first() is None:
                connection.execute(text(f'CREATE DATABASE "{mine.database}"'))
        engine.dispose()
    os.environ["TEST_DATABASE_URL"] = mine.render_as_string(hide_password=False)


if os.environ.get("PYTEST_XDIST_WORKER"):
    _own_database_per_worker(os.environ["PYTEST_XDIST_WORKER"])


def _empty_database(app: Flask) -> None:
    """Start from nothing, so the migrations themselves build the schema under test."""
    engine = db.engine
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    else:
        engine.dispose()
        Path(engine.url.database).unlink(missing_ok=True)


@pytest.fixture(scope="session")
def app() -> Iterator[Flask]:
    """The portal under test: requests, the CLI runner and the live server use this app."""
    app = create_app("test")
    with app.app_context():
        _empty_database(app)
        upgrade()
    yield app


@pytest.fixture(scope="session")
def observer_app(app: Flask) -> Flask:
    """A second app on the same database, whose context the test code itself runs in.

    Flask reuses an active context of the *same* app for test-client requests, which
    would share `g` (Flask-Login's user, Flask-WTF's CSRF token) across requests. With
    the test on its own app, every request gets a fresh context and its own session,
    as it would in production, while factories and assertions see the same database.
    """
    return create_app("test")


def _clean_tables(app: Flask) -> None:
    db.session.remove()
    tables = [table.name for table in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # TRUNCATE skips row triggers, so the append-only audit log can be emptied here.
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))
        # Every figure table has a token, as after the migrations (figures are remembered only then).
        connection.execute(text("DELETE FROM figures_stamp"))
        connection.execute(
            insert(FiguresStamp), [{"table_name": table, "token": uuid.uuid4().hex} for table in FIGURE_TABLES]
        )


@pytest.fixture(autouse=True)
def _database(app: Flask, observer_app: Flask) -> Iterator[None]:
    """Every test runs in an app context on empty tables, and leaves them empty."""
    with observer_app.app_context():
        yield
        _clean_tables(observer_app)
    limiter.reset()


@pytest.fixture(autouse=True)
def _story_day(request: pytest.FixtureRequest) -> Iterator[None]:
    """Worked examples written in a fixed calendar (a quarter of 2026 counted by hand, a contract's
    months) say so with `pytestmark = pytest.mark.on_day(date(2026, 12, 7))`; their clock starts
    on that day, so they read the same whatever day the suite runs on."""
    marker = request.node.get_closest_marker("on_day")
    if marker is None:
        yield
        return
    moment = marker.args[0]
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, time(10), tzinfo=LONDON)
    with time_machine.travel(moment, tick=True):
        yield


@pytest.fixture
def today() -> date:
    """Today in London, on the suite's clock (pinned by TEST_TODAY or the real date)."""
    return london_today()


@pytest.fixture
def client(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def portal(client) -> Portal:  # type: ignore[no-untyped-def]
    """A person at a browser: signs in, follows links, submits forms with their CSRF token."""
    return Portal(client)


@pytest.fixture
def other_portal(app: Flask) -> Portal:
    """A second person, with their own cookies."""
    return Portal(app.test_client())


@pytest.fixture
def runner(observer_app: Flask):  # type: ignore[no-untyped-def]
    """Runs `flask …` commands. Flask's CLI uses the active app context, which is the test's."""
    return observer_app.test_cli_runner()


# --- the people in most stories: a CRC, two partners and someone in every role -------------


@pytest.fixture
def crc():  # type: ignore[no-untyped-def]
    return CrcFactory(name="BeNCH CRC")


@pytest.fixture
def nacro():  # type: ignore[no-untyped-def]
    return PartnerFactory(name="Nacro")


@pytest.fixture
def st_giles():  # type: ignore[no-untyped-def]
    return PartnerFactory(name="St Giles Trust")


@pytest.fixture
def admin(crc):  # type: ignore[no-untyped-def]
    return UserFactory(email="admin@crc.example", name="Ada Admin", role=Role.ADMIN, organisation=crc)


@pytest.fixture
def contract_manager(crc):  # type: ignore[no-untyped-def]
    return UserFactory(
        email="contracts@crc.example", name="Connie Contracts", role=Role.CONTRACT_MANAGER, organisation=crc
    )


@pytest.fixture
def referrer(crc):  # type: ignore[no-untyped-def]
    return UserFactory(email="referrer@crc.example", name="Rita Referrer", role=Role.CRC_REFERRER, organisation=crc)


@pytest.fixture
def nacro_manager(nacro):  # type: ignore[no-untyped-def]
    return UserFactory(email="manager@nacro.example", name="Mo Manager", role=Role.PROVIDER_MANAGER, organisation=nacro)


@pytest.fixture
def nacro_caseworker(nacro):  # type: ignore[no-untyped-def]
    return UserFactory(
        email="caseworker@nacro.example", name="Cas Worker", role=Role.PROVIDER_CASEWORKER, organisation=nacro
    )


@pytest.fixture
def st_giles_manager(st_giles):  # type: ignore[no-untyped-def]
    return UserFactory(
        email="manager@stgiles.example", name="Sam Giles", role=Role.PROVIDER_MANAGER, organisation=st_giles
    )


@pytest.fixture
def st_giles_caseworker(st_giles):  # type: ignore[no-untyped-def]
    return UserFactory(
        email="caseworker@stgiles.example", name="Steph Giles", role=Role.PROVIDER_CASEWORKER, organisation=st_giles
    )


@pytest.fixture
def nacro_contract(crc, nacro):  # type: ignore[no-untyped-def]
    """An active contract between the CRC and Nacro (no rate card yet)."""
    return ContractFactory(
        reference="BENCH-ACC-01",
        title="Through the Gate accommodation",
        crc=crc,
        partner=nacro,
        counties=["Bedfordshire", "Northamptonshire"],
        prisons=["HMP Bedford", "HMP Woodhill"],
    )


@pytest.fixture
def st_giles_contract(crc, st_giles):  # type: ignore[no-untyped-def]
    """An active contract between the CRC and St Giles Trust."""
    return ContractFactory(
        reference="BENCH-ETE-02",
        title="Release planning and ETE",
        crc=crc,
        partner=st_giles,
        counties=["Cambridgeshire"],
        prisons=["HMP Peterborough (male)"],
    )


@pytest.fixture
def ttg_service(nacro_contract):
    """Nacro's Through the Gate accommodation service: a referral fee and a per-session fee."""
    RateCardItemFactory(
        contract=nacro_contract,
        code="ACC-TTG-REF",
        service_code="ACC-TTG",
        name="Through the Gate accommodation",
        unit=Unit.PER_REFERRAL,
    )
    RateCardItemFactory(
        contract=nacro_contract,
        code="ACC-TTG-SESSION",
        service_code="ACC-TTG",
        name="Accommodation support session",
        unit=Unit.PER_SESSION,
    )
    RateCardItemFactory(
        contract=nacro_contract, code="GRANT", service_code="GRANT", name="Core grant", unit=Unit.MONTHLY_FIXED
    )
    RateCardItemFactory(contract=nacro_contract, code="OLD", service_code="OLD-SVC", name="Retired", active=False)
    nacro_contract.partner.referral_email = "referrals@nacro.example"
    db.session.commit()
    return nacro_contract


@pytest.fixture
def nacro_referral(ttg_service, referrer):
    """A referral sent to Nacro by the CRC's referrer, waiting for an answer."""
    return ReferralFactory(reference="NC2345AB", contract=ttg_service, service_code="ACC-TTG", referrer=referrer)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Schemathesis names each operation's test by its operation but gives them all one node id;
    pytest-xdist schedules by node id, so without this it would run one operation and skip the
    rest without a word. The node id takes the name, as it does for a parametrised test."""
    for item in items:
        if getattr(item, "operation_label", None) and not item.nodeid.endswith("]"):
            item._id = item.parent.id.child(item.name)  # pytest 9 keeps the node id here
    seen = Counter(item.nodeid for item in items)
    twice = sorted(nodeid for nodeid, times in seen.items() if times > 1)
    if twice:
        raise pytest.UsageError(f"Tests share a node id, so pytest-xdist would run only one of each: {twice[:5]}")
