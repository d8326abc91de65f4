"""national scale: inbox search and counts (issue 20)

Revision ID: 0034_inbox_speed
Revises: 0033_dashboard_speed
Create Date: 2026-12-07 06:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0034_inbox_speed'
down_revision = '0033_dashboard_speed'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
