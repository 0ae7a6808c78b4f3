"""SVG charts drawn on the server: a sparkline, and a KPI's values against its targets.

Pure functions from data to SVG text, so that the web page, the PDF report and the e-mail
show the same picture without any JavaScript. Every piece of text is XML-escaped here;
the words (titles, legend) and the number format come from the caller, already in the
reader's language, so nothing in this module knows about requests or templates.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol
from xml.sax.saxutils import escape, quoteattr

Amount = Decimal | float | int

# "Noto Sans CJK TC" (Debian's fonts-noto-cjk) first: it is the font WeasyPrint embeds in
# the PDF report, and WeasyPrint's SVG text does not skip a quoted family it lacks (Chinese
# then comes out in a Japanese font). Unquoted names are valid CSS for browsers too.
FONT = "Noto Sans CJK TC, Noto Sans TC, PingFang TC, Microsoft JhengHei, sans-serif"
VALUE_COLOUR = "#1f5fbf"
TARGET_COLOUR = "#4d4d4d"
MARKER_COLOUR = "#a34d00"
BAND_COLOUR = "#1f5fbf"
ANOMALY_COLOUR = "#b00020"
GRID_COLOUR = "#d9d9d9"
TEXT_COLOUR = "#333333"


class ResultLike(Protocol):
    """What a chart needs of a result: `headway.results.models.Result` fits."""

    @property
    def period(self) -> str: ...

    @property
    def period_start(self) -> datetime.date: ...

    @property
    def value(self) -> Amount | None: ...

    @property
    def target(self) -> Amount | None: ...


class TargetLike(Protocol):
    """What a chart needs of a target version: `headway.kpis.models.TargetVersion` fits."""

    @property
    def effective_from(self) -> str: ...

    @property
    def effective_start(self) -> datetime.date: ...

    @property
    def value(self) -> Amount: ...

    @property
    def reason(self) -> str: ...


@dataclass(frozen=True)
class ChartWords:
    """The chart's text, in the reader's language."""

    title: str
    description: str
    value: str = "Value"
    target: str = "Target"
    change: str = "Target changed"
    no_data: str = "No values yet"
    forecast: str = "Forecast range"
    anomaly: str = "Unusual value"


# A forecast's range for one period: (period label, low, high).
BandPoint = tuple[str, Amount, Amount]


def _text(value: object) -> str:
    return escape(str(value))


def _attr(value: object) -> str:
    return quoteattr(str(value))


def _ident(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", text) or "chart"


def _float(value: Amount | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _plain(value: float) -> str:
    return f"{value:g}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]: 0, 0.02, 0.04... rather than 0.0137."""
    if high <= low:
        high = low + 1
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first, last = math.floor(low / step), math.ceil(high / step)
    return [round(index * step, 12) + 0.0 for index in range(first, last + 1)]


def sparkline(
    values: Sequence[Amount | None], *, width: int = 96, height: int = 24, title: str = ""
) -> str:
    """A small line of the values, the last one dotted; gaps where a value is missing."""
    numbers = [_float(value) for value in values]
    present = [number for number in numbers if number is not None]
    label = (
        f' role="img" aria-label={_attr(title)}><title>{_text(title)}</title>'
        if title
        else ' aria-hidden="true" focusable="false">'
    )
    head = (
        f'<svg class="sparkline" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}"{label}'
    )
    if not present:
        middle = height / 2
        return (
            f'{head}<line x1="2" y1="{middle}" x2="{width - 2}" y2="{middle}" '
            f'stroke="{GRID_COLOUR}" stroke-width="1" stroke-dasharray="3 3"/></svg>'
        )
    low, high = min(present), max(present)
    spread = high - low or 1.0
    pad = 3.0
    step = (width - 2 * pad) / max(len(numbers) - 1, 1)

    def point(index: int, number: float) -> tuple[float, float]:
        x = pad + index * step if len(numbers) > 1 else width / 2
        y = height - pad - (number - low) / spread * (height - 2 * pad)
        if high == low:
            y = height / 2
        return round(x, 1), round(y, 1)

    parts = [head]
    segment: list[str] = []
    segments: list[list[str]] = []
    for index, number in enumerate(numbers):
        if number is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        x, y = point(index, number)
        segment.append(f"{x},{y}")
    if segment:
        segments.append(segment)
    for items in segments:
        if len(items) > 1:
            parts.append(
                f'<polyline points="{" ".join(items)}" fill="none" stroke="{VALUE_COLOUR}" '
                'stroke-width="1.5" stroke-linejoin="round" stroke-linecap="round"/>'
            )
    last_index = max(index for index, number in enumerate(numbers) if number is not None)
    last_value = numbers[last_index]
    assert last_value is not None
    x, y = point(last_index, last_value)
    parts.append(f'<circle cx="{x}" cy="{y}" r="2.2" fill="{VALUE_COLOUR}"/>')
    parts.append("</svg>")
    return "".join(parts)


