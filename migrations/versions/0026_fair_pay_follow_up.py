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
    with op.batch_alter_table('grant_instalment') as batch:
        # A rejected instalment keeps its period (and history); its replacement takes the period
        # again, so only instalments not rejected are one to a period (the index below).
        batch.drop_constraint('uq_grant_instalment_contract_id_period_start', type_='unique')
        batch.add_column(sa.Column('replaces_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f('fk_grant_instalment_replaces_id_grant_instalment'), 'grant_instalment', ['replaces_id'], ['id']
        )
        # The bank account, remittance email and purchase order as they were when it was raised.
        batch.add_column(sa.Column('remittance', sa.JSON(), nullable=True))
    op.create_index(
        'uq_grant_instalment_live_period',
        'grant_instalment',
        ['contract_id', 'period_start'],
        unique=True,
        postgresql_where=sa.text("status != 'rejected'"),
        sqlite_where=sa.text("status != 'rejected'"),
    )
    # Expected starts are now changed one month and service at a time (page and API): the version
    # tells a stale change from a fresh one.
    with op.batch_alter_table('expected_starts') as batch:
        batch.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))


def downgrade():
    with op.batch_alter_table('expected_starts') as batch:
        batch.drop_column('version')
    op.drop_index('uq_grant_instalment_live_period', table_name='grant_instalment')
    # Replacements cannot outlive the constraint that forbade them.
    op.execute("DELETE FROM grant_instalment WHERE replaces_id IS NOT NULL")
    with op.batch_alter_table('grant_instalment') as batch:
        batch.drop_column('remittance')
        batch.drop_constraint('fk_grant_instalment_replaces_id_grant_instalment', type_='foreignkey')
        batch.drop_column('replaces_id')
        batch.create_unique_constraint(
            'uq_grant_instalment_contract_id_period_start', ['contract_id', 'period_start']
        )
