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
    with op.batch_alter_table('invoice') as batch:
        # The London day the CRC first received it: the payment clock starts here, and is stopped
        # for `days_held` while the invoice is queried.
        batch.add_column(sa.Column('received_on', sa.Date(), nullable=True))
        batch.add_column(sa.Column('days_held', sa.Integer(), nullable=False, server_default='0'))
        # Why a month still running was invoiced before its last working day.
        batch.add_column(sa.Column('early_reason', sa.Text(), nullable=True))
        batch.add_column(sa.Column('payment_reference', sa.String(length=60), nullable=True))
        batch.add_column(sa.Column('days_to_pay', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('paid_late', sa.Boolean(), nullable=True))
    # Invoices submitted before: received on the day last submitted (their clock restarted at a
    # resubmission, so this is the best that is known), and paid ones measured from it.
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            "UPDATE invoice SET received_on = (submitted_at AT TIME ZONE 'Europe/London')::date "
            "WHERE submitted_at IS NOT NULL"
        )
        days = "paid_on - received_on"
    else:
        op.execute("UPDATE invoice SET received_on = date(submitted_at) WHERE submitted_at IS NOT NULL")
        days = "CAST(julianday(paid_on) - julianday(received_on) AS INTEGER)"
    op.execute(
        f"UPDATE invoice SET days_to_pay = {days}, paid_late = (paid_on > due_date) "
        "WHERE kind = 'invoice' AND status = 'paid' AND paid_on IS NOT NULL AND received_on IS NOT NULL "
        "AND due_date IS NOT NULL"
    )


def downgrade():
    with op.batch_alter_table('invoice') as batch:
        batch.drop_column('paid_late')
        batch.drop_column('days_to_pay')
        batch.drop_column('payment_reference')
        batch.drop_column('early_reason')
        batch.drop_column('days_held')
        batch.drop_column('received_on')
