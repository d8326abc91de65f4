"""Partner Portal: the CRC's supply-chain portal. `create_app()` builds the Flask application."""

from __future__ import annotations

import logging
import re
import time
import uuid
from pathlib import Path

from flask import Flask, flash, g, redirect, request, session, url_for
from flask_login import logout_user
from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, PrefixLoader
from werkzeug.middleware.proxy_fix import ProxyFix

from config import load_config
from portal.extensions import csrf, db, limiter, login_manager, migrate, talisman, wtforms_helpers

BASE_DIR = Path(__file__).resolve().parent.parent
REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")

CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "object-src": "'none'",
}
PERMISSIONS_POLICY = {
    "camera": "()",
    "microphone": "()",
    "geolocation": "()",
    "payment": "()",
    "usb": "()",
}


def create_app(config_name: str | None = None) -> Flask:
    config = load_config(config_name)
    app = Flask(
        __name__,
        instance_path=str(config.INSTANCE_DIR),
        template_folder=str(BASE_DIR / "templates"),
        static_folder=str(BASE_DIR / "static"),
    )
    app.config.from_object(config)
    app.config["ENV_NAME"] = config.ENV_NAME
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    from portal.text import PortalRequest
    from portal.urls import DatabaseIdConverter

    app.request_class = PortalRequest
    app.url_map.converters["int"] = DatabaseIdConverter

    configure_logging(app)
    warn_about_production_gaps(app)
    register_extensions(app)
    register_templates(app)
    register_request_hooks(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_shellcontext(app)
    return app


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        from flask import has_request_context

        record.request_id = getattr(g, "request_id", "-") if has_request_context() else "-"
        return True


def configure_logging(app: Flask) -> None:
    """key=value lines with the request id; never names, emails or CRNs."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s level=%(levelname)s logger=%(name)s request_id=%(request_id)s %(message)s")
    )
    root = logging.getLogger("portal")
    root.handlers[:] = [handler]
    root.setLevel(app.config["LOG_LEVEL"])
    root.propagate = False


def warn_about_production_gaps(app: Flask) -> None:
    """Production runs without Redis, but several gunicorn workers then keep their own login
    rate limits and run imports in their own threads: say so loudly at start-up."""
    if app.config["ENV_NAME"] == "production" and not app.config.get("REDIS_URL"):
        logging.getLogger("portal").warning(
            "REDIS_URL is not set: login rate limits are counted per worker and bulk imports run in web "
            "worker threads; set REDIS_URL and run `flask jobs worker` for production"
        )

    if app.config["ENV_NAME"] == "production" and not app.config["MFA_REQUIRED"]:
        logging.getLogger("portal").warning(
            "MFA_REQUIRED is off: CRC staff and partner managers can sign in with a password alone"
        )


def register_extensions(app: Flask) -> None:
    if app.config["TRUSTED_PROXY_COUNT"]:
        count = app.config["TRUSTED_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]

    from portal.api.paths import NoCookieSessionForTheApi

    app.session_interface = NoCookieSessionForTheApi()
    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"), compare_type=True)
    csrf.init_app(app)
    limiter.init_app(app)
    wtforms_helpers.init_app(app)

    login_manager.init_app(app)
    login_manager.login_view = "accounts.sign_in"
    login_manager.login_message = "Sign in to continue"
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    force_https = app.config["FORCE_HTTPS"]
    talisman.init_app(
        app,
        force_https=force_https,
        strict_transport_security=force_https,
        strict_transport_security_max_age=31536000,
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        session_cookie_http_only=True,
        session_cookie_samesite="Lax",
        frame_options="DENY",
        content_security_policy=CONTENT_SECURITY_POLICY,
        content_security_policy_nonce_in=["script-src"],
        referrer_policy="strict-origin-when-cross-origin",
        permissions_policy=PERMISSIONS_POLICY,
        x_content_type_options=True,
    )

    # Models must be imported so that the mapper and Alembic see every table.
    import portal.models  # noqa: F401
    from portal.grants.service import register_hooks as register_grant_hooks
    from portal.invoicing.service import register_hooks

    register_hooks()
    register_grant_hooks()
    from portal.accounts.models import User

    @login_manager.user_loader
    def load_user(secret: str) -> User | None:
        """Only a live session record signs anyone in (see `resume_session`, which normally looks
        it up first; an error page raised before that hook ran looks it up here)."""
        from portal.accounts import sessions

        if "user_session" not in g:
            g.user_session = sessions.resume(secret).row
        row = g.user_session
        if row is None or row.user.session_secret != secret:
            return None
        return row.user


def register_templates(app: Flask) -> None:
    from portal import formatting
    from portal.navigation import navigation_for
    from portal.urls import absolute_url
    from portal.web import form_error_summary

    app.jinja_loader = ChoiceLoader(
        [
            FileSystemLoader(str(BASE_DIR / "templates")),
            PrefixLoader(
                {
                    "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
                    "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
                }
            ),
        ]
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.filters.update(
        date=formatting.format_date,
        datetime=formatting.format_datetime,
        time=formatting.format_time,
        money=formatting.format_money,
        shown_value=formatting.shown_value,
        plural=formatting.plural,
    )
    app.jinja_env.globals.update(
        navigation_for=navigation_for,
        form_error_summary=form_error_summary,
        absolute_url=absolute_url,
        plural=formatting.plural,
        product_name="Partner Portal",
    )


def register_request_hooks(app: Flask) -> None:
    log = logging.getLogger("portal.request")

    @app.before_request
    def start_request() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if REQUEST_ID.match(incoming) else str(uuid.uuid4())
        g.started = time.perf_counter()
        from portal.problems import is_api_request

        # Query and form values are checked as they are read (portal.text); the API answers a path
        # naming no record with its own 404.
        if "\x00" in request.path and not is_api_request():
            from portal.text import NulCharacterRefused

            raise NulCharacterRefused

    @app.before_request
    def resume_session():  # type: ignore[no-untyped-def]
        """The cookie names a session record; only a live one signs the request in. One ended
        elsewhere (sign-out, a new password, deactivation) is simply gone; one left idle for
        SESSION_TIMEOUT_MINUTES ends here, with a word on the sign-in page."""
        from portal.accounts import sessions
        from portal.problems import is_api_request

        if request.endpoint == "static" or is_api_request():  # the API reads its token, never the cookie
            return None
        secret = session.get("_user_id")
        if secret is None:
            return None
        resumed = sessions.resume(secret)
        g.user_session = resumed.row
        if resumed.live:
            g.user_session = resumed.row
            return None
        logout_user()
        session.clear()
        if resumed.timed_out:
            flash(
                "You were signed out because you had not done anything for "
                f"{app.config['SESSION_TIMEOUT_MINUTES']} minutes. Sign in again to continue.",
                "info",
            )
            return redirect(url_for("accounts.sign_in", next=request.full_path if request.method == "GET" else None))
        return None

    @app.after_request
    def finish_request(response):  # type: ignore[no-untyped-def]
        response.headers["X-Request-ID"] = g.get("request_id", "")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        if request.endpoint != "static":
            # Pages hold personal and safeguarding data: never keep them in a cache.
            response.headers["Cache-Control"] = "no-store"
        if g.get("emails_queued"):
            from portal.notifications.service import deliver_soon

            deliver_soon()
        if request.endpoint != "static":
            elapsed_ms = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
            log.info(
                "method=%s path=%s status=%s ms=%.1f",
                request.method,
                request.url_rule or request.path,
                response.status_code,
                elapsed_ms,
            )
        return response


def register_blueprints(app: Flask) -> None:
    from portal.accounts.token_views import bp as api_tokens_bp
    from portal.accounts.views import bp as accounts_bp
    from portal.api.docs import bp as api_docs_bp
    from portal.api.routes import bp as api_bp
    from portal.audit.views import bp as audit_bp
    from portal.contracts.service_views import directory_bp
    from portal.contracts.views import bp as contracts_bp
    from portal.dashboards.views import bp as dashboards_bp
    from portal.delivery import queues  # noqa: F401 - its routes join the delivery blueprint
    from portal.delivery.views import bp as delivery_bp
    from portal.grants.views import bp as grants_bp
    from portal.grants.volume_views import bp as volumes_bp
    from portal.invoicing.views import bp as invoicing_bp
    from portal.main.views import bp as main_bp
    from portal.organisations.views import bp as organisations_bp
    from portal.people.views import bp as people_bp
    from portal.places.views import bp as places_bp
    from portal.referrals import case_file, drafting, importing, lists, views  # noqa: F401 - their routes join the blueprint
    from portal.referrals.blueprint import bp as referrals_bp
    from portal.remittance.views import bp as remittance_bp
    from portal.returns.views import bp as returns_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(organisations_bp)
    app.register_blueprint(contracts_bp)
    app.register_blueprint(directory_bp)
    app.register_blueprint(referrals_bp)
    app.register_blueprint(delivery_bp)
    app.register_blueprint(invoicing_bp)
    app.register_blueprint(remittance_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(people_bp)
    app.register_blueprint(places_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(api_docs_bp)
    app.register_blueprint(api_tokens_bp)
    csrf.exempt(api_bp)  # token authentication, no cookies: nothing for a cross-site request to ride on
    app.register_blueprint(returns_bp)
    app.register_blueprint(dashboards_bp)
    from portal.safeguarding.views import bp as safeguarding_bp

    app.register_blueprint(safeguarding_bp)
    from portal.ttg.views import bp as ttg_bp

    app.register_blueprint(ttg_bp)
    from portal.plans.views import bp as plans_bp

    app.register_blueprint(plans_bp)
    app.register_blueprint(grants_bp)
    app.register_blueprint(volumes_bp)


def register_errorhandlers(app: Flask) -> None:
    from portal.web import register_error_pages

    register_error_pages(app)


def register_commands(app: Flask) -> None:
    from portal.access import permissions_table_command
    from portal.accounts.cli import api_token_cli, user_cli
    from portal.contracts.cli import contract_cli, rate_card_cli
    from portal.delivery.review import records_cli
    from portal.demo.cli import demo_code_command, demo_data_command
    from portal.jobs import jobs_cli
    from portal.notifications.cli import notifications_cli, outbox_cli
    from portal.organisations.cli import org_cli
    from portal.people.cli import people_cli

    app.cli.add_command(org_cli)
    app.cli.add_command(user_cli)
    app.cli.add_command(demo_data_command)
    app.cli.add_command(demo_code_command)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(notifications_cli)
    app.cli.add_command(contract_cli)
    app.cli.add_command(rate_card_cli)
    app.cli.add_command(records_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(api_token_cli)
    app.cli.add_command(permissions_table_command)
    app.cli.add_command(people_cli)
    from portal.safeguarding.cli import safeguarding_cli

    app.cli.add_command(safeguarding_cli)


def warm_up(app: Flask) -> None:
    """Do once, before gunicorn forks its workers (config/gunicorn.conf.py calls this with the
    preloaded app), the work each worker would otherwise do on its first request for each page:
    compiling every template (50 to 250 ms a page, seen as 1.4 s for a first /contracts/ under load),
    configuring the mappers, loading the browser-name rules that sign-in uses, compiling the
    figures' SQL and counting each organisation's dashboard summary (warm_figures). The workers
    share the result by fork; none of it can go stale (templates are not reloaded in production,
    and the summaries are remembered under the stamps of the tables they count: a record changed
    since has them counted again). At national scale it takes 2 to 4 s before the workers start."""
    from sqlalchemy.orm import configure_mappers

    from portal.accounts.sessions import device_name

    started = time.perf_counter()
    environment = app.jinja_env
    names = environment.list_templates(filter_func=lambda name: name.endswith((".html", ".txt", ".xml")))
    for name in names:
        environment.get_template(name)
    configure_mappers()
    device_name("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36")
    log = logging.getLogger("portal")
    log.info("warmed up: %d templates compiled in %.0f ms", len(names), (time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    try:
        with app.app_context():
            warmed = warm_figures()
    except Exception:  # only an optimisation (the database may not be up yet): workers compile it
        log.exception("figures' SQL not warmed up; each worker compiles it on its first count")
    else:
        log.info("warmed up: figures' SQL compiled %s in %.0f ms", warmed, (time.perf_counter() - started) * 1000)


def warm_figures() -> str:
    """Count the figures of the contract with the fewest referrals, as the dashboard and a return
    do, and keep none of them: only so that the figures' grouped queries are compiled (SQLAlchemy's
    statement cache, which the workers inherit). Every shape a page asks for: the summary, each
    contract's figures, the equality tables and every figure, unfiltered, by pathway and by area,
    for the dashboard's period (this quarter); and every figure of last quarter and last month, the
    periods of the returns being drafted. Measured at national scale: a process's first count of a
    contract's figures took 200 to 300 ms, the next ones 60 to 100, whatever their contract or
    period; in a cold load test each worker paid it on its first dashboard or return, and again on
    its first filter by pathway (16 more queries, 110 ms). Then counts ahead the dashboard summary
    each organisation's people open first (portal.dashboards.ahead), and keeps those. Reads the
    database and Redis, so it ends by closing every connection it opened: a forked worker must never
    share one."""
    from sqlalchemy import func, select

    from portal.contracts.models import Contract, ContractStatus
    from portal.dashboards.ahead import count_ahead
    from portal.dates import london_today
    from portal.figure_cache import close_shared
    from portal.figures import count_every_shape
    from portal.grants.below_plan import below_plan_for
    from portal.referrals.models import Referral

    try:
        # The smallest, so that compiling costs little counting.
        referrals = select(func.count()).where(Referral.contract_id == Contract.id).scalar_subquery()
        contract = db.session.scalar(
            select(Contract).where(Contract.status != ContractStatus.DRAFT).order_by(referrals, Contract.id).limit(1)
        )
        if contract is None:
            return "(no contract yet, nothing to count)"
        today = london_today()
        ids = [contract.id]
        count_every_shape(ids, contract.start_date, today)
        below_plan_for(ids, today)
        summaries = count_ahead(today)
        return f"(contract {contract.reference}; {summaries} dashboards' summaries counted ahead)"
    finally:
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()
        close_shared()


def register_shellcontext(app: Flask) -> None:
    def shell_context() -> dict[str, object]:
        import portal.models as models

        return {"db": db, "models": models}

    app.shell_context_processor(shell_context)
