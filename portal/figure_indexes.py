"""The indexes the dashboard's and returns' figures read (issue 20: national scale), next to one
another because they belong to the figures (portal/figures.py) rather than to any one model;
migration 0029_dashboard_summaries creates them.

Measured on a 200,000-referral, 2-million-session seed (bench/README.md, "How the figures are
counted"): each lets a figure's query read only the rows it counts, from the index alone.
"""

from __future__ import annotations

from sqlalchemy import Index, text

from portal.delivery.models import EndOfServiceReport, Session
from portal.referrals.models import Referral

# An attended session that counts as a RAR day, in the words the figures' queries use (`IS true`:
# PostgreSQL uses a partial index only for a condition it can prove from the index's own).
_RAR_DAY = {
    "postgresql_where": text("counts_as_rar_day IS true AND attendance IN ('attended', 'late')"),
    "sqlite_where": text("counts_as_rar_day IS 1 AND attendance IN ('attended', 'late')"),
}

FIGURE_INDEXES = (
    # Sessions by day with what the counts need: a year of sessions counted from the index alone.
    Index(
        "ix_delivery_session_date_counted",
        Session.date,
        Session.referral_id,
        Session.attendance,
        Session.non_attendance_reason,
        Session.duration_minutes,
    ),
    # RAR days delivered: in a window (by day), and each ended case's to date (by referral).
    Index("ix_delivery_session_rar_day_date", Session.date, Session.referral_id, **_RAR_DAY),
    Index("ix_delivery_session_rar_day", Session.referral_id, Session.date, **_RAR_DAY),
    # Desired outcomes assessed: the end-of-service reports submitted in the range.
    Index("ix_end_of_service_report_submitted_at", EndOfServiceReport.submitted_at),
    # The dashboard's summary: referrals declined in the period (beside those sent, ix_referral_sent_at).
    Index("ix_referral_declined_at", Referral.declined_at),
    # People starting (equality monitoring): referrals by the day of their first contact.
    Index("ix_referral_first_contact_at", Referral.first_contact_at),
    # The dashboard's area filter: whether any referral on the user's contracts names a place (a
    # probe a place and contract; by the place alone, a partner's probe read every other partner's
    # referrals there), and the place names referrals carry with no place record (few or none).
    Index("ix_referral_prison_contract", Referral.prison_id, Referral.contract_id),
    Index("ix_referral_office_contract", Referral.probation_office_id, Referral.contract_id),
    Index(
        "ix_referral_prison_free_text",
        Referral.prison,
        Referral.contract_id,
        postgresql_where=text("prison_id IS NULL AND prison IS NOT NULL"),
        sqlite_where=text("prison_id IS NULL AND prison IS NOT NULL"),
    ),
    Index(
        "ix_referral_office_free_text",
        Referral.community_office,
        Referral.contract_id,
        postgresql_where=text("probation_office_id IS NULL AND community_office IS NOT NULL"),
        sqlite_where=text("probation_office_id IS NULL AND community_office IS NOT NULL"),
    ),
    # Starts to date by contract and service (services below plan: the contract manager's home and
    # a contract's page and volumes) and each contract's referrals to date (the volumes' "to date"),
    # from the index alone (migration 0036_contract_pages): 19 → 5 ms for the largest contract,
    # 84 → 25 ms for every contract, instead of visiting each referral's row.
    Index(
        "ix_referral_contract_starts",
        Referral.contract_id,
        Referral.service_code,
        Referral.first_contact_at,
        postgresql_include=["sent_at", "accepted_on", "first_contact_due_on", "withdrawn_at", "completed_at"],
        postgresql_where=text("sent_at IS NOT NULL"),
        sqlite_where=text("sent_at IS NOT NULL"),
    ),
)
