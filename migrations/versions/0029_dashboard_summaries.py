"""national scale: dashboard figures (issue 20)

The indexes the figures read (portal/figure_indexes.py): sessions by day with what is counted,
RAR days (partial), end-of-service reports by submission, referrals by the day declined and of
first contact, referrals by place and contract, and the place names referrals carry without a
place record (partial). No data changes. On PostgreSQL the tables are analysed afterwards, so the
planner knows the new indexes.

Revision ID: 0029_dashboard_summaries
Revises: 0028_contract_places
Create Date: 2026-12-07 02:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0029_dashboard_summaries'
down_revision = '0028_contract_places'
branch_labels = None
depends_on = None


def _rar_day():
    return {
        "postgresql_where": sa.text("counts_as_rar_day IS true AND attendance IN ('attended', 'late')"),
        "sqlite_where": sa.text("counts_as_rar_day IS 1 AND attendance IN ('attended', 'late')"),
    }


def _where(condition):
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


INDEXES = (
    (
        "ix_delivery_session_date_counted",
        "delivery_session",
        ["date", "referral_id", "attendance", "non_attendance_reason", "duration_minutes"],
        {},
    ),
    ("ix_delivery_session_rar_day_date", "delivery_session", ["date", "referral_id"], _rar_day()),
    ("ix_delivery_session_rar_day", "delivery_session", ["referral_id", "date"], _rar_day()),
    ("ix_end_of_service_report_submitted_at", "end_of_service_report", ["submitted_at"], {}),
    ("ix_referral_declined_at", "referral", ["declined_at"], {}),
    ("ix_referral_first_contact_at", "referral", ["first_contact_at"], {}),
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
    for name, table, columns, options in INDEXES:
        op.create_index(name, table, columns, unique=False, **options)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ANALYZE delivery_session, end_of_service_report, referral")


def downgrade():
    for name, table, _columns, _options in reversed(INDEXES):
        op.drop_index(name, table_name=table)
