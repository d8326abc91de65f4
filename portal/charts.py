"""Charts as server-rendered SVG: the same markup in web pages and in PDFs, no JavaScript.

Each chart is an <svg role="img"> with a <title> and a <desc> that says what it shows in words;
pages put a data table beside it for anyone who cannot see it. Colours come from the GOV.UK
palette, every bar carries its value as text (legible in black and white print), and only SVG
presentation attributes are used (the pages' Content-Security-Policy forbids inline styles).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from markupsafe import Markup

FONT = "Arial, Helvetica, 'Liberation Sans', sans-serif"
TEXT = "#0b0c0c"
AXIS = "#505a5f"
GRID = "#b1b4b6"
COLOURS = ("#1d70b8", "#f47738", "#00703c", "#d4351c", "#4c2c92", "#505a5f")
WIDTH = 640


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[int]
    colour: str | None = None


def _text(
    x: float,
    y: float,
    content: str,
    *,
    size: int = 12,
    anchor: str = "middle",
    weight: str = "normal",
    fill: str = TEXT,
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-family="{FONT}" font-size="{size}" font-weight="{weight}" '
        f'text-anchor="{anchor}" fill="{fill}">{escape(content)}</text>'
    )


def _frame(chart_id: str, title: str, description: str, height: int, body: list[str]) -> Markup:
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    # Every piece of text in `body`, the title and the description went through escape() above.
    return Markup(  # noqa: S704
        f'<svg xmlns="http://www.w3.org/2000/svg" id={quoteattr(chart_id)} class="portal-chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'aria-labelledby="{title_id} {desc_id}">'
        f'<title id="{title_id}">{escape(title)}</title><desc id="{desc_id}">{escape(description)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def _nice_maximum(value: int) -> int:
    """A round number at or above `value` for the top of the axis: 7 -> 8, 23 -> 25, 180 -> 200."""
    if value <= 4:
        return 4
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 2.5, 5, 10):
        top = int(step * magnitude)
        if top >= value:
            return top
    return 10 * magnitude


def _legend(series: Sequence[Series], y: float) -> list[str]:
    parts, x = [], 60.0
    for index, item in enumerate(series):
        colour = item.colour or COLOURS[index % len(COLOURS)]
        parts.append(f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{colour}"/>')
        parts.append(_text(x + 18, y, item.name, anchor="start"))
        x += 30 + 7 * len(item.name)
    return parts


def _axis(top: int, plot_top: float, plot_bottom: float, left: float, right: float) -> list[str]:
    parts = []
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        y = plot_bottom - fraction * (plot_bottom - plot_top)
        value = top * fraction
        label = f"{value:g}" if value == int(value) else f"{value:.1f}"
        parts.append(
            f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{right:.1f}" y2="{y:.1f}" stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(_text(left - 6, y + 4, label, anchor="end", fill=AXIS))
    return parts


def _category_label(x: float, y: float, label: str) -> str:
    """Month labels like "Apr 2026" on two lines, so twelve fit side by side."""
    first, _, second = label.partition(" ")
    if not second:
        return _text(x, y, label)
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-family="{FONT}" font-size="12" text-anchor="middle" fill="{TEXT}">'
        f'<tspan x="{x:.1f}">{escape(first)}</tspan><tspan x="{x:.1f}" dy="14">{escape(second)}</tspan></text>'
    )


def bar_chart(
    chart_id: str,
    title: str,
    description: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    stacked: bool = False,
) -> Markup:
    """Vertical bars per category: side by side for each series, or stacked."""
    height, left, right, plot_top, plot_bottom = 300, 48.0, WIDTH - 12.0, 40.0, 240.0
    totals = [sum(item.values[index] for item in series) for index in range(len(categories))]
    largest = max(totals if stacked else [value for item in series for value in item.values] or [0], default=0)
    top = _nice_maximum(largest)
    body = _legend(series, 20) + _axis(top, plot_top, plot_bottom, left, right)
    band = (right - left) / max(1, len(categories))
    scale = (plot_bottom - plot_top) / top
    for index, category in enumerate(categories):
        x0 = left + index * band
        if stacked:
            bar_width = band * 0.6
            y = plot_bottom
            for number, item in enumerate(series):
                value = item.values[index]
                if value <= 0:
                    continue
                colour = item.colour or COLOURS[number % len(COLOURS)]
                bar_height = value * scale
                y -= bar_height
                body.append(
                    f'<rect x="{x0 + band * 0.2:.1f}" y="{y:.1f}" width="{bar_width:.1f}" '
                    f'height="{bar_height:.1f}" fill="{colour}"/>'
                )
            body.append(_text(x0 + band / 2, y - 4, str(totals[index]), size=11))
        else:
            count = max(1, len(series))
            bar_width = band * 0.8 / count
            for number, item in enumerate(series):
                value = item.values[index]
                colour = item.colour or COLOURS[number % len(COLOURS)]
                bar_height = value * scale
                x = x0 + band * 0.1 + number * bar_width
                body.append(
                    f'<rect x="{x:.1f}" y="{plot_bottom - bar_height:.1f}" width="{bar_width - 1:.1f}" '
                    f'height="{bar_height:.1f}" fill="{colour}"/>'
                )
                body.append(_text(x + bar_width / 2, plot_bottom - bar_height - 3, str(value), size=10))
        body.append(_category_label(x0 + band / 2, plot_bottom + 16, category))
    body.append(
        f'<line x1="{left:.1f}" y1="{plot_bottom:.1f}" x2="{right:.1f}" y2="{plot_bottom:.1f}" '
        f'stroke="{TEXT}" stroke-width="1"/>'
    )
    return _frame(chart_id, title, description, height, body)


def horizontal_bars(chart_id: str, title: str, description: str, rows: Sequence[tuple[str, int | None, str]]) -> Markup:
    """One bar per row of (label, count or None when hidden, text to show at the bar's end).
    A hidden count has no bar at all: its length would give the number away."""
    row_height, left, right = 26, 190.0, WIDTH - 90.0
    height = 16 + row_height * max(1, len(rows))
    largest = max((count for _, count, _ in rows if count is not None), default=0)
    scale = (right - left) / (largest or 1)
    body = []
    for index, (label, count, shown) in enumerate(rows):
        y = 8 + index * row_height
        body.append(_text(left - 8, y + 15, label, anchor="end"))
        width = (count or 0) * scale
        if count:
            body.append(
                f'<rect x="{left:.1f}" y="{y + 3:.1f}" width="{width:.1f}" height="{row_height - 8}" '
                f'fill="{COLOURS[0]}"/>'
            )
        body.append(
            _text(
                left + width + 6, y + 15, shown, anchor="start", size=12, weight="bold" if count is None else "normal"
            )
        )
    body.append(f'<line x1="{left:.1f}" y1="4" x2="{left:.1f}" y2="{height - 4}" stroke="{TEXT}" stroke-width="1"/>')
    return _frame(chart_id, title, description, height, body)


# --- the charts of a set of figures (portal.returns.kpis) ---------------------------------------------


def referrals_and_outcomes(figures: dict, chart_id: str = "chart-referrals") -> Markup:
    months = figures["months"]
    received = [m["received"] for m in months]
    verified = [m["outcomes_verified"] for m in months]
    description = (
        f"Referrals received and outcomes verified each month from {months[0]['label']} to {months[-1]['label']}. "
        + "; ".join(f"{m['label']}: {m['received']} referrals, {m['outcomes_verified']} outcomes" for m in months)
        + "."
    )
    return bar_chart(
        chart_id,
        "Referrals received and outcomes verified per month",
        description,
        [m["label"] for m in months],
        [Series("Referrals received", received, COLOURS[0]), Series("Outcomes verified", verified, COLOURS[1])],
    )


def attendance(figures: dict, chart_id: str = "chart-attendance") -> Markup:
    months = figures["months"]
    description = (
        "Sessions each month by attendance. "
        + "; ".join(
            f"{m['label']}: {m['attended']} attended, {m['late']} late, {m['missed']} did not attend, "
            f"{m['did_not_happen']} did not happen"
            for m in months
        )
        + "."
    )
    return bar_chart(
        chart_id,
        "Sessions per month by attendance",
        description,
        [m["label"] for m in months],
        [
            Series("Attended", [m["attended"] for m in months], COLOURS[2]),
            Series("Late", [m["late"] for m in months], COLOURS[0]),
            Series("Did not attend", [m["missed"] for m in months], COLOURS[3]),
            Series("Did not happen", [m["did_not_happen"] for m in months], COLOURS[5]),
        ],
        stacked=True,
    )


def equality(table: dict, column: str = "period", chart_id: str | None = None) -> Markup:
    rows = []
    for row in table["rows"]:
        cell = row["values"][column]
        if isinstance(cell["count"], int):
            rows.append((row["label"], cell["count"], f"{cell['count']} ({cell['percent']}%)"))
        else:
            rows.append((row["label"], None, cell["count"]))
    description = (
        f"People starting, by {table['title'].lower()}: "
        + "; ".join(f"{label}: {shown}" for label, _, shown in rows)
        + "."
    )
    return horizontal_bars(
        chart_id or f"chart-equality-{table['key']}", f"People starting: {table['title']}", description, rows
    )
