"""The monthly report of a period, for the company or a team, built from what is stored.

`build_report` reads the stored results, KPIs, goals, target versions and data freshness
and returns a `Report`: frozen dataclasses holding both the numbers (for Excel) and their
text in the report's language (for the page and the PDF). Nothing is computed here that the
KPI pages would not show the same way: values, targets, attainment and status are those of
the stored results, formatted as the web formats them, and each card's chart is the KPI
page's chart.

Which period of a KPI a report shows: the KPI's own period (of its grain) that contains the
report period's last day, so a monthly report shows March for a monthly KPI, the first
quarter for a quarterly one and the week of 31 March for a weekly one.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from headway.accounts.models import Organization, Team
from headway.engine.problems import HeadwayError
from headway.goals.models import Goal
from headway.ingestion.freshness import Freshness, stale_kpis
from headway.kpis.choices import EntryKind
from headway.kpis.models import Kpi, KpiGoal, TargetVersion
from headway.lib.periods import Grain, Period, PeriodLabelError, parse_period_label
from headway.lib.periods import period_containing as containing
from headway.reports.formatting import (
    attainment_text,
    kpi_value_text,
    number_text,
    period_name,
    status_of,
)
from headway.reports.kpi_charts import forecast_band, kpi_analysis, kpi_chart_svg
from headway.results.choices import ManualStatus, Status
from headway.results.manual import organization_today
from headway.results.models import ManualValue, Result

# How many periods each card's chart shows, up to the reported one.
CHART_PERIODS = 12
# How many KPIs the top movers list in each direction.
MOVERS = 3
# The order statuses are counted and listed in: the worst first.
STATUS_ORDER = (Status.RED, Status.AMBER, Status.GREEN, Status.NONE)


@dataclass(frozen=True)
class StatusCount:
    status: Status
    count: int


@dataclass(frozen=True)
class GoalKpi:
    """A KPI as a goal's summary lists it."""

    key: str
    name: str
    status: Status


@dataclass(frozen=True)
class GoalSummary:
    """A goal with the statuses of its KPIs in the report, counted."""

    key: str
    title: str
    depth: int
    kpis: tuple[GoalKpi, ...]
    counts: tuple[StatusCount, ...]


@dataclass(frozen=True)
class KpiCard:
    """One KPI's part of the report: its number for the period against the target, the
    chart, and what its owner said. Fields added later come with defaults, so analysis
    (insights, forecast bands) can extend a card without touching the others."""

    key: str
    name: str
    team: str
    owner: str
    unit: str
    direction: str
    period: str
    period_name: str
    value: Decimal | None
    target: Decimal | None
    attainment: Decimal | None
    status: Status
    value_text: str
    target_text: str
    attainment_text: str
    previous_attainment: Decimal | None
    chart_svg: str
    # For KPIs entered by hand: the comment of the entry the value comes from.
    owner_comment: str = ""
    # The datasets it reads whose data is older than their freshness limit.
    stale_datasets: tuple[str, ...] = ()
    # Sentences about the KPI in the report's language (filled by analysis, later).
    insights: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mover:
    """A KPI whose attainment changed since its previous period."""

    key: str
    name: str
    period: str
    previous_period: str
    attainment: Decimal
    previous_attainment: Decimal
    # In percentage points of attainment: 0.12 is 12 points.
    change: Decimal
    attainment_text: str
    previous_attainment_text: str
    change_text: str


@dataclass(frozen=True)
class StaleKpi:
    """A KPI in the report whose data is older than its datasets' freshness limits."""

    key: str
    name: str
    datasets: tuple[str, ...]
    age_text: str


@dataclass(frozen=True)
class TargetChange:
    """A target version decided since the start of the previous period."""

    kpi_key: str
    kpi_name: str
    unit: str
    group: str
    effective_from: str
    before: Decimal | None
    after: Decimal
    before_text: str
    after_text: str
    reason: str
    decided_by: str
    decided_at: datetime.datetime


@dataclass(frozen=True)
class Report:
    """The monthly report of one period, for the company or one team, in one language."""

    period: str
    period_name: str
    previous_period: str
    organization: str
    currency: str
    language: str
    # The organisation's time zone, in which the report says when it was made.
    timezone: str
    team_key: str
    team_name: str
    title: str
    generated_at: datetime.datetime
    counts: tuple[StatusCount, ...]
    goals: tuple[GoalSummary, ...]
    cards: tuple[KpiCard, ...]
    movers_up: tuple[Mover, ...]
    movers_down: tuple[Mover, ...]
    stale: tuple[StaleKpi, ...]
    target_changes: tuple[TargetChange, ...]
    notes: tuple[str, ...] = field(default=())


