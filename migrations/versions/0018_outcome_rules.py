"""outcome types carry a rule; a credited outcome is credited (issue 15)

Revision ID: 0018_outcome_rules
Revises: 0017_services_and_places
Create Date: 2026-12-06 19:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018_outcome_rules'
down_revision = '0017_services_and_places'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
