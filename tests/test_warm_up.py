"""gunicorn's master compiles every template before it forks its workers (portal.warm_up, called by
config/gunicorn.conf.py's when_ready), so no worker compiles one on its first request for a page."""

import gc
import logging
import runpy
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import event
from sqlalchemy.engine.interfaces import CacheStats
from sqlalchemy.exc import OperationalError

from portal import create_app, warm_figures, warm_up
from portal.contracts.models import Contract
from portal.dates import london_today
from portal.extensions import db
from portal.figure_cache import forget
from portal.figures import count_every_shape
from tests.factories import ContractFactory

ROOT = Path(__file__).resolve().parent.parent


def _compiling_forbidden(app, monkeypatch):  # type: ignore[no-untyped-def]
    def compile_again(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError(f"a template was compiled after the warm-up: {args[1:3]}")

    monkeypatch.setattr(app.jinja_env, "compile", compile_again)


def test_after_the_warm_up_pages_render_without_compiling_a_template(monkeypatch):
    fresh = create_app("test")
    warm_up(fresh)
    _compiling_forbidden(fresh, monkeypatch)
    client = fresh.test_client()
    assert client.get("/sign-in").status_code == 200
    for name in ("errors/404.html", "services/directory.html", "contracts/index.html", "emails/invitation.txt"):
        assert fresh.jinja_env.get_template(name) is not None


def test_every_template_fits_the_template_cache(app):
    """A template the cache dropped would be compiled again in a worker: keep the cache larger
    than the templates."""
    names = app.jinja_env.list_templates(filter_func=lambda name: name.endswith((".html", ".txt", ".xml")))
    assert len(names) < app.jinja_env.cache.capacity


def test_gunicorn_warms_the_preloaded_app_up_and_freezes_it_before_forking(monkeypatch):
    settings = runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))
    assert settings["preload_app"] is True
    fresh = create_app("test")
    try:
        settings["when_ready"](SimpleNamespace(app=SimpleNamespace(wsgi=lambda: fresh)))
        # The workers' garbage collector no longer walks what the master loaded.
        assert gc.get_freeze_count() > 100_000
    finally:
        gc.unfreeze()
    _compiling_forbidden(fresh, monkeypatch)
    assert fresh.jinja_env.get_template("contracts/show.html") is not None


def test_the_master_compiles_the_figures_sql_so_no_worker_compiles_it_on_its_first_count(nacro_referral):
    """A process's first count of figures took 200 to 300 ms at national scale, the next 60 to 100
    ms: compiling two dozen grouped queries, and 16 more for a first filter by pathway. The master
    counts the smallest contract's figures in every shape a page asks for, and each worker inherits
    the compiled statements by fork."""
    busy = db.session.get(Contract, nacro_referral.contract_id)
    smallest = ContractFactory(crc=busy.crc, start_date=busy.start_date)
    ids, start, expected = [busy.id], busy.start_date, f"(contract {smallest.reference};"
    assert warm_figures().startswith(expected)
    # Workers must never share a connection the master opened.
    assert db.engine.pool.checkedout() == 0

    compiled = []
    event.listen(db.engine, "after_cursor_execute", _remember_compiles(compiled))
    try:
        count_every_shape(ids, start, london_today())
    finally:
        event.remove(db.engine, "after_cursor_execute", _remember_compiles(compiled))
    assert compiled == []


def test_the_master_counts_each_organisations_dashboard_summary_ahead(
    portal, contract_manager, nacro_manager, nacro_referral, st_giles_contract, monkeypatch
):
    """Everyone's first page is their dashboard: the whole CRC's summary was 140 ms of counting at
    national scale, paid by the first visitor after a restart. The master counts the CRC's and each
    partner's before forking, so the first visit counts nothing."""
    emails = (contract_manager.email, nacro_manager.email)
    forget()
    # The CRC's and Nacro's, whose people are signed up; St Giles has a contract and nobody to see it.
    assert warm_figures().endswith("; 2 dashboards' summaries counted ahead)")

    def counted_again(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the summary was counted on the first visit")

    monkeypatch.setattr("portal.figures.summary_counts", counted_again)
    monkeypatch.setattr("portal.figures.summary_sessions", counted_again)
    for email in emails:
        portal.sign_in(email)
        assert portal.get("/dashboard/").status_code == 200
        portal.sign_out()


def _remember_compiles(into: list):  # type: ignore[no-untyped-def]
    # One listener per list, so that event.remove finds the function event.listen was given.
    if not hasattr(_remember_compiles, "made"):
        _remember_compiles.made = {}  # type: ignore[attr-defined]

    def listener(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if context.cache_hit is CacheStats.CACHE_MISS:
            into.append(statement)

    return _remember_compiles.made.setdefault(id(into), listener)  # type: ignore[attr-defined]


def test_a_master_that_cannot_reach_the_database_still_serves(monkeypatch):
    """The warm-up is only an optimisation: with the database not up yet, the workers start as
    before and compile the figures on their first count."""
    fresh = create_app("test")

    def unreachable() -> str:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    logged = []
    monkeypatch.setattr("portal.warm_figures", unreachable)
    monkeypatch.setattr(logging.getLogger("portal"), "exception", lambda message, *args: logged.append(message))
    warm_up(fresh)
    assert logged == ["figures' SQL not warmed up; each worker compiles it on its first count"]
    assert fresh.jinja_env.get_template("contracts/show.html") is not None
