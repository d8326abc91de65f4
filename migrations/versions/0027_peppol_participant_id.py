"""organisation.peppol_id: where e-invoices reach an organisation with no VAT number (issue 18)

Revision ID: 0027_peppol_participant_id
Revises: 0026_fair_pay_follow_up
Create Date: 2026-12-06 23:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0027_peppol_participant_id'
down_revision = '0026_fair_pay_follow_up'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('peppol_id', sa.String(length=60), nullable=True))


def downgrade():
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.drop_column('peppol_id')
