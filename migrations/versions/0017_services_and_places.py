"""services as records, eligibility, prisons/counties/probation offices as reference data (issue 15)

Revision ID: 0017_services_and_places
Revises: 0016_billing_rules
Create Date: 2026-12-06 19:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017_services_and_places'
down_revision = '0016_billing_rules'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
