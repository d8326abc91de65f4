"""billing rules: rate-card items say which sessions they price (issue 15)

Revision ID: 0016_billing_rules
Revises: 0015_work_notifications
Create Date: 2026-12-06 19:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_billing_rules'
down_revision = '0015_work_notifications'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
