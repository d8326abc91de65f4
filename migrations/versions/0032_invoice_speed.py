"""national scale: the invoice page, its lines and the draft invoice (issue 20)

A draft keeps the work no price covers as its generation found it (`unpriced_count` and the
first rows in `unpriced`), beside the lines it keeps already, so its page does not run the
billing rules over the contract's whole history on every view. NULL on invoices generated
before this migration: their page works it out from the records, as before.

The draft itself reads only work not yet billed: each session carries two billed marks, kept as
invoices go live and stop being live (portal.invoicing.billing.refresh_billed_marks), back-filled
here from the live events: `billed` (a live event of a per-session or per-hour item names the
session) and `rar_billed` (a live RAR day names it), each with a partial index of the sessions it
leaves. Only sessions a live event names are marked: those are locked against edits, so a mark
goes stale only when its event stops being live, where it is refreshed.

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


# The billed marks as the live events say, for every session (also bench/scale.py's, after its load).
MARK_BILLED = """
UPDATE delivery_session SET billed = {true} WHERE id IN (
    SELECT e.session_id FROM invoice_event e JOIN rate_card_item i ON i.id = e.item_id
    WHERE e.live = {true} AND e.session_id IS NOT NULL AND i.unit IN ('per_session', 'per_hour'))
"""
MARK_RAR_BILLED = """
UPDATE delivery_session SET rar_billed = {true} WHERE id IN (
    SELECT e.session_id FROM invoice_event e JOIN rate_card_item i ON i.id = e.item_id
    WHERE e.live = {true} AND e.session_id IS NOT NULL AND i.unit = 'per_rar_day')
"""


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
    with op.batch_alter_table('delivery_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('billed', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('rar_billed', sa.Boolean(), server_default=sa.false(), nullable=False))
    true = 'true' if op.get_bind().dialect.name == 'postgresql' else '1'
    op.execute(MARK_BILLED.format(true=true))
    op.execute(MARK_RAR_BILLED.format(true=true))
    op.create_index(
        'ix_delivery_session_unbilled',
        'delivery_session',
        ['referral_id', 'date'],
        unique=False,
        postgresql_where=sa.text('NOT billed'),
        sqlite_where=sa.text('billed = 0'),
    )
    op.create_index(
        'ix_delivery_session_rar_unbilled',
        'delivery_session',
        ['referral_id', 'date'],
        unique=False,
        postgresql_where=sa.text('counts_as_rar_day AND NOT rar_billed'),
        sqlite_where=sa.text('counts_as_rar_day = 1 AND rar_billed = 0'),
    )


def downgrade():
    op.drop_index('ix_delivery_session_rar_unbilled', table_name='delivery_session')
    op.drop_index('ix_delivery_session_unbilled', table_name='delivery_session')
    with op.batch_alter_table('delivery_session', schema=None) as batch_op:
        batch_op.drop_column('rar_billed')
        batch_op.drop_column('billed')
    op.drop_index('ix_invoice_event_live_outcome', table_name='invoice_event')
    op.create_index('ix_invoice_event_line', 'invoice_event', ['line_id'], unique=False)
    op.drop_index('ix_invoice_event_line_order', table_name='invoice_event')
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.drop_column('unpriced')
        batch_op.drop_column('unpriced_count')
