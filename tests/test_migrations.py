"""The schema is built only by Alembic migrations, and they agree with the models."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from portal.extensions import db


def test_migrations_build_exactly_the_schema_the_models_describe(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == [], f"models and migrations disagree: {differences}"


def test_migrations_downgrade_to_nothing_and_upgrade_again(app):
    downgrade(revision="base")
    db.session.remove()
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade()
    assert {"organisation", "user_account", "audit_event", "outbound_email"} <= set(
        inspect(db.engine).get_table_names()
    )


def test_the_database_refuses_a_row_that_points_at_nothing(app):
    """SQLite ignores foreign keys unless asked on every connection: the embedded database is asked,
    so it refuses (and cascades) as PostgreSQL does."""
    with pytest.raises(IntegrityError):
        db.session.execute(
            text(
                "INSERT INTO digest_item (user_id, created_at, event, subject, url) "
                "VALUES (999999, CURRENT_TIMESTAMP, 'e', 's', '/')"
            )
        )
    db.session.rollback()
