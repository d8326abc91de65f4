"""national scale: the home pages (issue 20)

Indexes for the home pages' counts (portal/main/work_items.py), measured on the 200,000-referral
seed with EXPLAIN ANALYZE; the partial ones hold only the rows a count looks for:

- ix_alert_unacknowledged: alerts not yet acknowledged, by referral. A referrer's "alerts to
  acknowledge" read every alert (a hundred thousand) to find a few dozen open ones.
- ix_outcome_previous_claim: claims that follow a rejected one, by the claim they follow. "Rejected,
  to claim again or withdraw" (a caseworker's home, the rejected claims queue) read every outcome
  to learn which rejected claims were claimed again; now each is one probe.
- ix_outcome_claimed: claims waiting to be verified, by referral, and ix_referral_referrer_sent: a
  referrer's referrals with the CRC and status that say whether they still see each (INCLUDE, on
  PostgreSQL; SQLite has none, so there it is little more than ix_referral_referrer_id). A
  referrer's "outcome claims to verify" read every referral newest first to find theirs (40 ms);
  the two indexes alone now answer it (4 ms).

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
    op.create_index(
        "ix_outcome_claimed",
        "outcome",
        ["referral_id"],
        unique=False,
        postgresql_where=sa.text("status = 'claimed'"),
        sqlite_where=sa.text("status = 'claimed'"),
    )
    op.create_index(
        "ix_referral_referrer_sent",
        "referral",
        ["referrer_id", "id"],
        unique=False,
        postgresql_include=["crc_id", "status"],
    )


def downgrade():
    op.drop_index("ix_referral_referrer_sent", table_name="referral")
    op.drop_index("ix_outcome_claimed", table_name="outcome")
    op.drop_index("ix_outcome_previous_claim", table_name="outcome")
    op.drop_index("ix_alert_unacknowledged", table_name="alert")
