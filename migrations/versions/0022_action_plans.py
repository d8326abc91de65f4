"""action plans and progress reviews (issue 19)

Revision ID: 0022_action_plans
Revises: 0021_grants_and_volumes
Create Date: 2026-12-06 22:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022_action_plans'
down_revision = '0021_grants_and_volumes'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
