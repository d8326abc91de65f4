"""safeguarding concerns, risk that travels, release (issue 19)

Revision ID: 0019_safeguarding
Revises: 0018_outcome_rules
Create Date: 2026-12-06 19:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019_safeguarding'
down_revision = '0018_outcome_rules'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('team_manager_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_user_account_team_manager_id_user_account'), 'user_account', ['team_manager_id'], ['id'],
            ondelete='SET NULL',
        )

    op.create_table('safeguarding_concern',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('open', 'acknowledged', 'closed', name='concernstatus', native_enum=False, create_constraint=False, length=32), nullable=False),
    sa.Column('category', sa.Enum('child_protection', 'domestic_abuse', 'adult_at_risk', 'self_harm', 'risk_to_public', 'risk_to_staff', 'exploitation', 'other', name='concerncategory', native_enum=False, create_constraint=False, length=32), nullable=False),
    sa.Column('urgency', sa.Enum('urgent', 'standard', name='urgency', native_enum=False, create_constraint=False, length=32), nullable=False),
    sa.Column('what_happened', sa.Text(), nullable=False),
    sa.Column('told_mash', sa.Boolean(), nullable=False),
    sa.Column('told_police', sa.Boolean(), nullable=False),
    sa.Column('told_responsible_officer', sa.Boolean(), nullable=False),
    sa.Column('told_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rosh_high', sa.Boolean(), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('raised_by_id', sa.Integer(), nullable=False),
    sa.Column('acknowledge_due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalated_to_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.Enum('no_further_action', 'risk_plan_updated', 'referred_to_childrens_services', 'referred_to_adult_social_care', 'police_action', 'enforcement_or_recall', 'transferred_to_nps', 'other', name='concernoutcome', native_enum=False, create_constraint=False, length=32), nullable=True),
    sa.Column('outcome_detail', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['acknowledged_by_id'], ['user_account.id'], name=op.f('fk_safeguarding_concern_acknowledged_by_id_user_account')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['user_account.id'], name=op.f('fk_safeguarding_concern_closed_by_id_user_account')),
    sa.ForeignKeyConstraint(['escalated_to_id'], ['user_account.id'], name=op.f('fk_safeguarding_concern_escalated_to_id_user_account')),
    sa.ForeignKeyConstraint(['raised_by_id'], ['user_account.id'], name=op.f('fk_safeguarding_concern_raised_by_id_user_account')),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_safeguarding_concern_referral_id_referral')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_safeguarding_concern'))
    )
    with op.batch_alter_table('safeguarding_concern', schema=None) as batch_op:
        batch_op.create_index('ix_safeguarding_concern_due', ['status', 'acknowledge_due_at'], unique=False)
        batch_op.create_index('ix_safeguarding_concern_referral', ['referral_id', 'status'], unique=False)

    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reception_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('release_type', sa.Enum('conditional_release', 'home_detention_curfew', 'parole', 'end_of_sentence', 'remand', 'other', name='releasetype', native_enum=False, create_constraint=False, length=32), nullable=True))

    op.create_table('release_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('released_on', sa.Date(), nullable=False),
    sa.Column('release_type', sa.Enum('conditional_release', 'home_detention_curfew', 'parole', 'end_of_sentence', 'remand', 'other', name='releasetype', native_enum=False, create_constraint=False, length=32), nullable=False),
    sa.Column('prison', sa.String(length=60), nullable=True),
    sa.Column('community_office', sa.String(length=100), nullable=False),
    sa.Column('address_area', sa.String(length=10), nullable=True),
    sa.Column('first_night', sa.Enum('own_tenancy', 'family_or_friends', 'supported_housing', 'approved_premises', 'temporary', 'no_fixed_abode', name='firstnight', native_enum=False, create_constraint=False, length=32), nullable=False),
    sa.Column('first_night_address', sa.Text(), nullable=True),
    sa.Column('id_held', sa.Boolean(), nullable=False),
    sa.Column('bank_account', sa.Boolean(), nullable=False),
    sa.Column('benefit_claim', sa.Boolean(), nullable=False),
    sa.Column('gp_registered', sa.Boolean(), nullable=False),
    sa.Column('met_at_gate', sa.Boolean(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'], name=op.f('fk_release_record_recorded_by_id_user_account')),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_release_record_referral_id_referral')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_release_record')),
    sa.UniqueConstraint('referral_id', name=op.f('uq_release_record_referral_id'))
    )
    with op.batch_alter_table('release_record', schema=None) as batch_op:
        batch_op.create_index('ix_release_record_released_on', ['released_on'], unique=False)

    op.create_table('risk_summary',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('referral_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('at_risk', sa.JSON(), nullable=False),
    sa.Column('nature', sa.Text(), nullable=False),
    sa.Column('when_greatest', sa.Text(), nullable=True),
    sa.Column('protective_factors', sa.Text(), nullable=True),
    sa.Column('police_da_check', sa.Enum('not_requested', 'requested', 'nothing_known', 'information_shared', name='checkstatus', native_enum=False, create_constraint=False, length=32), nullable=False),
    sa.Column('police_da_check_on', sa.Date(), nullable=True),
    sa.Column('childrens_services_check', sa.Enum('not_requested', 'requested', 'nothing_known', 'information_shared', name='checkstatus', native_enum=False, create_constraint=False, length=32), nullable=False),
    sa.Column('childrens_services_check_on', sa.Date(), nullable=True),
    sa.Column('mappa', sa.Boolean(), nullable=False),
    sa.Column('iom', sa.Boolean(), nullable=False),
    sa.Column('lone_working_restrictions', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'], name=op.f('fk_risk_summary_recorded_by_id_user_account')),
    sa.ForeignKeyConstraint(['referral_id'], ['referral.id'], name=op.f('fk_risk_summary_referral_id_referral')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_summary')),
    sa.UniqueConstraint('referral_id', 'number', name=op.f('uq_risk_summary_referral_id_number'))
    )


def downgrade():
    op.drop_table('risk_summary')
    with op.batch_alter_table('release_record', schema=None) as batch_op:
        batch_op.drop_index('ix_release_record_released_on')

    op.drop_table('release_record')
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_column('release_type')
        batch_op.drop_column('reception_date')
    with op.batch_alter_table('safeguarding_concern', schema=None) as batch_op:
        batch_op.drop_index('ix_safeguarding_concern_referral')
        batch_op.drop_index('ix_safeguarding_concern_due')

    op.drop_table('safeguarding_concern')
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_user_account_team_manager_id_user_account'), type_='foreignkey')
        batch_op.drop_column('team_manager_id')
