"""Reads for dashboards and pages: goals with their KPIs and latest results, series,
breakdowns and target histories, in a fixed, small number of queries."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from headway.accounts.models import Team, User
from headway.accounts.permissions import is_signed_in, managed_team_ids, team_ids_of
from headway.audit.models import AuditEntry
from headway.goals.models import Goal
from headway.ingestion.freshness import Freshness, stale_kpis
from headway.kpis.models import Kpi, TargetVersion
from headway.results.choices import Status
from headway.results.models import Result

SPARKLINE_PERIODS = 12
# The audit actions of a recompute stored, and of one refused (headway.results.services).
RECOMPUTED = "results.recompute"
RECOMPUTE_REFUSED = "results.recompute_refused"


@dataclass
class KpiCard:
    """A KPI with what a list shows of it: the latest value, target, status and trend."""

    kpi: Kpi
    latest: Result | None
    previous: Result | None
    history: list[Result] = field(default_factory=list)
    # The datasets it reads whose data is older than their freshness limit.
    stale: list[Freshness] = field(default_factory=list)

    @property
    def stale_days(self) -> int | None:
        """How old its stalest data is, in days (0 for under a day; None: fresh)."""
        if not self.stale:
            return None
        return max(item.age_days if item.age_days is not None else 0 for item in self.stale)

    @property
    def status(self) -> Status:
        return Status(self.latest.status) if self.latest else Status.NONE

    @property
    def trend(self) -> str:
        """up, down or flat: how the value moved since the period before."""
        if (
            self.latest is None
            or self.previous is None
            or self.latest.value is None
            or self.previous.value is None
        ):
            return "none"
        if self.latest.value > self.previous.value:
            return "up"
        if self.latest.value < self.previous.value:
            return "down"
        return "flat"

    @property
    def trend_is_good(self) -> bool | None:
        if self.trend in ("none", "flat"):
            return None
        return (self.trend == "up") == (self.kpi.direction == "up")

    @property
    def sparkline(self) -> list[Decimal | None]:
        return [result.value for result in self.history[-SPARKLINE_PERIODS:]]


@dataclass
class GoalNode:
    goal: Goal
    cards: list[KpiCard] = field(default_factory=list)
    children: list[GoalNode] = field(default_factory=list)


def _current_period_cutoff() -> datetime.date:
    """Today in the organisation's time zone: a new month starts at its midnight."""
    from zoneinfo import ZoneInfo

    from headway.accounts.models import Organization

    return timezone.now().astimezone(ZoneInfo(Organization.current().timezone)).date()


def total_results(kpis: QuerySet[Kpi] | list[Kpi]) -> dict[int, list[Result]]:
    """Each KPI's organisation totals in period order, up to the current period."""
    by_kpi: dict[int, list[Result]] = defaultdict(list)
    rows = Result.objects.filter(
        kpi__in=kpis, group_dimension="", period_start__lte=_current_period_cutoff()
    ).order_by("kpi_id", "period_start")
    for row in rows:
        by_kpi[row.kpi_id].append(row)
    return by_kpi


def cards_for(kpis: list[Kpi]) -> list[KpiCard]:
    results = total_results(kpis)
    late = stale_kpis()
    cards = []
    for kpi in kpis:
        history = results.get(kpi.pk, [])
        latest = history[-1] if history else None
        previous = history[-2] if len(history) > 1 else None
        cards.append(
            KpiCard(
                kpi=kpi,
                latest=latest,
                previous=previous,
                history=history,
                stale=late.get(kpi.key, []),
            )
        )
    return cards


def active_kpis() -> QuerySet[Kpi]:
    return Kpi.objects.filter(is_active=True).select_related("team", "owner")


def goal_tree() -> tuple[list[GoalNode], list[KpiCard]]:
    """The goals as a tree, each with its KPIs; and the KPIs that serve no goal."""
    goals = list(Goal.objects.select_related("owner", "team").order_by("position", "key"))
    kpis = list(active_kpis().prefetch_related("goal_links"))
    cards = {card.kpi.pk: card for card in cards_for(kpis)}
    nodes = {goal.pk: GoalNode(goal=goal) for goal in goals}
    linked: set[int] = set()
    for kpi in kpis:
        for link in kpi.goal_links.all():
            if link.goal_id in nodes:
                nodes[link.goal_id].cards.append(cards[kpi.pk])
                linked.add(kpi.pk)
    roots = []
    for goal in goals:
        node = nodes[goal.pk]
        if goal.parent_id is not None and goal.parent_id in nodes:
            nodes[goal.parent_id].children.append(node)
        else:
            roots.append(node)
    unlinked = [card for pk, card in cards.items() if pk not in linked]
    return roots, unlinked


