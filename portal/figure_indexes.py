"""The indexes the dashboard's and returns' figures read (issue 20: national scale), next to one
another because they belong to the figures (portal/figures.py) rather than to any one model;
migrations 0029_dashboard_summaries and 0033_dashboard_speed create them.

Measured on a 200,000-referral, 2-million-session seed (bench/README.md, "How the figures are
counted"): each lets a figure's query read only the rows it counts, from the index alone.
"""

from __future__ import annotations

from sqlalchemy import Index, text

from portal.delivery.models import EndOfServiceReport, Outcome, Session
from portal.referrals.models import Referral

# An attended session that counts as a RAR day, in the words the figures' queries use (`IS true`:
# PostgreSQL uses a partial index only for a condition it can prove from the index's own).
_RAR_DAY = {
    "postgresql_where": text("counts_as_rar_day IS true AND attendance IN ('attended', 'late')"),
    "sqlite_where": text("counts_as_rar_day IS 1 AND attendance IN ('attended', 'late')"),
}

# The referral columns the referral figures count, by contract.
_REFERRAL_FIGURES = (
    Referral.contract_id,
    Referral.sent_at,
    Referral.accepted_on,
    Referral.accept_due_on,
    Referral.declined_at,
    Referral.withdrawn_at,
    Referral.completed_at,
    Referral.first_contact_due_on,
    Referral.first_contact_at,
    Referral.decline_reason,
    Referral.withdraw_reason,
    Referral.service_code,
)

FIGURE_INDEXES = (
    # Sessions by contract and day with what the counts need (migration 0033; before, by day alone,
    # and every referral was joined for its contract): a contract's, or the CRC's, quarter of
    # sessions counted from the index alone. The referral last, for the pathway and area filters.
    Index(
        "ix_delivery_session_contract_counted",
        Session.contract_id,
        Session.date,
        Session.attendance,
        Session.non_attendance_reason,
        Session.duration_minutes,
        Session.referral_id,
    ),
    # RAR days delivered: in a window (by contract and day), and each ended case's to date (by referral).
    Index("ix_delivery_session_rar_day_contract", Session.contract_id, Session.date, Session.referral_id, **_RAR_DAY),
    Index("ix_delivery_session_rar_day", Session.referral_id, Session.date, **_RAR_DAY),
    # Desired outcomes assessed: the end-of-service reports submitted in the range, by contract.
    Index(
        "ix_end_of_service_report_contract_submitted", EndOfServiceReport.contract_id, EndOfServiceReport.submitted_at
    ),
    # Outcomes claimed, verified and rejected in the range, by contract: each moment its own range.
    Index("ix_outcome_contract_claimed", Outcome.contract_id, Outcome.claimed_at),
    Index("ix_outcome_contract_verified", Outcome.contract_id, Outcome.verified_at),
    Index("ix_outcome_contract_rejected", Outcome.contract_id, Outcome.rejected_at),
    # The referral figures (portal.figures._referral_counts, _reasons, _medians; records._to_date):
    # every column they read, by contract, so the referrals of the CRC's contracts are counted from
    # the index alone (an index-only scan) rather than from the table's pages (migration 0033).
    Index("ix_referral_figures", *_REFERRAL_FIGURES),
    # The same with what RAR against ordered (the days ordered, each case's id to look its sessions
    # up), locations (the place) and equality (the person) also read, so those too touch no table
    # page. Two indexes, not one wide one: at the CRC's scale the planner read the whole table
    # rather than the wider index for the summary's counts (32 ms became 85 ms).
    Index(
        "ix_referral_figures_cases",
        *_REFERRAL_FIGURES,
        Referral.rar_days,
        Referral.location_type,
        Referral.prison_id,
        Referral.probation_office_id,
        Referral.prison,
        Referral.community_office,
        Referral.person_id,
        Referral.id,
    ),
    # The dashboard's summary: referrals declined in the period (beside those sent, ix_referral_sent_at).
    Index("ix_referral_declined_at", Referral.declined_at),
    # People starting (equality monitoring): referrals by the day of their first contact.
    Index("ix_referral_first_contact_at", Referral.first_contact_at),
    # The dashboard's area filter: whether any referral on the user's contracts names a place (a
    # probe a place and contract; by the place alone, a partner's probe read every other partner's
    # referrals there), and the place names referrals carry with no place record (few or none).
    # Each with whether it was sent (migration 0033), so a probe reads the index alone: without it
    # the planner probed ix_referral_figures_cases by place instead, a scan of the whole index
    # (20 to 100 ms a probe).
    Index("ix_referral_prison_contract", Referral.prison_id, Referral.contract_id, Referral.sent_at),
    Index("ix_referral_office_contract", Referral.probation_office_id, Referral.contract_id, Referral.sent_at),
    Index(
        "ix_referral_prison_free_text",
        Referral.prison,
        Referral.contract_id,
        Referral.sent_at,
        postgresql_where=text("prison_id IS NULL AND prison IS NOT NULL"),
        sqlite_where=text("prison_id IS NULL AND prison IS NOT NULL"),
    ),
    Index(
        "ix_referral_office_free_text",
        Referral.community_office,
        Referral.contract_id,
        Referral.sent_at,
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
