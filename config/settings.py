"""Settings for each environment, chosen by PORTAL_ENV; every value can come from the environment.

Each variable read here is documented in the README's configuration table. Settings are
read when the app is created (not at import), so tests and the CLI can set the
environment first.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = BASE_DIR / "instance"


class ConfigurationError(RuntimeError):
    """The environment is missing something this configuration cannot run without."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_int(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a whole number, got {raw!r}") from exc


def _env_bool(name: str, default: bool) -> bool:
    raw = _env(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


class BaseConfig:
    """What every environment shares. Subclasses change defaults, never meaning."""

    ENV_NAME = "base"
    DEBUG = False
    TESTING = False
    # "sqlite-in-instance": an SQLite file in the instance folder (see __init__).
    DEFAULT_DATABASE_URL: str | None = "sqlite-in-instance"
    DEFAULT_SECRET_KEY: str | None = None
    DEFAULT_MAIL_BACKEND = "file"
    DEFAULT_FORCE_HTTPS = False
    DEFAULT_MFA_REQUIRED = True

    def __init__(self) -> None:
        self.SECRET_KEY = _env("SECRET_KEY", self.DEFAULT_SECRET_KEY)
        self.INSTANCE_DIR = Path(_env("INSTANCE_DIR", str(INSTANCE_DIR)))
        default_database = self.DEFAULT_DATABASE_URL
        if default_database == "sqlite-in-instance":
            default_database = f"sqlite:///{self.INSTANCE_DIR / 'portal.sqlite3'}"
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(_env("DATABASE_URL", default_database))
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

        # Sessions: 30 minutes idle, then sign in again. Cookies never readable by scripts.
        self.SESSION_TIMEOUT_MINUTES = _env_int("SESSION_TIMEOUT_MINUTES", 30)
        # The server ends an idle session (portal.accounts.sessions); the cookie outlives it by
        # design, so the next visit can say why the user was signed out.
        self.PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
        self.SESSION_REFRESH_EACH_REQUEST = True
        self.FORCE_HTTPS = _env_bool("FORCE_HTTPS", self.DEFAULT_FORCE_HTTPS)
        self.SESSION_COOKIE_NAME = "portal_session"
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = self.FORCE_HTTPS
        self.REMEMBER_COOKIE_DURATION = timedelta(seconds=0)
        self.WTF_CSRF_TIME_LIMIT = None  # the session timeout already bounds a form's life
        # Two-step verification for every CRC role and partner managers (caseworkers may opt in).
        self.MFA_REQUIRED = _env_bool("MFA_REQUIRED", self.DEFAULT_MFA_REQUIRED)

        # Sign-in protection.
        self.LOGIN_RATE_LIMIT = _env("LOGIN_RATE_LIMIT", "10 per minute")
        self.LOCKOUT_THRESHOLD = _env_int("LOCKOUT_THRESHOLD", 5)
        self.LOCKOUT_MINUTES = _env_int("LOCKOUT_MINUTES", 15)
        # Argon2id as OWASP's Password Storage Cheat Sheet gives its first choice: "a minimum
        # configuration of 19 MiB of memory, an iteration count of 2, and 1 degree of parallelism".
        # About 20 ms a sign-in on one core. RFC 9106's 64 MiB, 3 passes and 4 lanes (argon2-cffi's
        # default, used until December 2026) took 150 ms of both cores, and six people signing in at
        # once on a two-core server waited about a second each (bench/README.md). Online guessing is
        # stopped by the rate limit and lockout, not by this cost; it slows an offline attack on a
        # stolen database. Raise all three here: each hash is renewed at its owner's next sign-in.
        self.ARGON2_TIME_COST = _env_int("ARGON2_TIME_COST", 2)
        self.ARGON2_MEMORY_COST = _env_int("ARGON2_MEMORY_COST", 19 * 1024)  # KiB
        self.ARGON2_PARALLELISM = _env_int("ARGON2_PARALLELISM", 1)
        self.PASSWORD_RESET_MINUTES = _env_int("PASSWORD_RESET_MINUTES", 60)
        self.INVITATION_DAYS = _env_int("INVITATION_DAYS", 7)
        self.REDIS_URL = _env("REDIS_URL")
        self.RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", self.REDIS_URL or "memory://")
        self.RATELIMIT_HEADERS_ENABLED = True
        self.RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
        # Requests each API token may make ("120 per minute", or several: "120 per minute;5000 per day").
        self.API_RATE_LIMIT = _env("API_RATE_LIMIT", "120 per minute")

        # Email. "file" writes each message to OUTBOX_DIR and prints it; "smtp" sends it.
        self.MAIL_BACKEND = _env("MAIL_BACKEND", self.DEFAULT_MAIL_BACKEND)
        self.OUTBOX_DIR = Path(_env("OUTBOX_DIR", str(self.INSTANCE_DIR / "outbox")))
        # Uploaded evidence lives here, outside static/, served only through access-checked routes.
        self.STORAGE_DIR = Path(_env("STORAGE_DIR", str(self.INSTANCE_DIR / "storage")))
        self.MAIL_SERVER = _env("MAIL_SERVER", "localhost")
        self.MAIL_PORT = _env_int("MAIL_PORT", 25)
        self.MAIL_USERNAME = _env("MAIL_USERNAME")
        self.MAIL_PASSWORD = _env("MAIL_PASSWORD")
        self.MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", False)
        self.MAIL_USE_SSL = _env_bool("MAIL_USE_SSL", False)
        self.MAIL_DEFAULT_SENDER = _env("MAIL_DEFAULT_SENDER", "Partner Portal <no-reply@partner-portal.example>")
        # Every SMTP step gives up after this long; the email stays queued and is tried again.
        self.MAIL_TIMEOUT_SECONDS = _env_int("MAIL_TIMEOUT_SECONDS", 10)

        # Links in emails and CLI output are absolute, so the portal must know its address.
        self.BASE_URL = (_env("BASE_URL", "http://127.0.0.1:5000") or "").rstrip("/")
        self.TRUSTED_PROXY_COUNT = _env_int("TRUSTED_PROXY_COUNT", 0)
        self.LOG_LEVEL = _env("LOG_LEVEL", "INFO")
        # Background jobs: "rq" (needs REDIS_URL and `flask jobs worker`), "thread" or "sync".
        self.JOBS_BACKEND = _env("JOBS_BACKEND", "rq" if self.REDIS_URL else "thread")
        # The RQ queue the web enqueues on and `flask jobs worker` takes from: one name per portal
        # sharing a Redis (and per test run, so runs side by side never take each other's jobs).
        self.JOBS_QUEUE = _env("JOBS_QUEUE", "portal")
        self.MAX_CONTENT_LENGTH = _env_int("MAX_UPLOAD_MB", 25) * 1024 * 1024
        self.AUDIT_PAGE_SIZE = 50
        # People are anonymised this many years after their last referral ended (flask people retention).
        self.RETENTION_YEARS = _env_int("RETENTION_YEARS", 7)

    def validate(self) -> None:
        """Refuse to run without what this environment needs, or with a setting that would only
        fail later (a rate limit that cannot be read would turn every sign-in into an error)."""
        from limits import parse_many  # the rate limiter's own parser, so it reads them alike

        for name in ("LOGIN_RATE_LIMIT", "API_RATE_LIMIT"):
            try:
                parse_many(getattr(self, name))
            except ValueError as exc:
                raise ConfigurationError(
                    f"{name} must read like '120 per minute' (several: '120 per minute;5000 per day'); "
                    f"got {getattr(self, name)!r}"
                ) from exc
        if self.JOBS_BACKEND not in {"rq", "thread", "sync"}:
            raise ConfigurationError(f"JOBS_BACKEND must be rq, thread or sync; got {self.JOBS_BACKEND!r}")
        if self.JOBS_BACKEND == "rq" and not self.REDIS_URL:
            raise ConfigurationError("JOBS_BACKEND=rq needs REDIS_URL")


class DevelopmentConfig(BaseConfig):
    ENV_NAME = "development"
    DEBUG = True
    # A fixed development key keeps sessions across restarts; production refuses it.
    DEFAULT_SECRET_KEY = "development-only-secret-key-not-for-production"  # noqa: S105


class TestConfig(BaseConfig):
    ENV_NAME = "test"
    TESTING = True
    DEFAULT_SECRET_KEY = "test-only-secret-key"  # noqa: S105
    DEFAULT_MAIL_BACKEND = "memory"
    # Off by default so that stories about other things sign in with a password; the two-step
    # tests turn it on (tests/accounts/test_two_step.py). Anyone enrolled is asked regardless.
    DEFAULT_MFA_REQUIRED = False

    def __init__(self) -> None:
        super().__init__()
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(
            _env("TEST_DATABASE_URL") or _env("DATABASE_URL") or "sqlite:///" + str(self.INSTANCE_DIR / "test.sqlite3")
        )
        # Argon2 at production cost would make the suite crawl; tests check behaviour, not cost.
        self.ARGON2_TIME_COST = 1
        self.ARGON2_MEMORY_COST = 1024
        self.ARGON2_PARALLELISM = 1
        self.RATELIMIT_STORAGE_URI = "memory://"
        self.JOBS_BACKEND = _env("JOBS_BACKEND", "sync")
        # Every test signs in from 127.0.0.1; the rate-limit test lowers this itself.
        self.LOGIN_RATE_LIMIT = _env("LOGIN_RATE_LIMIT", "1000 per minute")
        # The API's rate-limit test lowers this itself; the schema fuzzing must not hit it.
        self.API_RATE_LIMIT = _env("API_RATE_LIMIT", "100000 per minute")


class ProductionConfig(BaseConfig):
    ENV_NAME = "production"
    DEFAULT_DATABASE_URL = None
    DEFAULT_MAIL_BACKEND = "smtp"
    DEFAULT_FORCE_HTTPS = True

    def validate(self) -> None:
        super().validate()
        missing = [
            name
            for name, value in (
                ("SECRET_KEY", self.SECRET_KEY),
                ("DATABASE_URL", self.SQLALCHEMY_DATABASE_URI),
            )
            if not value
        ]
        if missing:
            raise ConfigurationError("Production settings need these environment variables: " + ", ".join(missing))
        if len(self.SECRET_KEY) < 32:
            raise ConfigurationError("SECRET_KEY must be at least 32 characters in production")


CONFIGS: dict[str, type[BaseConfig]] = {
    "development": DevelopmentConfig,
    "test": TestConfig,
    "production": ProductionConfig,
}


def normalise_database_url(url: str | None) -> str | None:
    """Use psycopg 3 for PostgreSQL URLs given in the common short forms."""
    if url is None:
        return None
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_config(name: str | None = None) -> BaseConfig:
    """The settings for `name` (or PORTAL_ENV, default development), validated."""
    name = name or _env("PORTAL_ENV", "development")
    try:
        config_class = CONFIGS[name]
    except KeyError as exc:
        raise ConfigurationError(f"PORTAL_ENV must be one of {', '.join(CONFIGS)}; got {name!r}") from exc
    config = config_class()
    config.validate()
    return config
