"""national scale: the invoice page, its lines and the draft invoice (issue 20)

A draft keeps the work no price covers as its generation found it (`unpriced_count` and the
first rows in `unpriced`), beside the lines it keeps already, so its page does not run the
billing rules over the contract's whole history on every view. NULL on invoices generated
before this migration: their page works it out from the records, as before.

A line's events are paged in date order (line_id, event_date, event_key, id): the index now
carries that order, so a page of a 30,000-event line is an index range, not a sort. It replaces
the index on line_id alone, which it serves as well. Whether an outcome is billed is answered
from a partial index of live outcomes' events (about 60,000 of 2 million events).

Revision ID: 0032_invoice_speed
Revises: 0031_grants_follow_up
Create Date: 2026-12-07 02:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0032_invoice_speed'
down_revision = '0031_grants_follow_up'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unpriced_count', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('unpriced', sa.JSON(), nullable=True))
    op.create_index(
        'ix_invoice_event_line_order', 'invoice_event', ['line_id', 'event_date', 'event_key', 'id'], unique=False
    )
    op.drop_index('ix_invoice_event_line', table_name='invoice_event')
    op.create_index(
        'ix_invoice_event_live_outcome',
        'invoice_event',
        ['outcome_id'],
        unique=False,
        postgresql_where=sa.text('live AND outcome_id IS NOT NULL'),
        sqlite_where=sa.text('live = 1 AND outcome_id IS NOT NULL'),
    )


def downgrade():
    op.drop_index('ix_invoice_event_live_outcome', table_name='invoice_event')
    op.create_index('ix_invoice_event_line', 'invoice_event', ['line_id'], unique=False)
    op.drop_index('ix_invoice_event_line_order', table_name='invoice_event')
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.drop_column('unpriced')
        batch_op.drop_column('unpriced_count')
