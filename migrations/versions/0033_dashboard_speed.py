"""national scale: dashboard figures (issue 20)

Revision ID: 0033_dashboard_speed
Revises: 0032_invoice_speed
Create Date: 2026-12-07 06:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0033_dashboard_speed'
down_revision = '0032_invoice_speed'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
