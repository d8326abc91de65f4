"""national scale: invoice pages and my sessions (issue 20)

An invoice's page lists the verified work of its month no price covers
(portal.invoicing.uncovered): whether any of the contract's referrals is on a service no item
prices is answered from an index on (contract_id, service_code), and the month's verified outcomes
achieved earlier but verified in or after the month from one on (status, verified_at).

My sessions finds a caseworker's cases (thousands for a caseworker of years) from an index on
(caseworker_id, contract_id, status, id) alone, before it looks up each case's sessions.

Revision ID: 0035_invoice_pages
Revises: 0034_inbox_speed
Create Date: 2026-12-07 06:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0035_invoice_pages'
down_revision = '0034_inbox_speed'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_referral_contract_service', 'referral', ['contract_id', 'service_code'], unique=False)
    op.create_index('ix_outcome_status_verified_at', 'outcome', ['status', 'verified_at'], unique=False)
    op.create_index(
        'ix_referral_caseworker_cases', 'referral', ['caseworker_id', 'contract_id', 'status', 'id'], unique=False
    )


def downgrade():
    op.drop_index('ix_referral_caseworker_cases', table_name='referral')
    op.drop_index('ix_outcome_status_verified_at', table_name='outcome')
    op.drop_index('ix_referral_contract_service', table_name='referral')
