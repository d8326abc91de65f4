"""contracts cover counties and prisons as place records (issue 15)

Revision ID: 0028_contract_places
Revises: 0027_peppol_participant_id
Create Date: 2026-12-07 02:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0028_contract_places'
down_revision = '0027_peppol_participant_id'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
