"""fair pay: grants paid by a schedule of instalments, expected volumes and spend profile (issue 18)

Revision ID: 0021_grants_and_volumes
Revises: 0020_payment_controls
Create Date: 2026-12-06 19:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021_grants_and_volumes'
down_revision = '0020_payment_controls'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