def report_language(language: str) -> str:
    """The Django language code of `language` ("zh-Hant" and "zh_Hant" are "zh-hant")."""
    wanted = language.strip().lower().replace("_", "-")
    codes = [code for code, _name in settings.LANGUAGES]
    if wanted not in codes:
        raise HeadwayError(
            f"{language!r} is not a language of Headway's: use " + " or ".join(codes)
        )
    return wanted


def report_period(label: str, organization: Organization) -> Period:
    """The period a label names, if it has begun; bad input is a HeadwayError."""
    try:
        period = parse_period_label(label, organization.fiscal_year_start)
    except PeriodLabelError as error:
        raise HeadwayError(str(error)) from None
    if period.start > organization_today():
        raise HeadwayError(f"the period {period.label} has not begun yet")
    return period


def latest_complete_month() -> str:
    """The label of the last month that has ended where the organisation is."""
    today = organization_today()
    return containing(Grain.MONTH, today).shift(-1).label


def report_team(key: str | None) -> Team | None:
    if not key:
        return None
    team = Team.objects.filter(key=key).first()
    if team is None:
        raise HeadwayError(f"there is no team {key!r}")
    return team


def report_teams() -> list[Team]:
    """The teams a report may be made for, by name."""
    return list(Team.objects.order_by("name"))


def _subtree(team: Team) -> set[int]:
    """The team and every team under it."""
    children: dict[int | None, list[int]] = defaultdict(list)
    for pk, parent in Team.objects.values_list("pk", "parent_id"):
        children[parent].append(pk)
    found, todo = set(), [team.pk]
    while todo:
        pk = todo.pop()
        if pk not in found:
            found.add(pk)
            todo.extend(children[pk])
    return found


def _kpis(team: Team | None) -> list[Kpi]:
    query = Kpi.objects.filter(is_active=True).select_related("team", "owner")
    if team is not None:
        query = query.filter(team_id__in=_subtree(team))
    return list(query.order_by("position", "key"))


def _kpi_period(kpi: Kpi, period: Period) -> Period:
    return containing(Grain(kpi.grain), period.last_day, period.fiscal_year_start)


def _results(kpis: Sequence[Kpi], last_days: dict[int, datetime.date]) -> dict[int, list[Result]]:
    """Each KPI's organisation totals in period order, up to its reported period."""
    by_kpi: dict[int, list[Result]] = defaultdict(list)
    latest = max(last_days.values(), default=datetime.date.min)
    rows = Result.objects.filter(
        kpi__in=kpis, group_dimension="", period_start__lte=latest
    ).order_by("kpi_id", "period_start")
    for row in rows:
        if row.period_start <= last_days[row.kpi_id]:
            by_kpi[row.kpi_id].append(row)
    return by_kpi


def _amount_change(now: Decimal, before: Decimal) -> str:
    points = (now - before) * 100
    sign = "+" if points > 0 else ""
    return _("%(sign)s%(points)s points") % {"sign": sign, "points": number_text(points, 1)}


def _counts(statuses: Iterable[Status]) -> tuple[StatusCount, ...]:
    tally: dict[Status, int] = defaultdict(int)
    for status in statuses:
        tally[status] += 1
    return tuple(StatusCount(status, tally[status]) for status in STATUS_ORDER if tally[status])


def _goals(cards: dict[int, KpiCard], team: Team | None) -> tuple[GoalSummary, ...]:
    goals = list(Goal.objects.order_by("position", "key"))
    links: dict[int, list[int]] = defaultdict(list)
    for goal_id, kpi_id in KpiGoal.objects.filter(kpi_id__in=list(cards)).values_list(
        "goal_id", "kpi_id"
    ):
        links[goal_id].append(kpi_id)
    teams = _subtree(team) if team is not None else set()
    children: dict[int | None, list[Goal]] = defaultdict(list)
    known = {goal.pk for goal in goals}
    for goal in goals:
        children[goal.parent_id if goal.parent_id in known else None].append(goal)
    summaries: list[GoalSummary] = []
    order = {pk: index for index, pk in enumerate(cards)}

    def visit(goal: Goal, depth: int) -> None:
        linked = [cards[pk] for pk in sorted(links.get(goal.pk, []), key=order.__getitem__)]
        if team is None or linked or goal.team_id in teams:
            summaries.append(
                GoalSummary(
                    key=goal.key,
                    title=goal.title,
                    depth=depth,
                    kpis=tuple(GoalKpi(card.key, card.name, card.status) for card in linked),
                    counts=_counts(card.status for card in linked),
                )
            )
        for child in children[goal.pk]:
            visit(child, depth + 1)

    for root in children[None]:
        visit(root, 0)
    return tuple(summaries)


