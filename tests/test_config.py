"""Configuration: chosen by PORTAL_ENV, overridden by DATABASE_URL, production refuses to run without its secrets."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import ConfigurationError, load_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def clean_env(monkeypatch):
    for name in (
        "PORTAL_ENV",
        "SECRET_KEY",
        "DATABASE_URL",
        "TEST_DATABASE_URL",
        "REDIS_URL",
        "INSTANCE_DIR",
        "API_RATE_LIMIT",
        "LOGIN_RATE_LIMIT",
        "JOBS_BACKEND",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_development_is_the_default_and_uses_sqlite_under_instance(clean_env):
    config = load_config()
    assert config.ENV_NAME == "development"
    assert config.SQLALCHEMY_DATABASE_URI.startswith("sqlite:///")
    assert config.SQLALCHEMY_DATABASE_URI.endswith("instance/portal.sqlite3")


def test_portal_env_chooses_the_settings(clean_env):
    clean_env.setenv("PORTAL_ENV", "test")
    assert load_config().ENV_NAME == "test"


def test_unknown_portal_env_is_refused_with_the_choices(clean_env):
    clean_env.setenv("PORTAL_ENV", "staging")
    with pytest.raises(ConfigurationError, match="development, test, production"):
        load_config()


@pytest.mark.parametrize("name", ["development", "test", "production"])
def test_database_url_overrides_the_database_in_every_environment(clean_env, name):
    clean_env.setenv("DATABASE_URL", "postgresql://portal@db.internal/portal")
    clean_env.setenv("SECRET_KEY", "x" * 40)
    config = load_config(name)
    assert config.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://portal@db.internal/portal"


def test_production_refuses_to_start_without_its_secrets_and_names_them(clean_env):
    with pytest.raises(ConfigurationError) as error:
        load_config("production")
    assert "SECRET_KEY" in str(error.value)
    assert "DATABASE_URL" in str(error.value)


def test_production_names_the_one_missing_variable(clean_env):
    clean_env.setenv("DATABASE_URL", "postgresql://portal@db/portal")
    with pytest.raises(ConfigurationError, match="SECRET_KEY") as error:
        load_config("production")
    assert "DATABASE_URL" not in str(error.value)


def test_production_refuses_a_short_secret_key(clean_env):
    clean_env.setenv("DATABASE_URL", "postgresql://portal@db/portal")
    clean_env.setenv("SECRET_KEY", "too-short")
    with pytest.raises(ConfigurationError, match="32 characters"):
        load_config("production")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("API_RATE_LIMIT", "lots", "API_RATE_LIMIT must read like"),
        ("LOGIN_RATE_LIMIT", "10 a minute", "LOGIN_RATE_LIMIT must read like"),
        ("JOBS_BACKEND", "celery", "JOBS_BACKEND must be rq, thread or sync"),
        ("JOBS_BACKEND", "rq", "JOBS_BACKEND=rq needs REDIS_URL"),
    ],
)
def test_a_setting_that_cannot_work_is_refused_at_start_naming_it(clean_env, variable, value, message):
    clean_env.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=message):
        load_config()


def test_several_rate_limits_are_accepted(clean_env):
    clean_env.setenv("API_RATE_LIMIT", "120 per minute;5000 per day")
    assert load_config().API_RATE_LIMIT == "120 per minute;5000 per day"


def test_production_cookies_are_secure_and_https_is_forced(clean_env):
    clean_env.setenv("DATABASE_URL", "postgresql://portal@db/portal")
    clean_env.setenv("SECRET_KEY", "s" * 40)
    config = load_config("production")
    assert config.SESSION_COOKIE_SECURE is True
    assert config.SESSION_COOKIE_HTTPONLY is True
    assert config.FORCE_HTTPS is True
    assert config.MAIL_BACKEND == "smtp"


def test_redis_url_becomes_the_rate_limit_store(clean_env):
    clean_env.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    assert load_config("development").RATELIMIT_STORAGE_URI == "redis://127.0.0.1:6379/0"


def test_gunicorn_refuses_to_start_without_production_secrets():
    """`make serve` runs gunicorn with this config: it must stop with a clear message."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "DATABASE_URL", "TEST_DATABASE_URL"}
    }
    env["PORTAL_ENV"] = "production"
    gunicorn = Path(sys.executable).parent / "gunicorn"
    result = subprocess.run(
        [str(gunicorn), "--config", "config/gunicorn.conf.py", "--check-config", "wsgi:app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr + result.stdout
    assert "DATABASE_URL" in result.stderr + result.stdout
