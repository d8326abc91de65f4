"""national scale: a stamp for each table the figures count (issue 20)

Migrations 0039 and 0041 gave the figures one stamp, renewed by a write to any of their tables. A
partner recording a session therefore made every remembered figure be counted again, though most
(the referrals', the invoices', the volumes') read no session: with one session booked every ten
seconds, the dashboard's summary for the whole CRC was counted afresh on most visits (p95 230 ms
in the load test, against 60 without writes). Now `figures_stamp` holds one token for each table,
renewed by a write to that table only, and each remembered part is keyed by the tokens of the
tables it reads (portal/figure_cache.py).

Two transactions renewing two tables' tokens must not wait on each other in opposite orders (a
deadlock): the first renewal of a transaction locks every token, always in the same order, before
it renews its own; the locks are taken at commit, as before, and held only while it commits.

Revision ID: 0042_figures_by_table
Revises: 0041_all_figures_remembered
Create Date: 2026-12-07 19:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0042_figures_by_table"
down_revision = "0041_all_figures_remembered"
branch_labels = None
depends_on = None

# As portal.figure_cache.FIGURE_TABLES when this was written (0039's thirteen and 0041's four).
TABLES = (
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
EVENTS = ("insert", "update", "delete")

RENEW_POSTGRESQL = """
    CREATE OR REPLACE FUNCTION figures_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- Once a transaction for each table: its first change to reach here (at commit).
        IF current_setting('portal.figures_changed_' || TG_TABLE_NAME, true)
                IS DISTINCT FROM txid_current()::text THEN
            -- Every token locked at once, in one order, before the first is renewed: two
            -- transactions renewing different tables' tokens never wait on each other crosswise.
            IF current_setting('portal.figures_locked', true) IS DISTINCT FROM txid_current()::text THEN
                PERFORM 1 FROM figures_stamp ORDER BY table_name FOR UPDATE;
                PERFORM set_config('portal.figures_locked', txid_current()::text, true);
            END IF;
            INSERT INTO figures_stamp (table_name, token) VALUES (TG_TABLE_NAME, gen_random_uuid()::text)
            ON CONFLICT (table_name) DO UPDATE SET token = EXCLUDED.token;
            PERFORM set_config('portal.figures_changed_' || TG_TABLE_NAME, txid_current()::text, true);
        END IF;
        RETURN NULL;
    END $$
"""
# 0039's, for the way back.
RENEW_ONE_POSTGRESQL = """
    CREATE OR REPLACE FUNCTION figures_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- Once a transaction: its first change to reach here (at commit) renews the token.
        IF current_setting('portal.figures_changed_in', true) IS DISTINCT FROM txid_current()::text THEN
            INSERT INTO figures_stamp (id, token) VALUES (1, gen_random_uuid()::text)
            ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token;
            PERFORM set_config('portal.figures_changed_in', txid_current()::text, true);
        END IF;
        RETURN NULL;
    END $$
"""


def _renew_sqlite(table: str) -> str:
    # SQLite has one writer at a time: no lock order to keep.
    return (
        f"INSERT INTO figures_stamp (table_name, token) VALUES ('{table}', lower(hex(randomblob(16)))) "
        "ON CONFLICT (table_name) DO UPDATE SET token = excluded.token;"
    )


RENEW_ONE_SQLITE = (
    "INSERT INTO figures_stamp (id, token) VALUES (1, lower(hex(randomblob(16)))) "
    "ON CONFLICT (id) DO UPDATE SET token = excluded.token;"
)


def _sqlite_triggers(body) -> None:  # type: ignore[no-untyped-def]
    for table in TABLES:
        for event in EVENTS:
            op.execute(f"DROP TRIGGER tr_{table}_figures_{event}")
            op.execute(f"CREATE TRIGGER tr_{table}_figures_{event} AFTER {event.upper()} ON {table} BEGIN {body(table)} END")


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.drop_table("figures_stamp")
    op.create_table(
        "figures_stamp",
        sa.Column("table_name", sa.String(length=63), nullable=False),
        sa.Column("token", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("table_name", name=op.f("pk_figures_stamp")),
    )
    random = "gen_random_uuid()::text" if postgresql else "lower(hex(randomblob(16)))"
    for table in TABLES:
        op.execute(f"INSERT INTO figures_stamp (table_name, token) VALUES ('{table}', {random})")
    if postgresql:
        op.execute(RENEW_POSTGRESQL)  # the triggers call it by name: they stay as they are
    else:
        _sqlite_triggers(_renew_sqlite)


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.drop_table("figures_stamp")
    op.create_table(
        "figures_stamp",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("token", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_figures_stamp")),
    )
    random = "gen_random_uuid()::text" if postgresql else "lower(hex(randomblob(16)))"
    op.execute(f"INSERT INTO figures_stamp (id, token) VALUES (1, {random})")
    if postgresql:
        op.execute(RENEW_ONE_POSTGRESQL)
    else:
        _sqlite_triggers(lambda table: RENEW_ONE_SQLITE)
