"""The targets a service return's headline figures are measured against.

One set for every contract, agreed with contract managers as the supply chain's minimum
standard (a contract-specific target would be a column on Contract; none needs one yet):
- referrals answered (accepted or declined) within the contract's SLA: at least 95%;
- first contact within the contract's SLA: at least 90%;
- attendance (attended on time or late, out of those expected to attend): at least 75%;
- end-of-service achievement score (achieved 1, partially 0.5): at least 60%;
- spend to the end of the period: no more than 100% of the contract's value cap.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

TARGETS = (
    # (figure key, label, at least / at most, target %)
    ("answered_within_sla", "Referrals answered within SLA", "at_least", Decimal(95)),
    ("first_contact_within_sla", "First contact within SLA", "at_least", Decimal(90)),
    ("attendance_rate", "Attendance rate", "at_least", Decimal(75)),
    ("achievement_score", "End-of-service achievement score", "at_least", Decimal(60)),
)
SPEND_TARGET = Decimal(100)


def _status(value: Decimal | None, direction: str, target: Decimal) -> str:
    if value is None:
        return "no_data"
    met = value >= target if direction == "at_least" else value <= target
    return "met" if met else "not_met"


def headline_kpis(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """The period's headline figures, each with its target and whether it was met."""
    from portal.returns.kpis import figure, percent_text, percent_value

    headline = []
    for key, label, direction, target in TARGETS:
        value = figure(figures, key)
        headline.append(
            {
                "key": key,
                "label": label,
                "value": value,
                "shown": percent_text(value),
                "target": f"{'at least' if direction == 'at_least' else 'at most'} {target}%",
                "status": _status(percent_value(value), direction, target),
            }
        )
    spend = figures["spend"]["percent_of_cap"]
    headline.append(
        {
            "key": "spend",
            "label": "Spend against the contract cap",
            "value": spend,
            "shown": percent_text(spend),
            "target": f"at most {SPEND_TARGET}%",
            "status": _status(percent_value(spend), "at_most", SPEND_TARGET),
        }
    )
    return headline


STATUS_LABELS = {"met": "Met", "not_met": "Not met", "no_data": "No data"}
