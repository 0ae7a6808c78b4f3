"""Reads the web pages need beyond `results.selectors`: what a person may edit (to show
or hide buttons), a KPI's measures, breakdown tables, and the engine's explanations and
previews (a draft formula's values come from `results.drafts`, which proposals use too).
Nothing here writes."""

from __future__ import annotations

import datetime
import hashlib
import zoneinfo
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.db.models import Subquery
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import get_language

from headway.accounts.models import Membership, Organization, Team
from headway.accounts.permissions import is_admin, managed_team_ids
from headway.audit.models import AuditEntry
from headway.engine.explain import Explanation, explain
from headway.engine.formula import FormulaError, measure_names, parse_formula
from headway.goals.models import Goal
from headway.kpis.choices import EntryKind
from headway.kpis.models import Kpi, Measure
from headway.results.drafts import DraftValue as DraftValue
from headway.results.drafts import draft_values as draft_values
from headway.results.models import Result
from headway.results.services import app_workspace


class Rights:
    """What the signed-in person may edit, worked out once per request.

    Pages use it to show or hide buttons without a query per KPI; every view that
    writes checks again with `accounts.permissions`, and the services check once more.
    """

    def __init__(self, user: Any) -> None:
        self.user = user

    @cached_property
    def admin(self) -> bool:
        return is_admin(self.user)

    @cached_property
    def managed(self) -> frozenset[int]:
        return frozenset() if self.admin else frozenset(managed_team_ids(self.user))

    def can_edit(self, team_id: int | None) -> bool:
        return self.admin or (team_id is not None and team_id in self.managed)

    @property
    def can_create(self) -> bool:
        return self.admin or bool(self.managed)


def organization_of(request: HttpRequest) -> Organization | None:
    """The organisation, read once per request (the header of every page shows it)."""
    if not hasattr(request, "_headway_organization"):
        # With the newest audit entry and Result, which key the cached lists of KPIs
        # (kpi_lists_version): no query of their own.
        request._headway_organization = (  # type: ignore[attr-defined]
            Organization.objects.order_by("pk")
            .annotate(
                newest_audit=Subquery(AuditEntry.objects.order_by("-pk").values("pk")[:1]),
                newest_result=Subquery(Result.objects.order_by("-pk").values("pk")[:1]),
            )
            .first()
        )
    found: Organization | None = request._headway_organization  # type: ignore[attr-defined]
    return found


def rights_of(request: HttpRequest) -> Rights:
    found = getattr(request, "_headway_rights", None)
    if found is None:
        found = Rights(getattr(request, "user", None))
        request._headway_rights = found  # type: ignore[attr-defined]
    return found


def kpi_measures(kpi: Kpi) -> list[Measure]:
    """The measures a KPI's formula names, in the formula's order, with their datasets."""
    if kpi.entry == EntryKind.MANUAL or not kpi.formula:
        return []
    try:
        names = measure_names(parse_formula(kpi.formula))
    except FormulaError:
        return []
    found = {
        measure.name: measure
        for measure in Measure.objects.filter(name__in=names).select_related("dataset")
    }
    return [found[name] for name in names if name in found]


def shared_dimensions(measures: list[Measure]) -> list[str]:
    """The dimensions every dataset of the measures has: what the KPI can be broken down by."""
    shared: set[str] | None = None
    for measure in measures:
        dimensions = set(measure.dataset.dimensions or [])
        shared = dimensions if shared is None else shared & dimensions
    return sorted(shared or ())


def team_names() -> dict[str, str]:
    return dict(Team.objects.values_list("key", "name"))


@dataclass
class BreakdownRow:
    group: str
    label: str
    cells: list[Result | None]
    series: list[Result]
    # The group is one of the organisation's teams (its page can be linked).
    is_team: bool = False

    @property
    def latest(self) -> Result | None:
        return self.series[-1] if self.series else None


@dataclass
class BreakdownTable:
    dimension: str
    periods: list[tuple[str, datetime.date]]
    rows: list[BreakdownRow] = field(default_factory=list)


def breakdown_table(
    dimension: str,
    groups: dict[str, list[Result]],
    *,
    last: int = 6,
    labels: dict[str, str] | None = None,
) -> BreakdownTable:
    """The groups of a dimension as rows and their latest periods as columns.

    `labels` names the groups (a team's name for its key) and marks them as teams."""
    starts: dict[datetime.date, str] = {}
    for results in groups.values():
        for result in results:
            starts[result.period_start] = result.period
    periods = [(starts[start], start) for start in sorted(starts)[-last:]]
    table = BreakdownTable(dimension=dimension, periods=periods)
    for group, results in groups.items():
        by_start = {result.period_start: result for result in results}
        table.rows.append(
            BreakdownRow(
                group=group,
                label=(labels or {}).get(group, group) or group,
                cells=[by_start.get(start) for _, start in periods],
                series=results,
                is_team=labels is not None and group in labels,
            )
        )
    return table


def goal_ancestors(goal: Goal) -> list[Goal]:
    """The goals above this one, the top first (a short walk up the tree)."""
    chain: list[Goal] = []
    seen = {goal.pk}
    parent_id = goal.parent_id
    while parent_id is not None and parent_id not in seen:
        parent = Goal.objects.filter(pk=parent_id).first()
        if parent is None:
            break
        chain.append(parent)
        seen.add(parent.pk)
        parent_id = parent.parent_id
    return list(reversed(chain))


def team_memberships(team: Team) -> list[Membership]:
    return list(
        Membership.objects.filter(team=team)
        .select_related("user")
        .order_by("-is_manager", "user__display_name", "user__email")
    )


def explanation(key: str, period_label: str | None) -> Explanation:
    """The engine's account of one number: formula, measures, period bounds, SQL, inputs.

    Raises `headway.engine.problems.HeadwayError` when the KPI or period cannot be
    explained (a KPI entered by hand, a retired one, a period outside the data).
    """
    return explain(app_workspace(), key, period_label)


def organization_today(organization: Organization) -> datetime.date:
    """Today's date where the organisation is: periods follow its time zone."""
    try:
        zone: datetime.tzinfo = zoneinfo.ZoneInfo(organization.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = datetime.UTC
    return timezone.localdate(timezone=zone)


# How long a rendered list of KPIs may be served from the cache at most. Its key changes
# with every write (below), so this only bounds the one case a key cannot see: on
# PostgreSQL two writes may commit in the opposite order of their audit ids.
LIST_CACHE_SECONDS = 300


def kpi_lists_version(organization: Organization) -> str:
    """A digest of what the goal tree and the lists of KPIs show, for the keys of their
    cached HTML: the newest audit entry (every write records one in its transaction:
    goals, KPIs, targets, teams, imports and recomputes all do), the newest Result (rows
    loaded without the audit log too), the organisation, today's date where it is, and
    the language. `organization_of` reads the first two with the organisation. A dataset
    turning stale with the clock shows within LIST_CACHE_SECONDS."""
    parts = (
        getattr(organization, "newest_audit", None),
        getattr(organization, "newest_result", None),
        organization.pk,
        organization.timezone,
        organization.currency,
        organization.version,
        organization_today(organization),
        get_language(),
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
