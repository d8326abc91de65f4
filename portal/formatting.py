"""How dates, times and money are shown: "3 March 2026", "2:15pm", "£1,234.56" (Europe/London)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def format_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = to_london(value)
    return f"{value.day} {value:%B %Y}"


def format_time(value: datetime | None) -> str:
    if value is None:
        return ""
    local = to_london(value)
    hour = local.hour % 12 or 12
    suffix = "am" if local.hour < 12 else "pm"
    if local.hour == 12 and local.minute == 0:
        return "midday"
    if local.hour == 0 and local.minute == 0:
        return "midnight"
    return f"{hour}{suffix}" if local.minute == 0 else f"{hour}:{local.minute:02d}{suffix}"


def format_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    return f"{format_date(value)} at {format_time(value)}"


def to_london(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: store and pass times as aware UTC")
    return value.astimezone(LONDON)


def format_money(pence: int | Decimal | None, *, blank: str = "") -> str:
    """Pence as pounds: 123456 -> "£1,234.56"; negatives as "-£12.00" (credit notes)."""
    if pence is None:
        return blank
    if isinstance(pence, float):
        raise TypeError("money is never a float")
    pounds = (Decimal(pence) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if pounds < 0 else ""
    return f"{sign}£{abs(pounds):,.2f}"


def shown_value(value: object) -> str:
    """A recorded value as a person reads it: lists joined, codes with spaces, nothing as 'none'."""
    if value is None or value == "" or value == []:
        return "none"
    if isinstance(value, list | tuple):
        return ", ".join(shown_value(item) for item in value)
    if isinstance(value, str) and value.isidentifier() and "_" in value:
        return value.replace("_", " ")
    return str(value)


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """A count with its noun, singular or plural as the count needs: "1 invoice", "2 invoices",
    "0 referrals"; `plural_form` for words that do not just take -s ("1 person", "3 people")."""
    if count == 1:
        return f"{count} {singular}"
    if plural_form is None:
        head, _, last = singular.rpartition(" ")
        if last.endswith(("s", "x", "ch", "sh")):
            last += "es"
        elif last.endswith("y") and last[-2:-1] not in ("a", "e", "i", "o", "u"):
            last = last[:-1] + "ies"
        else:
            last += "s"
        plural_form = f"{head} {last}" if head else last
    return f"{count:,} {plural_form}"
