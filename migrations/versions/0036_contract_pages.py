"""national scale: contracts, returns and other lists (issue 20)

Starts to date by contract and service (services below plan, on the contract manager's home and a
contract's pages) and each contract's referrals to date (its volumes page) read from one index of
sent referrals (portal/figure_indexes.py, ix_referral_contract_starts), its other columns carried
along on PostgreSQL so the counts never visit the table.

Revision ID: 0036_contract_pages
Revises: 0035_invoice_pages
Create Date: 2026-12-07 06:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0036_contract_pages"
down_revision = "0035_invoice_pages"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_referral_contract_starts",
        "referral",
        ["contract_id", "service_code", "first_contact_at"],
        unique=False,
        postgresql_include=["sent_at", "accepted_on", "first_contact_due_on", "withdrawn_at", "completed_at"],
        postgresql_where=sa.text("sent_at IS NOT NULL"),
        sqlite_where=sa.text("sent_at IS NOT NULL"),
    )


def downgrade():
    op.drop_index("ix_referral_contract_starts", table_name="referral")
