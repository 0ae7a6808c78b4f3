"""“My contribution”: the line from one person's work to the company's goals.

For a person, :func:`my_contribution` gathers:

- **my KPIs**: the active KPIs I own, and those my data feeds. A KPI is *fed* by me when
  rows of its data name me in an ``owner`` column within its latest complete period or
  the period under way: either its stored results by the ``owner`` dimension have a
  group that is me, or one of its measures reads a dataset with an ``owner`` dimension
  and my rows count in it (worked out from the data by the engine, see below);
- **my teams' KPIs**: the active KPIs of the teams I belong to and of every team above
  them, which my KPIs roll into;
- **the goals they serve**, walking up the goal tree, with each KPI's weight in a goal and
  its share of all the weights of that goal's active KPIs;
- **my share of my team's numbers** where the data has an ``owner`` column, in the latest
  complete period. For an additive KPI (a count or a sum, see
  :func:`headway.results.analysis.kpis.kpi_shape`) with stored results by ``owner``, my
  group's value against my team's; for any other KPI, each of its counted or summed
  measures over a dataset with an ``owner`` column, computed by the engine from the data
  per ``owner`` and per ``team`` (a ratio's numerator and denominator add up, the ratio
  does not). "My team's" number is the sum of the groups of my teams and every team below
  them (the ``team`` column holds team keys); when the data has no ``team`` column, or
  none of those teams appears in it, or I belong to no team, the organisation's total;
- **what moved** in each of those KPIs' latest period, and why: the analysis's sentences
  (:func:`headway.results.analysis.kpis.analyse_kpi`, without the forecast to stay fast)
  in English and Traditional Chinese; :meth:`Move.sentences` picks the reader's language.

Who "me" is in an ``owner`` column: a value names me when, ignoring case and surrounding
spaces, it equals my e-mail address, my username or my display name. A display name that
another person has too is not used, since it cannot tell us apart.

Nothing here writes. The engine runs in memory over the data files, as the formula check
of the KPI form does, and only for measures over datasets with an ``owner`` dimension.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q, Sum
from django.utils import timezone, translation

from headway.accounts.models import Organization, Team, User
from headway.engine.compute import ComputeRequest, ResultRow
from headway.engine.formula import FormulaError, measure_names, parse_formula
from headway.engine.problems import HeadwayError
from headway.engine.workspace import workspace_from_data
from headway.goals.models import Goal
from headway.kpis.choices import Aggregation, EntryKind, Unit
from headway.kpis.models import Kpi, KpiGoal, Measure
from headway.kpis.workspace_io import workspace_data
from headway.lib.periods import Grain, Period, period_containing
from headway.results.analysis.kpis import analyse_kpi
from headway.results.analysis.shape import formula_shape
from headway.results.choices import Status
from headway.results.engine import app_engine
from headway.results.models import Result
from headway.results.selectors import KpiCard, active_kpis, cards_for

OWNER_DIMENSION = "owner"
TEAM_DIMENSION = "team"
ADDITIVE = frozenset({Aggregation.COUNT.value, Aggregation.SUM.value})
# The draft KPIs that count one measure per period, for the engine: the prefix keeps them
# apart from the organisation's own KPIs (KPI keys are the workspace's; formulas name
# measures, never KPIs).
DRAFT_PREFIX = "headway_contribution__"


# -- what the page shows -------------------------------------------------------------------


@dataclass(frozen=True)
class Share:
    """My part of one of my team's numbers in a period.

    ``measure`` is empty for a KPI's own value (from its stored results); otherwise the
    share is of that measure, which the KPIs in ``kpis`` read (computed from the data).
    ``whole`` is my teams' number (``teams``), or the organisation's total when ``teams``
    is empty. ``unit`` is how the numbers read (a KPI's unit; a count for counted rows).
    """

    label: str
    kpis: tuple[Kpi, ...]
    measure: str
    unit: str
    period: str
    period_start: datetime.date
    mine: Decimal
    whole: Decimal | None
    teams: tuple[Team, ...]
    source: str  # "results" or "data"

    @property
    def share(self) -> Decimal | None:
        if self.whole is None or self.whole == 0:
            return None
        return self.mine / self.whole

    @property
    def percent(self) -> int:
        """The share as a whole percentage from 0 to 100 (for a bar's width)."""
        share = self.share
        if share is None:
            return 0
        return max(0, min(100, round(float(share) * 100)))


@dataclass(frozen=True)
class GoalStep:
    """A goal a KPI serves: the KPI's weight in it, and that weight's share of the weights
    of all the goal's active KPIs; then the goals above it, nearest first."""

    goal: Goal
    weight: Decimal
    weight_share: Decimal | None
    above: tuple[Goal, ...]


@dataclass
class ContributionKpi:
    """One KPI on the page: its card (latest value, target, status), why it is here, and
    the goals it serves."""

    card: KpiCard
    owned: bool = False
    fed: bool = False
    steps: list[GoalStep] = field(default_factory=list)
    # My shares of the numbers that make this KPI (see Share).
    shares: list[Share] = field(default_factory=list)

    @property
    def kpi(self) -> Kpi:
        return self.card.kpi

    @property
    def mine(self) -> bool:
        return self.owned or self.fed


@dataclass
class TeamKpis:
    """The KPIs of one of my teams (``direct``) or of a team above them."""

    team: Team
    direct: bool
    kpis: list[ContributionKpi] = field(default_factory=list)


@dataclass(frozen=True)
class GoalKpi:
    item: ContributionKpi
    weight: Decimal
    weight_share: Decimal | None


@dataclass
class GoalServed:
    """A goal that my KPIs or my teams' KPIs serve directly, with them and its ancestors
    (the top first). ``my_weight_share`` is the part of its weight my own KPIs carry."""

    goal: Goal
    path: list[Goal]
    kpis: list[GoalKpi] = field(default_factory=list)
    total_weight: Decimal = Decimal(0)

    @property
    def my_weight_share(self) -> Decimal | None:
        if not self.total_weight:
            return None
        mine = sum((link.weight for link in self.kpis if link.item.mine), Decimal(0))
        return mine / self.total_weight


@dataclass(frozen=True)
class Move:
    """What moved in a KPI's latest period, and why, in both languages."""

    kpi: Kpi
    period: str
    status: Status
    mine: bool
    insights_en: tuple[str, ...]
    insights_zh: tuple[str, ...]

    def sentences(self) -> tuple[str, ...]:
        """The sentences in the active language."""
        chinese = (translation.get_language() or "").lower().startswith("zh")
        return self.insights_zh if chinese else self.insights_en


@dataclass
class Contribution:
    person: User
    today: datetime.date
    identities: list[str]
    mine: list[ContributionKpi]
    teams: list[TeamKpis]
    goals: list[GoalServed]
    shares: list[Share]
    moves: list[Move]
    # Why the shares from the data could not be worked out (the rest of the page stands).
    problems: list[str] = field(default_factory=list)


# -- who I am in the data ----------------------------------------------------------------


def identities(person: User) -> set[str]:
    """The values of an ``owner`` column that name ``person``, folded to lower case."""
    names = {person.email, person.username}
    display = (person.display_name or "").strip()
    if (
        display
        and not User.objects.filter(display_name__iexact=display).exclude(pk=person.pk).exists()
    ):
        names.add(display)
    return {name.strip().casefold() for name in names if name and name.strip()}


def _is_me(value: object, names: set[str]) -> bool:
    return isinstance(value, str) and value.strip().casefold() in names


# -- the pieces ----------------------------------------------------------------------------


def _local_today() -> datetime.date:
    organization = Organization.current()
    try:
        zone: datetime.tzinfo = ZoneInfo(organization.timezone)
    except (ValueError, KeyError):
        zone = datetime.UTC
    return timezone.localdate(timezone=zone)


def _last_complete(grain: str, today: datetime.date, fiscal_year_start: int) -> Period:
    return period_containing(Grain(grain), today, fiscal_year_start).shift(-1)


def _team_tree() -> tuple[dict[int, Team], dict[int | None, list[int]]]:
    teams = {team.pk: team for team in Team.objects.all()}
    children: dict[int | None, list[int]] = defaultdict(list)
    for team in teams.values():
        children[team.parent_id].append(team.pk)
    return teams, children


def _below(team_ids: Iterable[int], children: dict[int | None, list[int]]) -> set[int]:
    """The teams and every team below them."""
    found = set(team_ids)
    stack = list(found)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _kpi_measures(kpi: Kpi, measures: dict[str, Measure]) -> list[Measure]:
    if kpi.entry != EntryKind.FORMULA or not kpi.formula:
        return []
    try:
        names = measure_names(parse_formula(kpi.formula))
    except FormulaError:
        return []
    return [measures[name] for name in names if name in measures]


def _decimal(value: float | int | Decimal | None) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


@dataclass
class _OwnerData:
    """What the engine found in the data for the measures over ``owner`` datasets: per
    measure and grain, my value and my teams' (or the organisation's) in each period."""

    mine: dict[tuple[str, str, datetime.date], Decimal] = field(default_factory=dict)
    whole: dict[tuple[str, str, datetime.date], Decimal] = field(default_factory=dict)
    # The (measure, grain) pairs whose whole is my teams' rather than the organisation's.
    by_team: set[tuple[str, str]] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def _owner_data(
    wanted: dict[str, set[str]],
    measures: dict[str, Measure],
    windows: dict[str, tuple[Period, Period]],
    names: set[str],
    team_keys: set[str],
) -> _OwnerData:
    """Runs the engine for each wanted measure (per grain) by ``owner``, and by ``team``
    or in total for the whole, over the window of each grain."""
    found = _OwnerData()
    if not wanted:
        return found
    data = workspace_data(base_dir=None)
    keys: dict[str, tuple[str, str]] = {}
    for grain, measure_set in sorted(wanted.items()):
        for name in sorted(measure_set):
            key = f"{DRAFT_PREFIX}{grain}__{name}"
            keys[key] = (name, grain)
            data["kpis"].append(
                {
                    "key": key,
                    "name": name,
                    "formula": name,
                    "unit": "number",
                    "direction": "up",
                    "grain": grain,
                }
            )

    def store(rows: list[ResultRow], target: dict[tuple[str, str, datetime.date], Decimal]) -> None:
        for row in rows:
            value = _decimal(row.value)
            if value is None:
                continue
            name, grain = keys[row.kpi]
            slot = (name, grain, row.period.start)
            target[slot] = target.get(slot, Decimal(0)) + value

    try:
        workspace = workspace_from_data(data, Path(settings.DATA_DIR) / "headway.yaml")
        with app_engine(workspace) as engine:
            for grain, measure_set in sorted(wanted.items()):
                first, last = windows[grain]
                drafts = tuple(key for key, (_, g) in keys.items() if g == grain)
                owned = engine.compute(
                    ComputeRequest(kpis=drafts, start=first, end=last, by=OWNER_DIMENSION)
                )
                store([row for row in owned.rows if _is_me(row.group, names)], found.mine)
                with_team = tuple(
                    key
                    for key in drafts
                    if TEAM_DIMENSION in (measures[keys[key][0]].dataset.dimensions or [])
                )
                team_rows: list[ResultRow] = []
                if team_keys and with_team:
                    by_team = engine.compute(
                        ComputeRequest(kpis=with_team, start=first, end=last, by=TEAM_DIMENSION)
                    )
                    team_rows = [row for row in by_team.rows if row.group in team_keys]
                present = {keys[row.kpi][0] for row in team_rows}
                store(team_rows, found.whole)
                found.by_team |= {(name, grain) for name in measure_set if name in present}
                rest = tuple(key for key in drafts if keys[key][0] not in present)
                if rest:
                    totals = engine.compute(ComputeRequest(kpis=rest, start=first, end=last))
                    store(totals.rows, found.whole)
    except HeadwayError as error:
        found.problems.extend(problem.message for problem in error.problems)
    except OSError as error:
        found.problems.append(str(error))
    return found


def _goal_steps(
    kpis: list[Kpi], goals: dict[int, Goal]
) -> tuple[dict[int, list[GoalStep]], dict[int, Decimal]]:
    """Each KPI's goals with weights, and each goal's total weight over its active KPIs."""
    totals = {
        row["goal_id"]: row["total"] or Decimal(0)
        for row in KpiGoal.objects.filter(kpi__is_active=True)
        .values("goal_id")
        .annotate(total=Sum("weight"))
    }

    def above(goal: Goal) -> tuple[Goal, ...]:
        chain: list[Goal] = []
        seen = {goal.pk}
        parent_id = goal.parent_id
        while parent_id is not None and parent_id in goals and parent_id not in seen:
            parent = goals[parent_id]
            chain.append(parent)
            seen.add(parent.pk)
            parent_id = parent.parent_id
        return tuple(chain)

    steps: dict[int, list[GoalStep]] = defaultdict(list)
    links = KpiGoal.objects.filter(kpi__in=kpis).order_by("goal__position", "goal__key")
    for link in links:
        goal = goals.get(link.goal_id)
        if goal is None:
            continue
        total = totals.get(goal.pk) or Decimal(0)
        steps[link.kpi_id].append(
            GoalStep(
                goal=goal,
                weight=link.weight,
                weight_share=link.weight / total if total else None,
                above=above(goal),
            )
        )
    return steps, totals


def _goals_served(
    items: list[ContributionKpi], totals: dict[int, Decimal], goals: dict[int, Goal]
) -> list[GoalServed]:
    served: dict[int, GoalServed] = {}
    for item in items:
        for step in item.steps:
            entry = served.get(step.goal.pk)
            if entry is None:
                entry = served[step.goal.pk] = GoalServed(
                    goal=step.goal,
                    path=list(reversed(step.above)),
                    total_weight=totals.get(step.goal.pk) or Decimal(0),
                )
            if all(link.item is not item for link in entry.kpis):
                entry.kpis.append(GoalKpi(item, step.weight, step.weight_share))
    order = {goal.pk: index for index, goal in enumerate(goals.values())}
    return sorted(served.values(), key=lambda entry: order.get(entry.goal.pk, 0))


def _moves(items: list[ContributionKpi], today: datetime.date) -> list[Move]:
    moves = []
    for item in items:
        if item.card.latest is None:
            continue
        try:
            analysis = analyse_kpi(item.kpi, forecast=False, today=today)
        except ValueError:
            continue
        if not analysis.insights_en and not analysis.insights_zh:
            continue
        moves.append(
            Move(
                kpi=item.kpi,
                period=analysis.period,
                status=analysis.status,
                mine=item.mine,
                insights_en=tuple(analysis.insights_en),
                insights_zh=tuple(analysis.insights_zh),
            )
        )
    return moves


# -- the whole -----------------------------------------------------------------------------


def my_contribution(person: User, today: datetime.date | None = None) -> Contribution:
    """The line from ``person``'s work to the company's goals (see the module's docstring).

    ``today`` is the organisation's local date unless given: it decides the latest complete
    period of each grain and the period the analysis reads."""
    organization = Organization.current()
    fiscal = organization.fiscal_year_start
    today = today or _local_today()
    names = identities(person)
    teams, children = _team_tree()
    my_team_ids = sorted(
        {
            team_id
            for team_id in person.memberships.values_list("team_id", flat=True)
            if team_id in teams
        },
        key=lambda pk: teams[pk].name,
    )
    # My teams, then the teams above them, nearest first.
    team_order: list[int] = list(my_team_ids)
    for team_id in my_team_ids:
        parent_id = teams[team_id].parent_id
        while parent_id is not None and parent_id in teams and parent_id not in team_order:
            team_order.append(parent_id)
            parent_id = teams[parent_id].parent_id
    my_team_keys = {teams[pk].key for pk in _below(my_team_ids, children)}
    my_teams = tuple(teams[pk] for pk in my_team_ids)

    everything = list(active_kpis())
    measures = {
        measure.name: measure for measure in Measure.objects.select_related("dataset").all()
    }
    # A KPI is looked at in its latest complete period and the one under way.
    windows: dict[str, tuple[Period, Period]] = {}
    for kpi in everything:
        if kpi.grain not in windows:
            last = _last_complete(kpi.grain, today, fiscal)
            windows[kpi.grain] = (last, last.shift(1))

    # Stored results by owner that are mine, within each KPI's window.
    by_grain_start = min((first.start for first, _ in windows.values()), default=today)
    mine_q = Q()
    for name in names:
        mine_q |= Q(group_value__iexact=name)
    owner_results: dict[int, list[Result]] = defaultdict(list)
    has_owner_results: set[int] = set()
    if everything:
        has_owner_results = set(
            Result.objects.filter(kpi__in=everything, group_dimension=OWNER_DIMENSION)
            .values_list("kpi_id", flat=True)
            .distinct()
        )
    if names and has_owner_results:
        for row in Result.objects.filter(
            mine_q,
            kpi_id__in=has_owner_results,
            group_dimension=OWNER_DIMENSION,
            period_start__gte=by_grain_start,
            period_start__lte=today,
        ):
            owner_results[row.kpi_id].append(row)

    fed: set[int] = set()
    kpis_by_id = {kpi.pk: kpi for kpi in everything}
    for kpi_id, rows in owner_results.items():
        first, last = windows[kpis_by_id[kpi_id].grain]
        if any(first.start <= row.period_start <= last.start for row in rows):
            fed.add(kpi_id)

    # Additive KPIs with results by owner give their own share; every other KPI's counted or
    # summed measures over owner datasets are worked out from the data.
    aggregations = {name: measure.agg for name, measure in measures.items()}
    additive = {
        kpi.pk
        for kpi in everything
        if kpi.entry == EntryKind.FORMULA
        and kpi.formula
        and formula_shape(kpi.formula, aggregations).additive
    }
    from_results = {pk for pk in has_owner_results if pk in additive}
    wanted: dict[str, set[str]] = defaultdict(set)
    readers: dict[tuple[str, str], list[Kpi]] = defaultdict(list)
    for kpi in everything:
        for measure in _kpi_measures(kpi, measures):
            if OWNER_DIMENSION not in (measure.dataset.dimensions or []):
                continue
            wanted[kpi.grain].add(measure.name)
            readers[(measure.name, kpi.grain)].append(kpi)
    data = _owner_data(wanted, measures, windows, names, my_team_keys) if names else _OwnerData()
    for (name, grain), kpis in readers.items():
        first, last = windows[grain]
        if any(
            data.mine.get((name, grain, period.start)) not in (None, Decimal(0))
            for period in (first, last)
        ):
            fed.update(kpi.pk for kpi in kpis)

    owned = {kpi.pk for kpi in everything if kpi.owner_id == person.pk}
    team_kpis = [kpi for kpi in everything if kpi.team_id in team_order]
    shown = {kpi.pk for kpi in everything if kpi.pk in owned or kpi.pk in fed} | {
        kpi.pk for kpi in team_kpis
    }
    shown_kpis = [kpi for kpi in everything if kpi.pk in shown]
    cards = {card.kpi.pk: card for card in cards_for(shown_kpis)}
    goals = {goal.pk: goal for goal in Goal.objects.order_by("position", "key")}
    steps, totals = _goal_steps(shown_kpis, goals)
    items = {
        kpi.pk: ContributionKpi(
            card=cards[kpi.pk],
            owned=kpi.pk in owned,
            fed=kpi.pk in fed,
            steps=steps.get(kpi.pk, []),
        )
        for kpi in shown_kpis
    }
    mine = [items[kpi.pk] for kpi in shown_kpis if kpi.pk in owned] + [
        items[kpi.pk] for kpi in shown_kpis if kpi.pk in fed and kpi.pk not in owned
    ]
    groups = []
    for team_id in team_order:
        group = TeamKpis(team=teams[team_id], direct=team_id in my_team_ids)
        group.kpis = [items[kpi.pk] for kpi in team_kpis if kpi.team_id == team_id]
        groups.append(group)

    shares = _result_shares(
        [kpis_by_id[pk] for pk in from_results if pk in shown],
        owner_results,
        windows,
        my_teams,
        my_team_keys,
    )
    shares.extend(
        _data_shares(readers, data, measures, windows, shown, from_results, my_teams, everything)
    )
    for share in shares:
        for kpi in share.kpis:
            items[kpi.pk].shares.append(share)
    ordered = [item for item in items.values() if item.mine] + [
        item for item in items.values() if not item.mine
    ]
    return Contribution(
        person=person,
        today=today,
        identities=sorted(names),
        mine=mine,
        teams=groups,
        goals=_goals_served(ordered, totals, goals),
        shares=shares,
        moves=_moves(ordered, today),
        problems=data.problems,
    )


def _result_shares(
    kpis: list[Kpi],
    owner_results: dict[int, list[Result]],
    windows: dict[str, tuple[Period, Period]],
    my_teams: tuple[Team, ...],
    team_keys: set[str],
) -> list[Share]:
    """KPI-level shares from stored results: my owner group(s) against my teams' groups,
    or the total, in the latest complete period."""
    shares = []
    for kpi in sorted(kpis, key=lambda k: (k.position, k.key)):
        period = windows[kpi.grain][0]
        mine = [
            row.value
            for row in owner_results.get(kpi.pk, [])
            if row.period_start == period.start and row.value is not None
        ]
        if not mine:
            continue
        team_values = [
            row.value
            for row in Result.objects.filter(
                kpi=kpi,
                period_start=period.start,
                group_dimension=TEAM_DIMENSION,
                group_value__in=team_keys,
            )
            if row.value is not None
        ]
        teams: tuple[Team, ...] = my_teams if team_values else ()
        if team_values:
            whole: Decimal | None = sum(team_values, Decimal(0))
        else:
            total = Result.objects.filter(
                kpi=kpi, period_start=period.start, group_dimension=""
            ).first()
            whole = total.value if total is not None else None
        shares.append(
            Share(
                label=kpi.name,
                kpis=(kpi,),
                measure="",
                unit=kpi.unit,
                period=period.label,
                period_start=period.start,
                mine=sum(mine, Decimal(0)),
                whole=whole,
                teams=teams,
                source="results",
            )
        )
    return shares


def _data_shares(
    readers: dict[tuple[str, str], list[Kpi]],
    data: _OwnerData,
    measures: dict[str, Measure],
    windows: dict[str, tuple[Period, Period]],
    shown: set[int],
    from_results: set[int],
    my_teams: tuple[Team, ...],
    everything: list[Kpi],
) -> list[Share]:
    """Measure-level shares from the data, for the shown KPIs whose own value has no share
    from stored results; a measure read by several of them is shown once, and not at all
    when a KPI that is just that measure already has its share from stored results."""
    single_measure_units = {
        (kpi.formula.strip(), kpi.grain): kpi.unit for kpi in everything if kpi.formula
    }
    covered = {
        (kpi.formula.strip(), kpi.grain)
        for kpi in everything
        if kpi.pk in from_results and kpi.pk in shown
    }
    shares = []
    for (name, grain), kpis in sorted(readers.items()):
        measure = measures[name]
        if measure.agg not in ADDITIVE or (name, grain) in covered:
            continue
        concerned = tuple(kpi for kpi in kpis if kpi.pk in shown and kpi.pk not in from_results)
        if not concerned:
            continue
        period = windows[grain][0]
        mine = data.mine.get((name, grain, period.start))
        if mine is None:
            continue
        if measure.agg == Aggregation.COUNT:
            unit = Unit.COUNT.value
        else:
            unit = single_measure_units.get((name, grain), Unit.NUMBER.value)
        shares.append(
            Share(
                label=name,
                kpis=concerned,
                measure=name,
                unit=unit,
                period=period.label,
                period_start=period.start,
                mine=mine,
                whole=data.whole.get((name, grain, period.start)),
                teams=my_teams if (name, grain) in data.by_team else (),
                source="data",
            )
        )
    return shares
