"""national scale: every figure remembered until its records change (issue 20)

Migration 0039 stamped the tables the dashboard's summary and by-contract part count. The other
figures (every figure of a period, the charts, the equality tables, a return not yet submitted)
also read the people starting (their gender, ethnicity, age and disability), safeguarding concerns,
releases from custody and grant activity. Those four tables get the same triggers, so those figures
can be remembered as the summary is (portal/figure_cache.py): a draft return of the largest
contract was 25 queries and 170 ms of SQL on every visit at national scale.

Revision ID: 0041_all_figures_remembered
Revises: 0040_my_sessions
Create Date: 2026-12-07 16:00:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0041_all_figures_remembered"
down_revision = "0040_my_sessions"
branch_labels = None
depends_on = None

# Added to portal.figure_cache.FIGURE_TABLES (0039 has the first thirteen and the function).
ADDED = ("grant_activity", "person", "release_record", "safeguarding_concern")
RENEW_SQLITE = (
    "INSERT INTO figures_stamp (id, token) VALUES (1, lower(hex(randomblob(16)))) "
    "ON CONFLICT (id) DO UPDATE SET token = excluded.token;"
)
EVENTS = ("insert", "update", "delete")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in ADDED:
            op.execute(
                f"CREATE CONSTRAINT TRIGGER tr_{table}_figures_changed AFTER INSERT OR UPDATE OR DELETE ON {table} "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION figures_changed()"
            )
            op.execute(
                f"CREATE TRIGGER tr_{table}_figures_truncated AFTER TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION figures_changed()"
            )
    else:
        for table in ADDED:
            for event in EVENTS:
                op.execute(
                    f"CREATE TRIGGER tr_{table}_figures_{event} AFTER {event.upper()} ON {table} "
                    f"BEGIN {RENEW_SQLITE} END"
                )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in ADDED:
            op.execute(f"DROP TRIGGER tr_{table}_figures_truncated ON {table}")
            op.execute(f"DROP TRIGGER tr_{table}_figures_changed ON {table}")
    else:
        for table in ADDED:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER tr_{table}_figures_{event}")