def series(kpi: Kpi, group_dimension: str = "", group_value: str = "") -> list[Result]:
    return list(
        Result.objects.filter(
            kpi=kpi, group_dimension=group_dimension, group_value=group_value
        ).order_by("period_start")
    )


def breakdown(kpi: Kpi, dimension: str, periods: int | None = None) -> dict[str, list[Result]]:
    """Per group value of a dimension, the KPI's results in period order; with `periods`,
    only those of its latest `periods` periods (a page shows no more, and 20 teams over
    five years are 1,200 rows)."""
    rows = Result.objects.filter(kpi=kpi, group_dimension=dimension)
    if periods is not None:
        # The first of the latest `periods` period starts, in the same query.
        first = (
            rows.order_by("-period_start").values("period_start").distinct()[periods - 1 : periods]
        )
        rows = rows.filter(period_start__gte=Coalesce(Subquery(first), Value(datetime.date.min)))
    groups: dict[str, list[Result]] = defaultdict(list)
    # The measure values are for "explain this number", not for tables.
    for row in rows.defer("measures").order_by("group_value", "period_start"):
        groups[row.group_value].append(row)
    return dict(groups)


def breakdown_dimensions(kpi: Kpi) -> list[str]:
    return list(
        Result.objects.filter(kpi=kpi)
        .exclude(group_dimension="")
        .values_list("group_dimension", flat=True)
        .distinct()
        .order_by("group_dimension")
    )


def target_history(kpi: Kpi) -> list[TargetVersion]:
    """Every target version ever decided for the KPI, oldest first."""
    return list(
        TargetVersion.objects.filter(kpi=kpi)
        .select_related("decided_by")
        .order_by("effective_start", "where_dimension", "where_value", "pk")
    )


def kpis_of_goal(goal: Goal) -> list[KpiCard]:
    return cards_for(list(active_kpis().filter(goal_links__goal=goal).distinct()))


def kpis_of_team(team: Team) -> list[KpiCard]:
    return cards_for(list(active_kpis().filter(team=team)))


def my_kpis(user: User) -> list[KpiCard]:
    """The KPIs I own and those of my teams (and of the teams I manage)."""
    if not is_signed_in(user):
        return []
    teams = team_ids_of(user) | managed_team_ids(user)
    return cards_for(list(active_kpis().filter(Q(owner=user) | Q(team_id__in=teams)).distinct()))


@dataclass(frozen=True)
class RecomputeRefusal:
    """That a KPI's last recompute was refused: its stored results are from before."""

    at: datetime.datetime
    reason: str
    by: str


def recompute_refusal(kpi: Kpi) -> RecomputeRefusal | None:
    """The refusal of the KPI's last recompute (a number that cannot be stored), unless a
    recompute of it was stored since; None when its results are as recent as its last
    recompute. Read from the audit log, where both are recorded."""
    entry = (
        AuditEntry.objects.filter(
            action=RECOMPUTE_REFUSED, object_type=Kpi._meta.label_lower, object_id=str(kpi.pk)
        )
        .order_by("-at", "-pk")
        .first()
    )
    if entry is None or Result.objects.filter(kpi=kpi, computed_at__gte=entry.at).exists():
        return None
    # A recompute stored since may have stored no result of the KPI (no data, or only
    # closed periods): its audit row names the KPIs it recomputed.
    stored = AuditEntry.objects.filter(action=RECOMPUTED, at__gte=entry.at, pk__gt=entry.pk)
    for after in stored.values_list("after", flat=True).iterator():
        if isinstance(after, dict) and kpi.key in after.get("kpis", []):
            return None
    return RecomputeRefusal(at=entry.at, reason=entry.reason, by=entry.actor_label)