def _movers(cards: Sequence[KpiCard], previous_labels: dict[str, str]) -> list[Mover]:
    movers = []
    for card in cards:
        if card.attainment is None or card.previous_attainment is None:
            continue
        change = card.attainment - card.previous_attainment
        if change == 0:
            continue
        movers.append(
            Mover(
                key=card.key,
                name=card.name,
                period=card.period,
                previous_period=previous_labels[card.key],
                attainment=card.attainment,
                previous_attainment=card.previous_attainment,
                change=change,
                attainment_text=card.attainment_text,
                previous_attainment_text=attainment_text(card.previous_attainment),
                change_text=_amount_change(card.attainment, card.previous_attainment),
            )
        )
    return movers


def _age_text(items: Sequence[Freshness]) -> str:
    days = [item.age_days for item in items]
    if any(day is None for day in days):
        return _("never refreshed")
    oldest = max(day for day in days if day is not None)
    return _("%(days)s days old") % {"days": oldest}


def _target_changes(
    kpis: Sequence[Kpi], since: datetime.datetime, until: datetime.datetime, currency: str
) -> tuple[TargetChange, ...]:
    names = {kpi.pk: kpi for kpi in kpis}
    versions = list(
        TargetVersion.objects.filter(kpi__in=kpis)
        .select_related("decided_by")
        .order_by("kpi_id", "pk")
    )
    changes = []
    for version in versions:
        if not since <= version.decided_at < until:
            continue
        earlier = [
            other
            for other in versions
            if other.kpi_id == version.kpi_id
            and other.pk < version.pk
            and other.where_dimension == version.where_dimension
            and other.where_value == version.where_value
            and other.effective_start <= version.effective_start
        ]
        before = (
            max(earlier, key=lambda other: (other.effective_start, other.pk)).value
            if earlier
            else None
        )
        kpi = names[version.kpi_id]
        changes.append(
            TargetChange(
                kpi_key=kpi.key,
                kpi_name=kpi.name,
                unit=kpi.unit,
                group=version.where_value,
                effective_from=version.effective_from,
                before=before,
                after=version.value,
                before_text=kpi_value_text(before, kpi.unit, currency),
                after_text=kpi_value_text(version.value, kpi.unit, currency),
                reason=version.reason,
                decided_by=str(version.decided_by) if version.decided_by else "",
                decided_at=version.decided_at,
            )
        )
    changes.sort(key=lambda change: (change.decided_at, change.kpi_key))
    return tuple(changes)


def _comments(kpis: Sequence[Kpi], periods: dict[int, Period]) -> dict[int, str]:
    """For KPIs entered by hand: the comment of the approved entry of the reported period."""
    manual = [kpi for kpi in kpis if kpi.entry == EntryKind.MANUAL]
    if not manual:
        return {}
    found: dict[int, str] = {}
    entries = ManualValue.objects.filter(kpi__in=manual, status=ManualStatus.APPROVED).order_by(
        "pk"
    )
    for entry in entries:
        if entry.period_start == periods[entry.kpi_id].start and entry.comment:
            found[entry.kpi_id] = entry.comment
    return found


