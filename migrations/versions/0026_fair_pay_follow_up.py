"""fair pay follow-up (issue 18)

Revision ID: 0026_fair_pay_follow_up
Revises: 0025_services_follow_up
Create Date: 2026-12-06 22:40:04

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0026_fair_pay_follow_up'
down_revision = '0025_services_follow_up'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
