"""national scale: the home pages (issue 20)

Two small partial indexes for the home pages' counts (portal/main/work_items.py), each holding only
the rows a count looks for:

- ix_alert_unacknowledged: alerts not yet acknowledged, by referral. A referrer's "alerts to
  acknowledge" read every alert (a hundred thousand) to find a few dozen open ones.
- ix_outcome_previous_claim: claims that follow a rejected one, by the claim they follow. "Rejected,
  to claim again or withdraw" (a caseworker's home, the rejected claims queue) read every outcome
  to learn which rejected claims were claimed again; now each is one probe.

Revision ID: 0037_home_speed
Revises: 0036_contract_pages
Create Date: 2026-12-07 12:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0037_home_speed"
down_revision = "0036_contract_pages"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_alert_unacknowledged",
        "alert",
        ["referral_id"],
        unique=False,
        postgresql_where=sa.text("acknowledged_at IS NULL"),
        sqlite_where=sa.text("acknowledged_at IS NULL"),
    )
    op.create_index(
        "ix_outcome_previous_claim",
        "outcome",
        ["previous_claim_id"],
        unique=False,
        postgresql_where=sa.text("previous_claim_id IS NOT NULL"),
        sqlite_where=sa.text("previous_claim_id IS NOT NULL"),
    )


def downgrade():
    op.drop_index("ix_outcome_previous_claim", table_name="outcome")
    op.drop_index("ix_alert_unacknowledged", table_name="alert")
