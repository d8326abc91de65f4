"""named services follow-up (issue 15)

Revision ID: 0025_services_follow_up
Revises: 0024_scale_lists
Create Date: 2026-12-06 22:40:03

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0025_services_follow_up'
down_revision = '0024_scale_lists'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
