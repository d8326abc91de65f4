"""fair pay: payment controls, prompt payment, remittance details (issue 18)

Revision ID: 0020_payment_controls
Revises: 0019_safeguarding
Create Date: 2026-12-06 19:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020_payment_controls'
down_revision = '0019_safeguarding'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
