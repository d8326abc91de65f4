"""Money is integer pence. These read amounts people type ("£1,234.50") and write them back."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeVar

K = TypeVar("K")
POUNDS = re.compile(r"^£?\s*(\d{1,3}(,\d{3})+|\d+)(\.\d{1,2})?$")


class NotAnAmount(ValueError):
    pass


def parse_pounds(text: str) -> int:
    """'1,234.5' -> 123450. Refuses negatives, fractions of a penny and anything else odd."""
    cleaned = (text or "").strip()
    match = POUNDS.match(cleaned)
    if not match:
        raise NotAnAmount(text)
    whole = match.group(1).replace(",", "")
    fraction = (match.group(3) or ".00")[1:].ljust(2, "0")
    return int(whole) * 100 + int(fraction)


def pounds(pence: int | Decimal) -> str:
    """123450 -> '1234.50' (for form fields and CSV files: no symbol, no thousands separator).
    A Decimal of whole pence (a PostgreSQL SUM) is taken as the int it is; a fraction of a penny
    is a bug upstream, refused."""
    if isinstance(pence, Decimal):
        if pence != pence.to_integral_value():
            raise ValueError(f"{pence} is not a whole number of pence")
        pence = int(pence)
    sign = "-" if pence < 0 else ""
    return f"{sign}{abs(pence) // 100}.{abs(pence) % 100:02d}"


def round_half_up(value: Decimal) -> int:
    """To a whole number of pence, halves away from zero (HMRC and the billing rules)."""
    return int(value.quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def share_out(amount_pence: int, weights: Mapping[K, int]) -> dict[K, int]:
    """`amount_pence` shared by weight, in whole pence that add up to it exactly: each share is the
    weight's part rounded down, and the pence left go to the largest remainders (ties to the first
    key in order). A negative amount (a credit) is shared the same way. No weight, no shares."""
    total = sum(weights.values())
    if total <= 0:
        return dict.fromkeys(weights, 0)
    sign, whole = (-1 if amount_pence < 0 else 1), abs(amount_pence)
    shares = {key: whole * weight // total for key, weight in weights.items()}
    left = whole - sum(shares.values())
    by_remainder = sorted(weights, key=lambda key: -(whole * weights[key] % total))
    for key in by_remainder[:left]:
        shares[key] += 1
    return {key: sign * share for key, share in shares.items()}