def kpi_chart(
    results: Sequence[ResultLike],
    target_versions: Sequence[TargetLike],
    *,
    words: ChartWords,
    format_value: Callable[[float], str] = _plain,
    ident: str = "kpi-chart",
    width: int = 720,
    height: int = 300,
    band: Sequence[BandPoint] = (),
    anomalies: Collection[str] = (),
) -> str:
    """A KPI's values per period as a line, the target in force as a step line, and a
    marker where a target version starts within the periods shown.

    `results` are one series in period order; `target_versions` are the versions to mark
    (the caller picks them, e.g. those of the organisation's total). `band` is an optional
    forecast range per period, shaded: periods after the last result extend the x axis.
    `anomalies` are the labels of periods whose value is ringed as unusual.
    """
    ident = _ident(ident)
    title_id, desc_id = f"{ident}-title", f"{ident}-desc"
    left, right, top, bottom = 72, 16, 56, 44
    plot_width, plot_height = width - left - right, height - top - bottom
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{title_id} {desc_id}" font-family={_attr(FONT)} font-size="12">',
        f'<title id="{title_id}">{_text(words.title)}</title>',
        f'<desc id="{desc_id}">{_text(words.description)}</desc>',
    ]
    values = [_float(result.value) for result in results]
    targets = [_float(result.target) for result in results]
    ranges = [
        (label, low, high)
        for label, low_amount, high_amount in band
        if (low := _float(low_amount)) is not None and (high := _float(high_amount)) is not None
    ]
    numbers = [number for number in values + targets if number is not None]
    numbers += [number for _label, low, high in ranges for number in (low, high)]
    if not results or not numbers:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" '
            f'fill="{TEXT_COLOUR}">{_text(words.no_data)}</text></svg>'
        )
        return "".join(parts)

    low, high = min([*numbers, 0.0]), max([*numbers, 0.0])
    if high == low:
        high = low + 1
    ticks = nice_ticks(low, high)
    low, high = min(ticks[0], low), max(ticks[-1], high)
    labels = [result.period for result in results]
    labels += [label for label, _low, _high in ranges if label not in labels]
    count = len(labels)
    band_width = plot_width / count

    def x_of(index: int) -> float:
        return round(left + (index + 0.5) * band_width, 1)

    def y_of(number: float) -> float:
        return round(top + plot_height - (number - low) / (high - low) * plot_height, 1)

    # Grid and the value axis.
    for tick in ticks:
        y = y_of(tick)
        parts.append(
            f'<line x1="{left}" y1="{y}" x2="{width - right}" y2="{y}" '
            f'stroke="{GRID_COLOUR}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y + 4}" text-anchor="end" fill="{TEXT_COLOUR}">'
            f"{_text(format_value(tick))}</text>"
        )
    axis_y = y_of(0.0) if low <= 0 <= high else top + plot_height
    parts.append(
        f'<line x1="{left}" y1="{axis_y}" x2="{width - right}" y2="{axis_y}" '
        f'stroke="{TEXT_COLOUR}" stroke-width="1"/>'
    )
    # Period labels, thinned out to what fits.
    every = max(1, math.ceil(count / max(1, plot_width // 64)))
    for index, label in enumerate(labels):
        if index % every:
            continue
        parts.append(
            f'<text x="{x_of(index)}" y="{height - bottom + 18}" text-anchor="middle" '
            f'fill="{TEXT_COLOUR}">{_text(label)}</text>'
        )

    # The forecast range: a shaded area from low to high through its periods.
    if ranges:
        where = {label: index for index, label in enumerate(labels)}
        ordered = sorted(ranges, key=lambda item: where[item[0]])
        upper = [f"{x_of(where[label])},{y_of(high)}" for label, _low, high in ordered]
        lower = [f"{x_of(where[label])},{y_of(low)}" for label, low, _high in reversed(ordered)]
        tip = "; ".join(
            f"{label}: {format_value(low)} – {format_value(high)}" for label, low, high in ordered
        )
        parts.append(
            f'<g class="forecast-band"><title>{_text(f"{words.forecast}: {tip}")}</title>'
            f'<polygon points="{" ".join(upper + lower)}" fill="{BAND_COLOUR}" '
            f'fill-opacity="0.15" stroke="{BAND_COLOUR}" stroke-opacity="0.4" '
            'stroke-width="1"/></g>'
        )

    # The target in force: a step line, one flat piece per period, joined at changes.
    path: list[str] = []
    previous: float | None = None
    for index, target in enumerate(targets):
        if target is None:
            previous = None
            continue
        y = y_of(target)
        half = band_width / 2
        x_start, x_end = round(x_of(index) - half, 1), round(x_of(index) + half, 1)
        path.append(f"{'L' if previous is not None else 'M'}{x_start},{y}")
        path.append(f"L{x_end},{y}")
        previous = target
    if path:
        parts.append(
            f'<path class="target-line" d="{" ".join(path)}" fill="none" '
            f'stroke="{TARGET_COLOUR}" stroke-width="2" stroke-dasharray="6 4"/>'
        )

    # Where a target version starts within the range: a marker with its value.
    first_start, last_start = results[0].period_start, results[-1].period_start
    placed: list[float] = []
    for version in sorted(target_versions, key=lambda item: item.effective_start):
        if not first_start < version.effective_start <= last_start:
            continue
        index = next(
            i for i, result in enumerate(results) if result.period_start >= version.effective_start
        )
        x = round(x_of(index) - band_width / 2, 1)
        row = sum(1 for other in placed if abs(other - x) < 70) % 2
        placed.append(x)
        amount = _float(version.value)
        text = f"{version.effective_from}: {format_value(amount) if amount is not None else ''}"
        tip = f"{words.change} {text}" + (f" ({version.reason})" if version.reason else "")
        label_y = top - 8 - row * 14
        parts.append(
            f'<g class="target-change"><title>{_text(tip)}</title>'
            f'<line x1="{x}" y1="{label_y + 4}" x2="{x}" y2="{top + plot_height}" '
            f'stroke="{MARKER_COLOUR}" stroke-width="1.5" stroke-dasharray="2 3"/>'
            f'<text x="{x + 4}" y="{label_y}" fill="{MARKER_COLOUR}">◆ {_text(text)}</text></g>'
        )

    # The values: a line broken where a value is missing, and a dot per period.
    segment: list[str] = []
    for index, value in enumerate([*values, None]):
        if value is None:
            if len(segment) > 1:
                parts.append(
                    f'<polyline class="value-line" points="{" ".join(segment)}" fill="none" '
                    f'stroke="{VALUE_COLOUR}" stroke-width="2.5" stroke-linejoin="round"/>'
                )
            segment = []
            continue
        segment.append(f"{x_of(index)},{y_of(value)}")
    for index, (result, value) in enumerate(zip(results, values, strict=True)):
        if value is None:
            continue
        target = targets[index]
        tip = f"{result.period}: {format_value(value)}"
        if target is not None:
            tip += f" ({words.target} {format_value(target)})"
        if result.period in anomalies:
            parts.append(
                f'<circle class="anomaly" cx="{x_of(index)}" cy="{y_of(value)}" r="8" '
                f'fill="none" stroke="{ANOMALY_COLOUR}" stroke-width="2">'
                f"<title>{_text(f'{words.anomaly}: {tip}')}</title></circle>"
            )
        parts.append(
            f'<circle cx="{x_of(index)}" cy="{y_of(value)}" r="3.5" fill="{VALUE_COLOUR}">'
            f"<title>{_text(tip)}</title></circle>"
        )

    # Legend.
    legend_y = 16
    parts.append(
        f'<g class="legend" fill="{TEXT_COLOUR}">'
        f'<line x1="{left}" y1="{legend_y}" x2="{left + 24}" y2="{legend_y}" '
        f'stroke="{VALUE_COLOUR}" stroke-width="2.5"/>'
        f'<text x="{left + 30}" y="{legend_y + 4}">{_text(words.value)}</text>'
        f'<line x1="{left + 150}" y1="{legend_y}" x2="{left + 174}" y2="{legend_y}" '
        f'stroke="{TARGET_COLOUR}" stroke-width="2" stroke-dasharray="6 4"/>'
        f'<text x="{left + 180}" y="{legend_y + 4}">{_text(words.target)}</text>'
        f'<text x="{left + 300}" y="{legend_y + 4}" fill="{MARKER_COLOUR}">'
        f"◆ {_text(words.change)}</text>"
    )
    # The forecast range and unusual values, when shown, under the period labels.
    extra_x, extra_y = left, height - 10
    if ranges:
        parts.append(
            f'<rect x="{extra_x}" y="{extra_y - 6}" width="24" height="12" '
            f'fill="{BAND_COLOUR}" fill-opacity="0.15" stroke="{BAND_COLOUR}" '
            'stroke-opacity="0.4"/>'
            f'<text x="{extra_x + 30}" y="{extra_y + 4}">{_text(words.forecast)}</text>'
        )
        extra_x += 150
    if any(result.period in anomalies for result in results):
        parts.append(
            f'<circle cx="{extra_x + 8}" cy="{extra_y}" r="6" fill="none" '
            f'stroke="{ANOMALY_COLOUR}" stroke-width="2"/>'
            f'<text x="{extra_x + 20}" y="{extra_y + 4}">{_text(words.anomaly)}</text>'
        )
    parts.append("</g></svg>")
    return "".join(parts)
