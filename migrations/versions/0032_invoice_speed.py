"""national scale: the invoice page, its lines and the draft invoice (issue 20)

Revision ID: 0032_invoice_speed
Revises: 0031_grants_follow_up
Create Date: 2026-12-07 02:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0032_invoice_speed'
down_revision = '0031_grants_follow_up'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
