"""billing rules: rate-card items say which sessions they price (issue 15)

Revision ID: 0016_billing_rules
Revises: 0015_work_notifications
Create Date: 2026-12-06 19:50:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0016_billing_rules"
down_revision = "0015_work_notifications"
branch_labels = None
depends_on = None


def upgrade():
    # The session kinds a rate-card item prices, joined by "|"; empty: every kind (so the rate
    # cards of before keep billing as they did).
    with op.batch_alter_table("rate_card_item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_kinds", sa.String(length=200), server_default="", nullable=False))


def downgrade():
    with op.batch_alter_table("rate_card_item", schema=None) as batch_op:
        batch_op.drop_column("session_kinds")
