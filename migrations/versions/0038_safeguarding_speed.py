"""national scale: safeguarding lists (issue 20)

Revision ID: 0038_safeguarding_speed
Revises: 0037_home_speed
Create Date: 2026-12-07 12:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0038_safeguarding_speed"
down_revision = "0037_home_speed"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
