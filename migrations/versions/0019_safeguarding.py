"""safeguarding concerns, risk that travels, release (issue 19)

Revision ID: 0019_safeguarding
Revises: 0018_outcome_rules
Create Date: 2026-12-06 19:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019_safeguarding'
down_revision = '0018_outcome_rules'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
