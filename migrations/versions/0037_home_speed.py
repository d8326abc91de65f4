"""national scale: the home pages (issue 20)

Revision ID: 0037_home_speed
Revises: 0036_contract_pages
Create Date: 2026-12-07 12:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0037_home_speed"
down_revision = "0036_contract_pages"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
