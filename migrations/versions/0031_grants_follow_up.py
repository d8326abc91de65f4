"""grants paid by schedule in the demo, volumes (issue 18)

Revision ID: 0031_grants_follow_up
Revises: 0030_list_speed
Create Date: 2026-12-07 02:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0031_grants_follow_up'
down_revision = '0030_list_speed'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
