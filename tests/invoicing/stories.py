"""Months of work for the invoice page tests, recorded as the portal would hold them."""

from __future__ import annotations

from datetime import date

from portal.delivery.models import Attendance
from portal.invoicing import service

SEPTEMBER = date(2026, 9, 1)


def september_of(work):
    """A referral accepted on 2 September 2026 (2 RAR days), three sessions (one missed) and two
    outcomes (one verified). Billed at VAT 20%: subtotal £817.50, VAT £163.50, total £981.00."""
    referral = work.referral(date(2026, 9, 2), rar_days=2)
    work.session(referral, date(2026, 9, 3), 90, rar=True)
    work.session(referral, date(2026, 9, 10), 45)
    work.session(referral, date(2026, 9, 17), 60, attendance=Attendance.DID_NOT_ATTEND)
    work.outcome(referral, work.contract.first_night, date(2026, 9, 20))
    work.outcome(referral, work.contract.first_night, date(2026, 9, 21), verified=False)
    return referral


def submitted_september(work, manager):
    september_of(work)
    return service.submit_invoice(manager, service.generate_draft(manager, work.contract, "2026-09"))
