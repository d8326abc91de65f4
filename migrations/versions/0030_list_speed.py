"""national scale: invoices, inbox and sessions lists (issue 20)

Revision ID: 0030_list_speed
Revises: 0029_dashboard_summaries
Create Date: 2026-12-07 02:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0030_list_speed'
down_revision = '0029_dashboard_summaries'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
