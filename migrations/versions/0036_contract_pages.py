"""national scale: contracts, returns and other lists (issue 20)

Revision ID: 0036_contract_pages
Revises: 0035_invoice_pages
Create Date: 2026-12-07 06:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0036_contract_pages'
down_revision = '0035_invoice_pages'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
