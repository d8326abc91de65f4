"""national scale: safeguarding lists (issue 20)

A safeguarding concern carries its referral's contract (`contract_id`, a copy: see
portal.delivery.models.contract_copy; portal.integrity checks it never differs), back-filled here
from the referrals. Who may see a concern is then decided by that column (portal.access), so the
list of a partner's concerns is narrowed from the concern's own rows: before, each concern was
tested against the partner's referrals after the page's joins, and the fewer of the CRC's concerns
a partner had, the more of them were joined and thrown away (120 ms for the smallest partner at
200,000 referrals). `ix_safeguarding_concern_contract_status_due` finds a partner's concerns, in a
status, in deadline order, and counts them from the index alone.

On PostgreSQL the table is vacuumed and analysed afterwards (outside the transaction): an
index-only count needs the pages marked all-visible again after the update.

Revision ID: 0038_safeguarding_speed
Revises: 0037_home_speed
Create Date: 2026-12-07 12:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0038_safeguarding_speed"
down_revision = "0037_home_speed"
branch_labels = None
depends_on = None


INDEX = "ix_safeguarding_concern_contract_status_due"
COLUMNS = ["contract_id", "status", "acknowledge_due_at", "id"]


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("safeguarding_concern", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contract_id", sa.Integer(), nullable=True))
    if postgresql:
        op.execute(
            "UPDATE safeguarding_concern SET contract_id = referral.contract_id "
            "FROM referral WHERE referral.id = safeguarding_concern.referral_id"
        )
    else:
        op.execute(
            "UPDATE safeguarding_concern SET contract_id = "
            "(SELECT referral.contract_id FROM referral WHERE referral.id = safeguarding_concern.referral_id)"
        )
    op.create_index(INDEX, "safeguarding_concern", COLUMNS, unique=False)
    if postgresql:
        with op.get_context().autocommit_block():
            op.execute("VACUUM ANALYZE safeguarding_concern")


def downgrade():
    op.drop_index(INDEX, table_name="safeguarding_concern")
    with op.batch_alter_table("safeguarding_concern", schema=None) as batch_op:
        batch_op.drop_column("contract_id")
