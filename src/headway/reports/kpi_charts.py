"""A KPI's chart against its targets, in the active language: the one picture the KPI
page, the report page, the PDF and the e-mail all show."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from decimal import Decimal

from django.utils.translation import gettext as _

from headway.engine.problems import HeadwayError
from headway.kpis.models import Kpi, TargetVersion
from headway.reports import charts
from headway.reports.formatting import grain_word, kpi_value_text, period_name, status_of
from headway.results.analysis import KpiAnalysis, analyse_kpi
from headway.results.models import Result


def kpi_chart_svg(
    kpi: Kpi,
    results: Sequence[Result],
    targets: Sequence[TargetVersion],
    currency: str,
    *,
    band: Sequence[charts.BandPoint] = (),
    anomalies: Collection[str] = (),
    width: int = 720,
    height: int = 300,
) -> str:
    """The SVG of `results` (one series in period order) against the target in force, with
    a marker where one of `targets` starts; optionally a forecast band and unusual values."""
    latest = next((result for result in reversed(results) if result.value is not None), None)

    def value_text(value: float) -> str:
        return kpi_value_text(value, kpi.unit, currency)

    if latest is not None:
        description = _(
            "%(name)s %(grain)s from %(first)s to %(last)s, against the target in force. "
            "The latest value, for %(period)s, is %(value)s against a target of %(target)s "
            "(%(status)s)."
        ) % {
            "name": kpi.name,
            "grain": grain_word(kpi.grain),
            "first": period_name(results[0].period, results[0].period_start),
            "last": period_name(results[-1].period, results[-1].period_start),
            "period": period_name(latest.period, latest.period_start),
            "value": kpi_value_text(latest.value, kpi.unit, currency),
            "target": kpi_value_text(latest.target, kpi.unit, currency),
            "status": status_of(latest.status).label,
        }
    else:
        description = _("%(name)s has no values yet.") % {"name": kpi.name}
    return charts.kpi_chart(
        results,
        targets,
        words=charts.ChartWords(
            title=_("%(name)s against its target") % {"name": kpi.name},
            description=description,
            value=_("Value"),
            target=_("Target"),
            change=_("New target"),
            no_data=_("No values yet"),
            forecast=_("Forecast range"),
            anomaly=_("Unusual value"),
        ),
        format_value=value_text,
        ident=f"chart-{kpi.key}",
        band=band,
        anomalies=anomalies,
        width=width,
        height=height,
    )


def kpi_analysis(kpi: Kpi, period: str | None = None) -> KpiAnalysis | None:
    """The analysis of the KPI's period (its latest by default), or None for a KPI it
    cannot analyse (one with no results, say)."""
    try:
        return analyse_kpi(kpi, period)
    except (HeadwayError, ValueError):
        return None


def forecast_band(analysis: KpiAnalysis | None) -> list[charts.BandPoint]:
    """The analysis's 80% forecast range per period, as a chart draws it."""
    if analysis is None or analysis.forecast is None:
        return []
    return [
        (point.period, Decimal(repr(point.low80)), Decimal(repr(point.high80)))
        for point in analysis.forecast.points
    ]
