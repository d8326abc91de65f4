"""national scale: invoice pages and my sessions (issue 20)

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
    pass


def downgrade():
    pass
