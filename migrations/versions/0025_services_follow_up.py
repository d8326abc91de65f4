"""named services follow-up (issue 15): a referral records C2C, Annex 3's third banding factor

Revision ID: 0025_services_follow_up
Revises: 0024_scale_lists
Create Date: 2026-12-06 22:40:03

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0025_services_follow_up'
down_revision = '0024_scale_lists'
branch_labels = None
depends_on = None


def upgrade():
    # Empty on every referral made before: the band suggestion reads unknown C2C as low, as it did.
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.add_column(sa.Column('c2c', sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_column('c2c')
