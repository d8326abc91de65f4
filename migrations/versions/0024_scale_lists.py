"""national scale: keyset pagination and streamed exports (issue 20)

Revision ID: 0024_scale_lists
Revises: 0023_scale_aggregates
Create Date: 2026-12-06 22:40:02

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0024_scale_lists'
down_revision = '0023_scale_aggregates'
branch_labels = None
depends_on = None

# Each list's filter and order, ending in the id that breaks ties (portal/list_indexes.py): a page
# is an index scan from the cursor, however deep.
INDEXES = (
    ('ix_audit_event_occurred_at_id', 'audit_event', ['occurred_at', 'id']),
    ('ix_outcome_status_claimed_at', 'outcome', ['status', 'claimed_at', 'id']),
    ('ix_alert_raised_at', 'alert', ['raised_at', 'id']),
    ('ix_invoice_period_start_id', 'invoice', ['period_start', 'id']),
    ('ix_invoice_status_submitted_at', 'invoice', ['status', 'submitted_at', 'id']),
    ('ix_service_return_period_start_id', 'service_return', ['period_start', 'id']),
    ('ix_service_return_status_submitted_at', 'service_return', ['status', 'submitted_at', 'id']),
    ('ix_safeguarding_concern_due_id', 'safeguarding_concern', ['acknowledge_due_at', 'id']),
)


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)
    # A partner's inbox, newest sent first, drafts last. SQLite has no NULLS LAST in an index, and
    # needs none: it sorts NULL last in a descending order.
    nulls_last = ' NULLS LAST' if op.get_bind().dialect.name == 'postgresql' else ''
    op.create_index(
        'ix_referral_contract_sent_at',
        'referral',
        ['contract_id', sa.text(f'sent_at DESC{nulls_last}'), sa.text('id DESC')],
        unique=False,
    )


def downgrade():
    op.drop_index('ix_referral_contract_sent_at', table_name='referral')
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
