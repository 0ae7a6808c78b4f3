"""KPIs: everyone signed in reads them; admins, and managers for their teams, write.

A KPI's goal links (with weights), thresholds, formula, unit, direction, grain, team and
owner are part of it; its targets and results have their own endpoints.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import HeaderEx, P, Query, Router, Status
from pydantic import Field

from headway.api import lookups
from headway.api.auth import writer
from headway.api.checks import engine_checked
from headway.api.errors import READ_ERRORS, UPDATE_ERRORS, WRITE_ERRORS
from headway.api.lookups import (
    etag,
    expected_version,
    goal_ref,
    if_match_checked,
    kpi_by_key,
    page,
    person_ref,
    team_ref,
)
from headway.api.schemas import (
    GoalLinkIn,
    KpiIn,
    KpiOut,
    KpiPage,
    KpiPatch,
    PageParams,
    SlugKey,
)
from headway.goals.models import Goal
from headway.kpis.services import kpi_create, kpi_update
from headway.results.services import results_refresh_kpi

router = Router(tags=["KPIs"])


class KpiFilters(PageParams):
    team: SlugKey | None = Field(default=None, description="Only this team's KPIs")
    goal: SlugKey | None = Field(default=None, description="Only the KPIs that serve this goal")
    include_retired: bool = Field(default=False, description="Also list retired KPIs")


def _goal_links(links: list[GoalLinkIn]) -> list[tuple[Goal, Decimal]]:
    resolved = []
    for position, link in enumerate(links):
        goal = goal_ref(link.goal, f"goals.{position}.goal")
        assert goal is not None
        resolved.append((goal, link.weight))
    return resolved


def _answer(response: HttpResponse, key: str) -> KpiOut:
    kpi = kpi_by_key(key)
    response["ETag"] = etag(kpi.version)
    return KpiOut.of(kpi)


@router.get("", response={200: KpiPage, **READ_ERRORS}, summary="List KPIs")
def kpis_list(request: HttpRequest, filters: Query[KpiFilters]) -> KpiPage:
    query = lookups.kpis()
    if not filters.include_retired:
        query = query.filter(is_active=True)
    if filters.team is not None:
        query = query.filter(team__key=filters.team)
    if filters.goal is not None:
        query = query.filter(goal_links__goal__key=filters.goal)
    items, count = page(query, filters, KpiOut.of)
    return KpiPage(items=items, count=count, limit=filters.limit, offset=filters.offset)


@router.get("/{key}", response={200: KpiOut, **READ_ERRORS}, summary="Read a KPI", url_name="kpi")
def kpis_read(request: HttpRequest, key: str, response: HttpResponse) -> KpiOut:
    return _answer(response, key)


@router.post("", response={201: KpiOut, **WRITE_ERRORS}, summary="Create a KPI")
def kpis_create(request: HttpRequest, payload: KpiIn, response: HttpResponse) -> Status[KpiOut]:
    by = writer(request)
    team, owner, goals = (
        team_ref(payload.team),
        person_ref(payload.owner),
        _goal_links(payload.goals),
    )
    with engine_checked():
        kpi = kpi_create(
            by=by,
            key=payload.key,
            name=payload.name,
            description=payload.description,
            entry=payload.entry.value,
            manual_approval=payload.manual_approval,
            formula=payload.formula,
            unit=payload.unit.value,
            direction=payload.direction.value,
            grain=payload.grain.value,
            team=team,
            owner=owner,
            threshold_green=payload.thresholds.green,
            threshold_amber=payload.thresholds.amber,
            goals=goals,
        )
    # As in the web UI: the KPI's results follow the change at once.
    results_refresh_kpi(key=kpi.key, by=by)
    response["Location"] = reverse("api:kpi", kwargs={"key": kpi.key})
    return Status(201, _answer(response, kpi.key))


@router.patch("/{key}", response={200: KpiOut, **UPDATE_ERRORS}, summary="Change a KPI")
def kpis_update(
    request: HttpRequest,
    key: str,
    payload: KpiPatch,
    response: HttpResponse,
    if_match: HeaderEx[str | None, P(alias="If-Match")] = None,
) -> KpiOut:
    by = writer(request)
    kpi = kpi_by_key(key)
    version = expected_version(payload.version, if_match)
    changes = payload.changes()
    fields: dict[str, Any] = {}
    for name in ("name", "description", "formula", "manual_approval"):
        if name in changes:
            fields[name] = changes[name]
    for name in ("entry", "unit", "direction", "grain"):
        if name in changes:
            fields[name] = changes[name].value
    if "team" in changes:
        fields["team"] = team_ref(changes["team"])
    if "owner" in changes:
        fields["owner"] = person_ref(changes["owner"])
    if payload.thresholds is not None:
        for name in sorted(payload.thresholds.model_fields_set):
            value = getattr(payload.thresholds, name)
            if value is None:
                raise ValidationError({f"threshold_{name}": f"thresholds.{name} cannot be null"})
            fields[f"threshold_{name}"] = value
    goals = _goal_links(payload.goals) if payload.goals is not None else None
    with engine_checked(), if_match_checked(if_match):
        kpi_update(kpi=kpi, by=by, expected_version=version, goals=goals, **fields)
    results_refresh_kpi(key=key, by=by)
    return _answer(response, key)
