"""Target versions of a KPI: listed, and appended. There is no update and no delete: a
changed target is a new version from a period on, with its reason and who decided it."""

from __future__ import annotations

from django.http import Http404, HttpRequest
from ninja import Query, Router, Status

from headway.api.auth import writer
from headway.api.checks import engine_checked
from headway.api.errors import READ_ERRORS, WRITE_ERRORS
from headway.api.lookups import kpi_by_key, page
from headway.api.schemas import PageParams, TargetIn, TargetOut, TargetPage
from headway.kpis.models import TargetVersion
from headway.kpis.services import target_revise
from headway.results.services import results_refresh_kpi

router = Router(tags=["Targets"])


@router.get(
    "/kpis/{key}/targets",
    response={200: TargetPage, **READ_ERRORS},
    summary="List a KPI's target versions, oldest period first",
)
def targets_list(request: HttpRequest, key: str, filters: Query[PageParams]) -> TargetPage:
    kpi = kpi_by_key(key)
    query = (
        TargetVersion.objects.filter(kpi=kpi)
        .select_related("decided_by")
        .order_by("effective_start", "where_dimension", "where_value", "pk")
    )
    items, count = page(query, filters, lambda target: TargetOut.of(target, kpi.key))
    return TargetPage(items=items, count=count, limit=filters.limit, offset=filters.offset)


@router.get(
    "/kpis/{key}/targets/{target_id}",
    response={200: TargetOut, **READ_ERRORS},
    summary="Read one target version",
)
def targets_read(request: HttpRequest, key: str, target_id: int) -> TargetOut:
    kpi = kpi_by_key(key)
    target = (
        TargetVersion.objects.filter(kpi=kpi, pk=target_id).select_related("decided_by").first()
    )
    if target is None:
        raise Http404(f"KPI {key!r} has no target version {target_id}")
    return TargetOut.of(target, kpi.key)


@router.post(
    "/kpis/{key}/targets",
    response={201: TargetOut, **WRITE_ERRORS},
    summary="Add a target version (earlier versions stay as they are)",
)
def targets_create(request: HttpRequest, key: str, payload: TargetIn) -> Status[TargetOut]:
    by = writer(request)
    kpi = kpi_by_key(key)
    with engine_checked():
        target = target_revise(
            kpi=kpi,
            by=by,
            effective_from=payload.effective_from,
            value=payload.value,
            reason=payload.reason,
            where_dimension=payload.where_dimension,
            where_value=payload.where_value,
            origin=payload.origin.value,
            origin_reference=payload.origin_reference,
        )
    # As in the web UI: the KPI's results follow the new target at once.
    results_refresh_kpi(key=kpi.key, by=by)
    return Status(201, TargetOut.of(target, kpi.key))
