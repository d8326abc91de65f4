"""indexes for national scale: the inbox's order

Revision ID: 0014_scale_indexes
Revises: 0013_person_anonymised_at
Create Date: 2026-12-06 03:55:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_scale_indexes'
down_revision = '0013_person_anonymised_at'
branch_labels = None
depends_on = None


def upgrade():
    # Newest sent first, drafts (never sent) last, as the inbox sorts: a page reads the index in order.
    # SQLite has no NULLS LAST in an index, and needs none: it sorts NULL last in a descending order.
    nulls_last = ' NULLS LAST' if op.get_bind().dialect.name == 'postgresql' else ''
    op.create_index(
        'ix_referral_sent_at',
        'referral',
        [sa.text(f'sent_at DESC{nulls_last}'), sa.text('id DESC')],
        unique=False,
    )


def downgrade():
    op.drop_index('ix_referral_sent_at', table_name='referral')
