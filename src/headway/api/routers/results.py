"""Computed results of a KPI, per period and group; read-only (recomputing is a job)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from ninja import Query, Router

from headway.accounts.models import Organization
from headway.api.errors import READ_ERRORS
from headway.api.lookups import kpi_by_key, page
from headway.api.schemas import ResultFilters, ResultOut, ResultPage
from headway.lib.periods import Period, PeriodLabelError, parse_period_label
from headway.results.models import Result
from headway.results.selectors import recompute_refusal

router = Router(tags=["Results"])


def _period(label: str, field: str, fiscal_year_start: int) -> Period:
    try:
        return parse_period_label(label.strip(), fiscal_year_start)
    except PeriodLabelError as error:
        raise ValidationError({field: str(error)}) from None


@router.get(
    "/kpis/{key}/results",
    response={200: ResultPage, **READ_ERRORS},
    summary="List a KPI's results",
    description="The organisation's totals by default; with `group_dimension`, the results "
    "of each group of that dimension (or of one, with `group_value`). `from` and `to` are "
    "period labels of any grain: `to=2026-Q2` includes April to June.",
)
def results_list(request: HttpRequest, key: str, filters: Query[ResultFilters]) -> ResultPage:
    kpi = kpi_by_key(key)
    if filters.group_value is not None and not filters.group_dimension:
        raise ValidationError({"group_value": "a group value needs its group_dimension"})
    query = Result.objects.filter(kpi=kpi, group_dimension=filters.group_dimension)
    if filters.group_value is not None:
        query = query.filter(group_value=filters.group_value)
    fiscal_year_start = Organization.current().fiscal_year_start
    if filters.period_from:
        start = _period(filters.period_from, "from", fiscal_year_start)
        query = query.filter(period_start__gte=start.start)
    if filters.period_to:
        end = _period(filters.period_to, "to", fiscal_year_start)
        query = query.filter(period_start__lte=end.last_day)
    query = query.order_by("period_start", "group_value")
    refusal = recompute_refusal(kpi)
    items, count = page(query, filters, lambda result: ResultOut.of(result, kpi.key, refusal))
    return ResultPage(items=items, count=count, limit=filters.limit, offset=filters.offset)


@router.get(
    "/kpis/{key}/results/{period}",
    response={200: ResultOut, **READ_ERRORS},
    summary="Read one result: a period's total, or a group's (group_dimension, group_value)",
)
def results_read(
    request: HttpRequest,
    key: str,
    period: str,
    group_dimension: str = "",
    group_value: str = "",
) -> ResultOut:
    kpi = kpi_by_key(key)
    found = Result.objects.filter(
        kpi=kpi, period=period.strip(), group_dimension=group_dimension, group_value=group_value
    ).first()
    if found is None:
        raise Http404(f"KPI {key!r} has no result for {period!r}")
    return ResultOut.of(found, kpi.key, recompute_refusal(kpi))
