"""action plans and progress reviews (issue 19)

Revision ID: 0022_action_plans
Revises: 0021_grants_and_volumes
Create Date: 2026-12-06 22:40:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0022_action_plans"
down_revision = "0021_grants_and_volumes"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "action_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "submitted",
                "changes_requested",
                "approved",
                "closed",
                name="planstatus",
                native_enum=False,
                create_constraint=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("activities", sa.JSON(), nullable=False),
        sa.Column("rar_days_planned", sa.Integer(), nullable=True),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edited_by_id", sa.Integer(), nullable=False),
        sa.Column("approved_number", sa.Integer(), nullable=True),
        sa.Column("approved_sessions", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["edited_by_id"], ["user_account.id"], name=op.f("fk_action_plan_edited_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(["referral_id"], ["referral.id"], name=op.f("fk_action_plan_referral_id_referral")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_plan")),
        sa.UniqueConstraint("referral_id", name=op.f("uq_action_plan_referral_id")),
    )
    with op.batch_alter_table("action_plan", schema=None) as batch_op:
        batch_op.create_index("ix_action_plan_status", ["status"], unique=False)

    op.create_table(
        "progress_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("referral_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("twelve_week", "ending", name="reviewkind", native_enum=False, create_constraint=False, length=32),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("submitted", "read", name="reviewstatus", native_enum=False, create_constraint=False, length=32),
            nullable=False,
        ),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("next_due_on", sa.Date(), nullable=False),
        sa.Column("attendance", sa.JSON(), nullable=False),
        sa.Column("outcomes", sa.JSON(), nullable=False),
        sa.Column("risk_observations", sa.Text(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_by_id", sa.Integer(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_by_id", sa.Integer(), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["read_by_id"], ["user_account.id"], name=op.f("fk_progress_review_read_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(["referral_id"], ["referral.id"], name=op.f("fk_progress_review_referral_id_referral")),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"], ["user_account.id"], name=op.f("fk_progress_review_submitted_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_review")),
        sa.UniqueConstraint("referral_id", "number", name=op.f("uq_progress_review_referral_id_number")),
    )
    with op.batch_alter_table("progress_review", schema=None) as batch_op:
        batch_op.create_index("ix_progress_review_status", ["status", "referral_id"], unique=False)

    op.create_table(
        "action_plan_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("activities", sa.JSON(), nullable=False),
        sa.Column("rar_days_planned", sa.Integer(), nullable=True),
        sa.Column("planned_sessions", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_by_id", sa.Integer(), nullable=False),
        sa.Column(
            "decision",
            sa.Enum(
                "approved", "changes_requested", name="decision", native_enum=False, create_constraint=False, length=32
            ),
            nullable=True,
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["user_account.id"], name=op.f("fk_action_plan_version_decided_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["action_plan.id"], name=op.f("fk_action_plan_version_plan_id_action_plan")
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"], ["user_account.id"], name=op.f("fk_action_plan_version_submitted_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_plan_version")),
        sa.UniqueConstraint("plan_id", "number", name=op.f("uq_action_plan_version_plan_id_number")),
    )


def downgrade():
    op.drop_table("action_plan_version")
    with op.batch_alter_table("progress_review", schema=None) as batch_op:
        batch_op.drop_index("ix_progress_review_status")

    op.drop_table("progress_review")
    with op.batch_alter_table("action_plan", schema=None) as batch_op:
        batch_op.drop_index("ix_action_plan_status")

    op.drop_table("action_plan")
