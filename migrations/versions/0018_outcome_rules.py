"""outcome types carry a rule; a credited outcome is credited (issue 15)

Revision ID: 0018_outcome_rules
Revises: 0017_services_and_places
Create Date: 2026-12-06 19:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018_outcome_rules'
down_revision = '0017_services_and_places'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outcome_type', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome_from', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('outcome_earliest_days', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('outcome_latest_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('max_per_referral', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('evidence_required', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('recorded_unpaid', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))

    with op.batch_alter_table('outcome', schema=None) as batch_op:
        batch_op.add_column(sa.Column('credited_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('credited_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_outcome_credited_by_id_user_account'), 'user_account', ['credited_by_id'], ['id']
        )

    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_contact_on', sa.Date(), nullable=True))

    # Fill in existing referrals: the London calendar day of their first contact.
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    london = ZoneInfo("Europe/London")
    connection = op.get_bind()
    referral = sa.table("referral", sa.column("id", sa.Integer), sa.column("first_contact_at", sa.DateTime),
                        sa.column("first_contact_on", sa.Date))
    for referral_id, first_contact_at in connection.execute(
            sa.select(referral.c.id, referral.c.first_contact_at)
            .where(referral.c.first_contact_at.is_not(None))).all():
        if isinstance(first_contact_at, str):
            first_contact_at = datetime.fromisoformat(first_contact_at)
        if first_contact_at.tzinfo is None:
            first_contact_at = first_contact_at.replace(tzinfo=UTC)
        connection.execute(sa.update(referral).where(referral.c.id == referral_id)
                           .values(first_contact_on=first_contact_at.astimezone(london).date()))

    # Outcomes taken off an approved credit note that does not re-bill them were credited.
    op.execute(
        "UPDATE outcome SET status = 'credited' WHERE status = 'verified' AND id IN ("
        " SELECT e.outcome_id FROM invoice_event e JOIN invoice n ON n.id = e.credited_by_id"
        " WHERE e.outcome_id IS NOT NULL AND n.status IN ('approved', 'paid') AND NOT n.rebill)"
    )


def downgrade():
    op.execute("UPDATE outcome SET status = 'verified' WHERE status = 'credited'")
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_column('first_contact_on')

    with op.batch_alter_table('outcome', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outcome_credited_by_id_user_account'), type_='foreignkey')
        batch_op.drop_column('credited_by_id')
        batch_op.drop_column('credited_at')

    with op.batch_alter_table('outcome_type', schema=None) as batch_op:
        batch_op.drop_column('version')
        batch_op.drop_column('recorded_unpaid')
        batch_op.drop_column('evidence_required')
        batch_op.drop_column('max_per_referral')
        batch_op.drop_column('outcome_latest_days')
        batch_op.drop_column('outcome_earliest_days')
        batch_op.drop_column('outcome_from')