def build_report(
    *, period: str, team: Team | None = None, language: str = "en", analysis: bool = True
) -> Report:
    """The report of `period` (a label: 2026-03) for the company, or for `team` and the
    teams under it, with its text in `language`. An unknown or future period, or an unknown
    language, is a HeadwayError. With `analysis`, each card has the analysis's insights and
    its chart the forecast band and unusual values (a few queries per KPI, and statsforecast
    the first time)."""
    organization = Organization.current()
    code = report_language(language)
    reported = report_period(period, organization)
    currency = organization.currency
    kpis = _kpis(team)
    periods = {kpi.pk: _kpi_period(kpi, reported) for kpi in kpis}
    results = _results(kpis, {pk: item.last_day for pk, item in periods.items()})
    late = stale_kpis()
    versions: dict[int, list[TargetVersion]] = defaultdict(list)
    for version in TargetVersion.objects.filter(kpi__in=kpis, where_dimension="").order_by(
        "effective_start", "pk"
    ):
        versions[version.kpi_id].append(version)
    comments = _comments(kpis, periods)
    try:
        zone: datetime.tzinfo = zoneinfo.ZoneInfo(organization.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = datetime.UTC
    previous = reported.shift(-1)
    # Target changes decided from the start of the previous period to the end of this one:
    # a report of a past period lists what was decided then, not what came after.
    since = datetime.datetime.combine(previous.start, datetime.time(), tzinfo=zone)
    until = datetime.datetime.combine(reported.end, datetime.time(), tzinfo=zone)

    with translation.override(code):
        cards: dict[int, KpiCard] = {}
        previous_labels: dict[str, str] = {}
        stale: list[StaleKpi] = []
        for kpi in kpis:
            own = periods[kpi.pk]
            history = results.get(kpi.pk, [])
            current = next((row for row in history if row.period_start == own.start), None)
            before = next((row for row in history if row.period_start == own.shift(-1).start), None)
            status = status_of(current.status) if current else Status.NONE
            value = current.value if current else None
            target = current.target if current else None
            attainment = current.attainment if current else None
            stale_items = late.get(kpi.key, [])
            found = kpi_analysis(kpi, own.label) if analysis else None
            band = forecast_band(found)
            insights: tuple[str, ...] = ()
            if found is not None:
                insights = tuple(found.insights_zh if code == "zh-hant" else found.insights_en)
            cards[kpi.pk] = KpiCard(
                key=kpi.key,
                name=kpi.name,
                team=kpi.team.name if kpi.team else "",
                owner=str(kpi.owner) if kpi.owner else "",
                unit=kpi.unit,
                direction=kpi.direction,
                period=own.label,
                period_name=period_name(own.label, own.start),
                value=value,
                target=target,
                attainment=attainment,
                status=status,
                value_text=kpi_value_text(value, kpi.unit, currency),
                target_text=kpi_value_text(target, kpi.unit, currency),
                attainment_text=attainment_text(attainment),
                previous_attainment=before.attainment if before else None,
                chart_svg=kpi_chart_svg(
                    kpi,
                    history[-CHART_PERIODS:],
                    versions[kpi.pk],
                    currency,
                    height=260,
                    band=band,
                    anomalies=found.anomalies if found is not None else (),
                ),
                owner_comment=comments.get(kpi.pk, ""),
                stale_datasets=tuple(item.dataset for item in stale_items),
                insights=insights,
            )
            previous_labels[kpi.key] = own.shift(-1).label
            if stale_items:
                stale.append(
                    StaleKpi(
                        key=kpi.key,
                        name=kpi.name,
                        datasets=tuple(item.dataset for item in stale_items),
                        age_text=_age_text(stale_items),
                    )
                )
        movers = _movers(list(cards.values()), previous_labels)
        up = sorted(
            (mover for mover in movers if mover.change > 0), key=lambda m: (-m.change, m.key)
        )
        down = sorted(
            (mover for mover in movers if mover.change < 0), key=lambda m: (m.change, m.key)
        )
        name = period_name(reported.label, reported.start)
        if team is None:
            title = _("Monthly report of %(organization)s, %(period)s") % {
                "organization": organization.name,
                "period": name,
            }
        else:
            title = _("Monthly report of %(team)s, %(period)s") % {
                "team": team.name,
                "period": name,
            }
        notes = []
        if not kpis:
            notes.append(_("There are no active KPIs to report on."))
        return Report(
            period=reported.label,
            period_name=name,
            previous_period=previous.label,
            organization=organization.name,
            currency=currency,
            language=code,
            timezone=str(zone),
            team_key=team.key if team else "",
            team_name=team.name if team else "",
            title=title,
            generated_at=timezone.now(),
            counts=_counts(card.status for card in cards.values()),
            goals=_goals(cards, team),
            cards=tuple(cards.values()),
            movers_up=tuple(up[:MOVERS]),
            movers_down=tuple(down[:MOVERS]),
            stale=tuple(stale),
            target_changes=_target_changes(kpis, since, until, currency),
            notes=tuple(notes),
        )


__all__ = [
    "GoalKpi",
    "GoalSummary",
    "KpiCard",
    "Mover",
    "Report",
    "StaleKpi",
    "StatusCount",
    "TargetChange",
    "build_report",
    "latest_complete_month",
    "report_language",
    "report_period",
    "report_team",
    "report_teams",
]
