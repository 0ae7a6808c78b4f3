"""A KPI's chart against its targets, in the active language: the one picture the KPI
page, the report page, the PDF and the e-mail all show."""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Collection, Sequence
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db.models import Aggregate, Count, Max, OuterRef, QuerySet, Subquery, Sum, Value
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from headway.accounts.models import Organization, Team
from headway.changes.generations import GenerationBox, current
from headway.engine.problems import HeadwayError
from headway.kpis.models import Kpi, Measure, TargetVersion
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
    a marker where one of `targets` starts; optionally a forecast band and unusual values.

    Kept in the cache under a digest of everything drawn (the KPI's words, every value and
    target, the band, the language), so a new result or target makes a new entry and an
    old picture is never shown."""
    parts: list[object] = [
        kpi.key,
        kpi.name,
        kpi.unit,
        kpi.grain,
        currency,
        get_language(),
        width,
        height,
        sorted(anomalies),
        [(r.period, r.period_start, r.value, r.target, r.status) for r in results],
        [(t.effective_from, t.effective_start, t.value, t.reason) for t in targets],
        list(band),
    ]
    key = "kpi-chart:" + hashlib.sha256(repr(parts).encode()).hexdigest()
    found = cache.get(key)
    if isinstance(found, str):
        return found
    svg = _kpi_chart_svg(
        kpi, results, targets, currency, band=band, anomalies=anomalies, width=width, height=height
    )
    cache.set(key, svg)
    return svg


def _kpi_chart_svg(
    kpi: Kpi,
    results: Sequence[Result],
    targets: Sequence[TargetVersion],
    currency: str,
    *,
    band: Sequence[charts.BandPoint],
    anomalies: Collection[str],
    width: int,
    height: int,
) -> str:
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


def kpi_analysis(
    kpi: Kpi, period: str | None = None, *, version: str | None = None
) -> KpiAnalysis | None:
    """The analysis of the KPI's period (its latest by default), or None for a KPI it
    cannot analyse (one with no results, say).

    A forecast takes about a tenth of a second, so the analysis is cached under what it
    is made from (see `kpi_data_version`): a recompute, a new target, an edit of the KPI,
    its measures or the teams, or a new day gives a new key. A caller that has just read
    `kpi_data_version` passes it as `version`, saving the query."""
    key = f"kpi-analysis:{kpi.pk}:{period or ''}:{version or kpi_data_version(kpi)}"
    found = cache.get(key)
    if found is not None:
        return found if isinstance(found, KpiAnalysis) else None
    try:
        analysis: KpiAnalysis | None = analyse_kpi(kpi, period)
    except (HeadwayError, ValueError):
        analysis = None
    # A KPI that cannot be analysed is remembered too (as False: None means "not cached").
    cache.set(key, analysis if analysis is not None else False)
    return analysis


def kpi_data_version(kpi: Kpi) -> str:
    """A digest of everything a KPI's analysis reads, in one query: its results (how many,
    the sum of their ids and the newest computation; rows are only ever added or deleted,
    never updated), its target versions (never edited either), the KPI itself, the
    measures, the teams' names, the organisation's calendar and today's date where it is.

    The row is kept in the process while the data's generation stays (headway.changes):
    building this query of 14 subqueries costs more than running it."""
    generations = current()
    if generations is not None:
        kept = _VERSION_ROWS.get(generations.data, kpi.pk)
        if kept is not None:
            return _digest(kept)
    row = _version_row(kpi)
    if row is not None and generations is not None:
        _VERSION_ROWS.put(generations.data, kpi.pk, row)
    return _digest(row) if row is not None else "gone"


_VERSION_ROWS: GenerationBox[int, dict[str, Any]] = GenerationBox()


def _digest(row: dict[str, Any]) -> str:
    parts = (sorted(row.items()), _today(str(row["zone"] or "UTC")))
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def _version_row(kpi: Kpi) -> dict[str, Any] | None:
    mine = OuterRef("pk")
    row = (
        Kpi.objects.filter(pk=kpi.pk)
        .values(
            "version",
            "formula",
            "direction",
            "grain",
            "unit",
            "entry",
            "threshold_green",
            "threshold_amber",
            n_results=_scalar(Result.objects.filter(kpi_id=mine), Count("pk")),
            # Sum, not Max: PostgreSQL answers MAX(id) of one KPI by walking the whole
            # table's primary key backwards (44 ms at 150,000 results; the sum takes the
            # KPI's index). Ids only grow, so the count and the sum change with any row
            # added or deleted.
            sum_results=_scalar(Result.objects.filter(kpi_id=mine), Sum("pk")),
            computed=_scalar(Result.objects.filter(kpi_id=mine), Max("computed_at")),
            n_targets=_scalar(TargetVersion.objects.filter(kpi_id=mine), Count("pk")),
            last_target=_scalar(TargetVersion.objects.filter(kpi_id=mine), Max("pk")),
            n_measures=_scalar(Measure.objects.all(), Count("pk")),
            last_measure=_scalar(Measure.objects.all(), Max("pk")),
            measures_versions=_scalar(Measure.objects.all(), Sum("version")),
            n_teams=_scalar(Team.objects.all(), Count("pk")),
            teams_versions=_scalar(Team.objects.all(), Sum("version")),
            zone=Subquery(Organization.objects.order_by("pk").values("timezone")[:1]),
            fiscal=Subquery(Organization.objects.order_by("pk").values("fiscal_year_start")[:1]),
        )
        .first()
    )
    return dict(row) if row is not None else None


def _scalar(queryset: QuerySet[Any], aggregate: Aggregate) -> Subquery:
    """One aggregate over a whole queryset, as a subquery of another query."""
    return Subquery(
        queryset.order_by().annotate(_all=Value(1)).values("_all").annotate(x=aggregate).values("x")
    )


def _today(zone: str) -> datetime.date:
    try:
        return timezone.now().astimezone(ZoneInfo(zone)).date()
    except (ValueError, KeyError):
        return timezone.now().date()


def forecast_band(analysis: KpiAnalysis | None) -> list[charts.BandPoint]:
    """The analysis's 80% forecast range per period, as a chart draws it."""
    if analysis is None or analysis.forecast is None:
        return []
    return [
        (point.period, Decimal(repr(point.low80)), Decimal(repr(point.high80)))
        for point in analysis.forecast.points
    ]
