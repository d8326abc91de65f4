"""national scale: invoices, inbox and sessions lists (issue 20)

Revision ID: 0030_list_speed
Revises: 0029_dashboard_summaries
Create Date: 2026-12-07 02:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0030_list_speed'
down_revision = '0029_dashboard_summaries'
branch_labels = None
depends_on = None

# The inbox's name search (portal/list_indexes.py: PERSON_NAME): "given family", lower-cased.
PERSON_NAME = "lower((given_name || ' ') || family_name)"


# The inbox's tab counts, from the index alone (portal/list_indexes.py).
INDEXES = (
    ('ix_referral_contract_status_caseworker', 'referral', ['contract_id', 'status', 'caseworker_id']),
    ('ix_referral_crc_status_referrer', 'referral', ['crc_id', 'status', 'referrer_id']),
    ('ix_person_crn', 'person', ['crn']),
)


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)
    # A caseworker's sessions awaiting feedback: those with no attendance yet.
    op.create_index(
        'ix_delivery_session_unrecorded',
        'delivery_session',
        ['referral_id', 'date'],
        unique=False,
        postgresql_where=sa.text('attendance IS NULL'),
        sqlite_where=sa.text('attendance IS NULL'),
    )
    if op.get_bind().dialect.name == 'postgresql':
        # A name anywhere in "given family": `LIKE '%term%'` answered by trigrams rather than by
        # reading every person. pg_trgm is a trusted extension (PostgreSQL 13+): the database's
        # owner may create it. SQLite keeps reading every name, which at its sizes is quick.
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.execute(f'CREATE INDEX ix_person_name_trgm ON person USING gin (({PERSON_NAME}) gin_trgm_ops)')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX IF EXISTS ix_person_name_trgm')
    op.drop_index('ix_delivery_session_unrecorded', table_name='delivery_session')
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
