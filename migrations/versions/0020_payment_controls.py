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
    op.create_table(
        'remittance_details',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('account_name', sa.String(length=70), nullable=True),
        sa.Column('sort_code', sa.String(length=6), nullable=True),
        sa.Column('account_number', sa.String(length=8), nullable=True),
        sa.Column('bank_confirmed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('bank_confirmed_by_id', sa.Integer(), nullable=True),
        sa.Column('remittance_email', sa.String(length=254), nullable=True),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['bank_confirmed_by_id'], ['user_account.id'],
            name=op.f('fk_remittance_details_bank_confirmed_by_id_user_account'),
        ),
        sa.ForeignKeyConstraint(
            ['organisation_id'], ['organisation.id'], name=op.f('fk_remittance_details_organisation_id_organisation')
        ),
        sa.ForeignKeyConstraint(
            ['updated_by_id'], ['user_account.id'], name=op.f('fk_remittance_details_updated_by_id_user_account')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_remittance_details')),
        sa.UniqueConstraint('organisation_id', name=op.f('uq_remittance_details_organisation_id')),
    )
    op.create_table(
        'bank_details_change',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('account_name', sa.String(length=70), nullable=False),
        sa.Column('sort_code', sa.String(length=6), nullable=False),
        sa.Column('account_number', sa.String(length=8), nullable=False),
        sa.Column('status', sa.String(length=32), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('rejection_reason', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['decided_by_id'], ['user_account.id'], name=op.f('fk_bank_details_change_decided_by_id_user_account')
        ),
        sa.ForeignKeyConstraint(
            ['organisation_id'], ['organisation.id'], name=op.f('fk_bank_details_change_organisation_id_organisation')
        ),
        sa.ForeignKeyConstraint(
            ['requested_by_id'], ['user_account.id'], name=op.f('fk_bank_details_change_requested_by_id_user_account')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_details_change')),
    )
    op.create_index(
        op.f('ix_bank_details_change_organisation_id'), 'bank_details_change', ['organisation_id'], unique=False
    )
    op.create_index(
        'uq_bank_details_change_one_pending',
        'bank_details_change',
        ['organisation_id'],
        unique=True,
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        'contract_purchase_order',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('contract_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(length=40), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['contract_id'], ['contract.id'], name=op.f('fk_contract_purchase_order_contract_id_contract')
        ),
        sa.ForeignKeyConstraint(
            ['updated_by_id'], ['user_account.id'], name=op.f('fk_contract_purchase_order_updated_by_id_user_account')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_contract_purchase_order')),
        sa.UniqueConstraint('contract_id', name=op.f('uq_contract_purchase_order_contract_id')),
    )
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
        # The bank account, remittance email and purchase order as they were when it was issued.
        batch.add_column(sa.Column('remittance', sa.JSON(), nullable=True))
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
    op.drop_table('contract_purchase_order')
    op.drop_index('uq_bank_details_change_one_pending', table_name='bank_details_change')
    op.drop_index(op.f('ix_bank_details_change_organisation_id'), table_name='bank_details_change')
    op.drop_table('bank_details_change')
    op.drop_table('remittance_details')
    with op.batch_alter_table('invoice') as batch:
        batch.drop_column('remittance')
        batch.drop_column('paid_late')
        batch.drop_column('days_to_pay')
        batch.drop_column('payment_reference')
        batch.drop_column('early_reason')
        batch.drop_column('days_held')
        batch.drop_column('received_on')
