"""Template tags for KPI values, statuses, trends and sparklines.

`{% load headway %}`. Values are formatted by unit in the active language; statuses
always show an icon and a word, never colour alone.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.utils import formats
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from headway.reports import charts
from headway.reports.formatting import (
    NO_VALUE,
    TREND_ARROWS,
    Amount,
    attainment_text,
    kpi_value_text,
    number_text,
    period_name,
    status_of,
    trend_words,
)
from headway.results.selectors import SPARKLINE_PERIODS, KpiCard
from headway.web.queries import Rights

register = template.Library()


def _currency(context: template.Context) -> str:
    organization = context.get("organization")
    return getattr(organization, "currency", "") or ""


@register.simple_tag(takes_context=True)
def kpi_value(context: template.Context, value: Amount | None, kpi: Any) -> str:
    """`{% kpi_value result.value kpi %}`: 8.3%, TWD 5,000, 1,234."""
    return kpi_value_text(_amount(value), kpi.unit, _currency(context))


def _amount(value: Any) -> Amount | None:
    # A missing result reads as "" in a template: no value, as None.
    return None if value is None or value == "" else value


@register.filter
def attainment(value: Amount | None) -> str:
    return attainment_text(_amount(value))


@register.filter
def period(result: Any) -> str:
    """A result's or target's period in words: `{{ result|period }}`."""
    label = getattr(result, "period", None) or getattr(result, "effective_from", None)
    start = getattr(result, "period_start", None) or getattr(result, "effective_start", None)
    if label is None:
        return period_name(str(result))
    return period_name(label, start)


@register.simple_tag
def status_badge(status: Any) -> SafeString:
    """● On track, ▲ At risk, ■ Off track, ○ No target: an icon and a word."""
    chosen = status_of(status)
    return format_html(
        '<span class="status {}"><span class="status-icon" aria-hidden="true">{}</span> {}</span>',
        chosen.css,
        chosen.icon,
        chosen.label,
    )


@register.simple_tag
def trend_badge(card: KpiCard) -> SafeString:
    """↑ ↓ → with words for screen readers; coloured good or bad by the KPI's direction."""
    trend = card.trend
    good = card.trend_is_good
    css = "trend-good" if good is True else "trend-bad" if good is False else "trend-flat"
    words = trend_words(trend, good)
    return format_html(
        '<span class="trend {}" title="{}"><span aria-hidden="true">{}</span>'
        '<span class="visually-hidden">{}</span></span>',
        css,
        words,
        TREND_ARROWS.get(trend, "·"),
        words,
    )


@register.simple_tag
def sparkline(card: KpiCard) -> SafeString:
    values = card.sparkline
    title = _("The last %(count)s periods") % {"count": len(values)} if values else ""
    # charts escapes every text it writes.
    return mark_safe(charts.sparkline(values, title=title))  # noqa: S308


@register.simple_tag
def safe_svg(svg: str) -> SafeString:
    """SVG made by `headway.reports.charts`, which escapes all text itself."""
    return mark_safe(svg)  # noqa: S308


@register.filter
def can_edit(rights: Rights | None, team_id: int | None) -> bool:
    """`{% if rights|can_edit:kpi.team_id %}`: show the edit buttons."""
    return rights is not None and rights.can_edit(team_id)


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.simple_tag
def status_icon(status: Any) -> SafeString:
    """The status's icon with its word for screen readers and as a tooltip (for tight
    tables, which carry a legend)."""
    chosen = status_of(status)
    return format_html(
        '<span class="status-mark {}" title="{}"><span aria-hidden="true">{}</span>'
        '<span class="visually-hidden">{}</span></span>',
        chosen.css,
        chosen.label,
        chosen.icon,
        chosen.label,
    )


@register.simple_tag
def series_sparkline(results: list[Any], label: str = "") -> SafeString:
    values = [result.value for result in results][-SPARKLINE_PERIODS:]
    title = _("%(group)s, the last %(count)s periods") % {"group": label, "count": len(values)}
    return mark_safe(charts.sparkline(values, title=title if values else ""))  # noqa: S308


@register.simple_tag
def plain_number(value: Any) -> str:
    """A measure value as it is: grouped by thousands, up to four decimals."""
    if value is None or value == "" or isinstance(value, bool):
        return NO_VALUE
    if not isinstance(value, int | float | Decimal):
        return str(value)
    text = number_text(value, 4)
    decimal_mark = str(formats.get_format("DECIMAL_SEPARATOR"))
    if decimal_mark in text:
        text = text.rstrip("0").rstrip(decimal_mark)
    return text
