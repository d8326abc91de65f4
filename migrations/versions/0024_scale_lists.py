"""national scale: keyset pagination and streamed exports (issue 20)

Revision ID: 0024_scale_lists
Revises: 0023_scale_aggregates
Create Date: 2026-12-06 22:40:02

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0024_scale_lists'
down_revision = '0023_scale_aggregates'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
