"""national scale: SQL aggregates for dashboards and returns (issue 20)

Revision ID: 0023_scale_aggregates
Revises: 0022_action_plans
Create Date: 2026-12-06 22:40:01

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023_scale_aggregates'
down_revision = '0022_action_plans'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
