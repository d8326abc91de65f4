"""gunicorn's master compiles every template before it forks its workers (portal.warm_up, called by
config/gunicorn.conf.py's when_ready), so no worker compiles one on its first request for a page."""

import gc
import runpy
from pathlib import Path
from types import SimpleNamespace

from portal import create_app, warm_up

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
