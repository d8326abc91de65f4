"""The indexes that let each list read a page in its own order (issue 20: keyset pagination).

A list's page is `WHERE <filters> AND (sort keys) > (cursor) ORDER BY sort keys, id LIMIT 51`; with
an index on (filter column, sort keys, id) PostgreSQL starts an index scan at the cursor and stops
after 51 rows, however deep the page. They live here, next to one another, because they belong to
the lists rather than to any one model; migration 0024_scale_lists creates them.
"""

from __future__ import annotations

from sqlalchemy import Index, String, func, literal_column

from portal.audit.models import AuditEvent
from portal.delivery.models import Alert, Outcome, Session
from portal.invoicing.models import Invoice
from portal.people.models import Person
from portal.referrals.models import Referral
from portal.returns.models import ServiceReturn
from portal.safeguarding.models import SafeguardingConcern

# What the trigram index below is on: the referral's copy of its person's name ("given family",
# lower-cased; Referral.person_name). A narrow name search says this, and PostgreSQL answers
# `LIKE '%term%'` from the index; a broad one says the bare column, which no trigram index is on,
# so the database reads the lists' indexes (which carry the name) in order instead
# (portal.referrals.inbox). Both match the same referrals.
SEARCH_NAME = func.coalesce(Referral.person_name, literal_column("''"), type_=String)

LIST_INDEXES = (
    # The audit log, newest first (2.7 million events at national scale).
    Index("ix_audit_event_occurred_at_id", AuditEvent.occurred_at, AuditEvent.id),
    # A partner's inbox: its contracts' referrals, newest sent first. It carries the status and the
    # person's name too (PostgreSQL), so a name search (or its count) over a partner's tens of
    # thousands of referrals tests each from the index alone, without reading the table.
    Index(
        "ix_referral_contract_sent_at",
        Referral.contract_id,
        Referral.sent_at.desc().nulls_last(),
        Referral.id.desc(),
        postgresql_include=["status", "person_name"],
    ),
    # Outcome claims to verify, oldest first, by status.
    Index("ix_outcome_status_claimed_at", Outcome.status, Outcome.claimed_at, Outcome.id),
    # Alerts, oldest first (open ones are those not yet acknowledged).
    Index("ix_alert_raised_at", Alert.raised_at, Alert.id),
    # Invoices, newest month first; the approval queue, submitted longest ago first.
    Index("ix_invoice_period_start_id", Invoice.period_start, Invoice.id),
    Index("ix_invoice_status_submitted_at", Invoice.status, Invoice.submitted_at, Invoice.id),
    # Service returns, newest period first; those to review, submitted longest ago first.
    Index("ix_service_return_period_start_id", ServiceReturn.period_start, ServiceReturn.id),
    Index("ix_service_return_status_submitted_at", ServiceReturn.status, ServiceReturn.submitted_at, ServiceReturn.id),
    # Safeguarding concerns, the earliest acknowledgement deadline first.
    Index("ix_safeguarding_concern_due_id", SafeguardingConcern.acknowledge_due_at, SafeguardingConcern.id),
    # ...a partner's, by its contracts (the concern's copy of its referral's: migration 0038), in
    # each status: a partner with few of the CRC's concerns finds them here rather than by walking
    # every concern in deadline order, and the list's count reads this index alone.
    Index(
        "ix_safeguarding_concern_contract_status_due",
        SafeguardingConcern.contract_id,
        SafeguardingConcern.status,
        SafeguardingConcern.acknowledge_due_at,
        SafeguardingConcern.id,
    ),
    # A caseworker's sessions awaiting feedback (My sessions): only those with no attendance yet, a
    # small part of two million, so each of the caseworker's cases is looked up in a small index.
    Index(
        "ix_delivery_session_unrecorded",
        Session.referral_id,
        Session.date,
        postgresql_where=Session.attendance.is_(None),
        sqlite_where=Session.attendance.is_(None),
    ),
    # The inbox's tab counts, read from the index alone: a partner's by contract, the CRC's by CRC,
    # each by status and by whose the case is ("My cases", "Unassigned", a referrer's drafts).
    # They carry the person's name too (PostgreSQL), so the counts of a name search read them alone.
    Index(
        "ix_referral_contract_status_caseworker",
        Referral.contract_id,
        Referral.status,
        Referral.caseworker_id,
        postgresql_include=["person_name"],
    ),
    Index(
        "ix_referral_crc_status_referrer",
        Referral.crc_id,
        Referral.status,
        Referral.referrer_id,
        postgresql_include=["person_name"],
    ),
    # The inbox's search: a name anywhere in "given family", kept on the referral (trigrams,
    # PostgreSQL only: SQLite reads every name, which at its sizes is quick), and a CRN in any CRC.
    Index(
        "ix_referral_person_name_trgm",
        SEARCH_NAME.label("name"),
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    ).ddl_if(dialect="postgresql"),
    Index("ix_person_crn", Person.crn),
    # An invoice's page: whether any of the contract's referrals is on a service no item prices
    # (portal.invoicing.uncovered), answered from a few probes of this index.
    Index("ix_referral_contract_service", Referral.contract_id, Referral.service_code),
    # ...and the month's verified outcomes, by the day achieved (ix_outcome_status_achieved) or,
    # achieved earlier, by the time verified.
    Index("ix_outcome_status_verified_at", Outcome.status, Outcome.verified_at),
    # My sessions: a caseworker's cases (thousands over the years) that their organisation sees, and
    # whether each is open or ended since a list's first day, from the index alone, before each
    # such case's sessions are looked up (migration 0040).
    Index(
        "ix_referral_caseworker_cases",
        Referral.caseworker_id,
        Referral.contract_id,
        Referral.status,
        Referral.id,
        Referral.completed_at,
        Referral.withdrawn_at,
    ),
)
