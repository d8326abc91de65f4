"""The targets a service return's headline figures are measured against.

One set for every contract, agreed with contract managers as the supply chain's minimum
standard (a contract-specific target would be a column on Contract; none needs one yet):
- referrals answered (accepted or declined) within the contract's SLA: at least 95%;
- first contact within the contract's SLA: at least 90%;
- attendance (attended on time or late, out of those expected to attend): at least 75%;
- end-of-service achievement score (achieved 1, partially 0.5): at least 60%;
- spend to the end of the period: no more than 100% of the contract's value cap;
- spend to date: at least 80% of the spend profile to date (without a profile, the cap spread
  evenly over the contract's months).
"""

from __future__ import annotations

from decimal import Decimal

TARGETS = (
    # (figure key, label, at least / at most, target %)
    ("answered_within_sla", "Referrals answered within SLA", "at_least", Decimal(95)),
    ("first_contact_within_sla", "First contact within SLA", "at_least", Decimal(90)),
    ("attendance_rate", "Attendance rate", "at_least", Decimal(75)),
    ("achievement_score", "End-of-service achievement score", "at_least", Decimal(60)),
)
SPEND_TARGET = Decimal(100)
# Spend to date against the spend profile to date (or the cap spread evenly): at least this much.
SPEND_PROFILE_TARGET = Decimal(80)
# Referrals and starts below this share of what was expected are flagged as under-delivery.
VOLUME_TOLERANCE = 80


def status(value: Decimal | None, direction: str, target: Decimal) -> str:
    """ "met", "not_met" or "no_data": `value` (a percentage) against `target`, at least or at most."""
    if value is None:
        return "no_data"
    met = value >= target if direction == "at_least" else value <= target
    return "met" if met else "not_met"


def target_text(direction: str, target: Decimal) -> str:
    return f"{'at least' if direction == 'at_least' else 'at most'} {target}%"


STATUS_LABELS = {"met": "Met", "not_met": "Not met", "no_data": "No data"}
