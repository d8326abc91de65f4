"""national scale: dashboard figures (issue 20)

Revision ID: 0029_dashboard_summaries
Revises: 0028_contract_places
Create Date: 2026-12-07 02:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0029_dashboard_summaries'
down_revision = '0028_contract_places'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
