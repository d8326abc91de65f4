"""national scale: sessions and dashboard (issue 20)

Revision ID: 0039_sessions_speed
Revises: 0038_safeguarding_speed
Create Date: 2026-12-07 12:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0039_sessions_speed"
down_revision = "0038_safeguarding_speed"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
