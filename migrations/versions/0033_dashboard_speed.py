"""national scale: dashboard figures keyed by contract (issue 20)

Sessions, outcomes and end-of-service reports carry their referral's contract (`contract_id`, a
copy: portal.delivery.models.contract_copy; portal.integrity checks it never differs), back-filled
here from the referrals. The figures' queries then count those rows by contract from their own
indexes, where each joined every referral of the CRC for its contract (100–300 ms a query at
200,000 referrals). The referral figures read one covering index of the columns they count
(`ix_referral_figures`, and `ix_referral_figures_cases` with the columns of RAR against
ordered, locations and equality besides). The area filter's probes by place and contract also hold
`sent_at`, so they stay index-only probes beside those wider indexes. The indexes by day that the contract ones replace are dropped.

On PostgreSQL the back-filled tables are vacuumed and analysed afterwards (outside the
transaction): an index-only scan needs the pages marked all-visible again after the update.

Revision ID: 0033_dashboard_speed
Revises: 0032_invoice_speed
Create Date: 2026-12-07 06:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0033_dashboard_speed"
down_revision = "0032_invoice_speed"
branch_labels = None
depends_on = None


TABLES = ("delivery_session", "outcome", "end_of_service_report")


def _rar_day():
    return {
        "postgresql_where": sa.text("counts_as_rar_day IS true AND attendance IN ('attended', 'late')"),
        "sqlite_where": sa.text("counts_as_rar_day IS 1 AND attendance IN ('attended', 'late')"),
    }


def _where(condition):
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


REFERRAL_FIGURES = (
    "contract_id",
    "sent_at",
    "accepted_on",
    "accept_due_on",
    "declined_at",
    "withdrawn_at",
    "completed_at",
    "first_contact_due_on",
    "first_contact_at",
    "decline_reason",
    "withdraw_reason",
    "service_code",
)

INDEXES = (
    (
        "ix_delivery_session_contract_counted",
        "delivery_session",
        ["contract_id", "date", "attendance", "non_attendance_reason", "duration_minutes", "referral_id"],
        {},
    ),
    ("ix_delivery_session_rar_day_contract", "delivery_session", ["contract_id", "date", "referral_id"], _rar_day()),
    ("ix_end_of_service_report_contract_submitted", "end_of_service_report", ["contract_id", "submitted_at"], {}),
    ("ix_outcome_contract_claimed", "outcome", ["contract_id", "claimed_at"], {}),
    ("ix_outcome_contract_verified", "outcome", ["contract_id", "verified_at"], {}),
    ("ix_outcome_contract_rejected", "outcome", ["contract_id", "rejected_at"], {}),
    ("ix_referral_prison_contract", "referral", ["prison_id", "contract_id", "sent_at"], {}),
    ("ix_referral_office_contract", "referral", ["probation_office_id", "contract_id", "sent_at"], {}),
    (
        "ix_referral_prison_free_text",
        "referral",
        ["prison", "contract_id", "sent_at"],
        _where("prison_id IS NULL AND prison IS NOT NULL"),
    ),
    (
        "ix_referral_office_free_text",
        "referral",
        ["community_office", "contract_id", "sent_at"],
        _where("probation_office_id IS NULL AND community_office IS NOT NULL"),
    ),
    ("ix_referral_figures", "referral", list(REFERRAL_FIGURES), {}),
    (
        "ix_referral_figures_cases",
        "referral",
        [
            *REFERRAL_FIGURES,
            "rar_days",
            "location_type",
            "prison_id",
            "probation_office_id",
            "prison",
            "community_office",
            "person_id",
            "id",
        ],
        {},
    ),
)

# Migration 0029's, which the indexes above serve instead (dropped before those are made).
REPLACED = (
    (
        "ix_delivery_session_date_counted",
        "delivery_session",
        ["date", "referral_id", "attendance", "non_attendance_reason", "duration_minutes"],
        {},
    ),
    ("ix_delivery_session_rar_day_date", "delivery_session", ["date", "referral_id"], _rar_day()),
    ("ix_end_of_service_report_submitted_at", "end_of_service_report", ["submitted_at"], {}),
    # The area filter's probes, now with `sent_at` (above) so they read the index alone.
    ("ix_referral_prison_contract", "referral", ["prison_id", "contract_id"], {}),
    ("ix_referral_office_contract", "referral", ["probation_office_id", "contract_id"], {}),
    (
        "ix_referral_prison_free_text",
        "referral",
        ["prison", "contract_id"],
        _where("prison_id IS NULL AND prison IS NOT NULL"),
    ),
    (
        "ix_referral_office_free_text",
        "referral",
        ["community_office", "contract_id"],
        _where("probation_office_id IS NULL AND community_office IS NOT NULL"),
    ),
)


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("contract_id", sa.Integer(), nullable=True))
        if postgresql:
            op.execute(
                f"UPDATE {table} SET contract_id = referral.contract_id FROM referral WHERE referral.id = {table}.referral_id"
            )
        else:
            op.execute(
                f"UPDATE {table} SET contract_id = "
                f"(SELECT referral.contract_id FROM referral WHERE referral.id = {table}.referral_id)"
            )
    for name, table, _columns, _options in REPLACED:
        op.drop_index(name, table_name=table)
    for name, table, columns, options in INDEXES:
        op.create_index(name, table, columns, unique=False, **options)
    if postgresql:
        with op.get_context().autocommit_block():
            for table in (*TABLES, "referral"):
                op.execute(f"VACUUM ANALYZE {table}")


def downgrade():
    for name, table, _columns, _options in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    for name, table, columns, options in REPLACED:
        op.create_index(name, table, columns, unique=False, **options)
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("contract_id")
