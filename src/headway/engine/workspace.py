"""Loading a workspace: YAML, then the typed model, then every cross-reference.

`load_workspace` returns a `Workspace` whose formulas and filters are parsed and whose
names all resolve, or raises a HeadwayError listing every problem with its line.
"""

from __future__ import annotations

import difflib
import functools
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from headway.engine.filters import ColumnNeed, Filter, FilterError, parse_filter
from headway.engine.formula import FormulaError, Node, max_lookback, measure_names, parse_formula
from headway.engine.model import Aggregation, Kpi, Measure, TargetEntry, WorkspaceModel
from headway.engine.problems import HeadwayError, Problem
from headway.engine.yamlfile import Location, YamlDocument, read_yaml
from headway.lib.periods import Period, PeriodLabelError, parse_period_label


@dataclass(frozen=True)
class ResolvedMeasure:
    """A measure with its filter parsed and its time column decided."""

    name: str
    spec: Measure
    time_column: str
    filter: Filter | None


@dataclass(frozen=True)
class ResolvedTarget:
    entry: TargetEntry
    starts: Period
    position: int


@dataclass(frozen=True)
class ResolvedKpi:
    """A KPI with its formula parsed and its targets' periods known."""

    spec: Kpi
    formula: Node
    measures: tuple[str, ...]
    lookback: int
    targets: tuple[ResolvedTarget, ...]

    @property
    def key(self) -> str:
        return self.spec.key


@dataclass
class Workspace:
    """A validated workspace: the model plus everything parsed out of its text."""

    path: Path
    model: WorkspaceModel
    document: YamlDocument
    measures: dict[str, ResolvedMeasure] = field(default_factory=dict)
    kpis: dict[str, ResolvedKpi] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def timezone(self) -> str:
        return self.model.organization.timezone

    @property
    def fiscal_year_start(self) -> int:
        return self.model.organization.fiscal_year_start

    @property
    def shown_path(self) -> str:
        return str(self.path)

    def line_of(self, *location: str | int) -> int | None:
        return self.document.line_of(tuple(location))

    def kpi_datasets(self, kpi: ResolvedKpi) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for name in kpi.measures:
            seen[self.measures[name].spec.dataset] = None
        return tuple(seen)

    def column_needs(self) -> dict[str, dict[str, set[ColumnNeed]]]:
        """Per dataset, each column the workspace uses and what it needs the column to be."""
        needs: dict[str, dict[str, set[ColumnNeed]]] = {name: {} for name in self.model.datasets}

        def add(dataset: str, column: str, need: ColumnNeed) -> None:
            needs[dataset].setdefault(column, set()).add(need)

        for name, dataset in self.model.datasets.items():
            add(name, dataset.key, ColumnNeed.ANY)
            for dimension in dataset.dimensions:
                add(name, dimension, ColumnNeed.TEXT)
        for measure in self.measures.values():
            dataset_name = measure.spec.dataset
            add(dataset_name, measure.time_column, ColumnNeed.TIME)
            if measure.spec.column is not None:
                numeric = measure.spec.agg not in (Aggregation.COUNT, Aggregation.COUNT_DISTINCT)
                add(
                    dataset_name,
                    measure.spec.column,
                    ColumnNeed.NUMBER if numeric else ColumnNeed.ANY,
                )
            if measure.filter is not None:
                for column, need in measure.filter.needs.items():
                    add(dataset_name, column, need)
        return needs


def _pydantic_message(error: Any) -> str:
    kind = error.get("type", "")
    loc = error.get("loc", ())
    if kind == "extra_forbidden":
        return f"unknown key {loc[-1]!r}" if loc else "unknown key"
    if kind == "missing":
        return f"{loc[-1]!r} is required" if loc else "a required key is missing"
    message = str(error.get("msg", "invalid value"))
    if "input" in error and kind not in ("model_type", "dict_type", "list_type"):
        given = error["input"]
        if isinstance(given, str | int | float | bool) or given is None:
            return f"{message} (got {given!r})"
    return message


def _dotted(location: Iterable[str | int]) -> str:
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


class _Collector:
    def __init__(self, document: YamlDocument) -> None:
        self.document = document
        self.problems: list[Problem] = []

    def add(self, location: Location, message: str) -> None:
        self.problems.append(
            Problem(
                message,
                file=str(self.document.path),
                line=self.document.line_of(location),
                key=_dotted(location) or None,
            )
        )


def _suggest(name: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_workspace(path: Path | str) -> Workspace:
    """Reads and validates a workspace file; raises HeadwayError with every problem."""
    return validate_document(read_yaml(Path(path)))


def workspace_from_data(data: dict[str, Any], path: Path) -> Workspace:
    """Validates a workspace given as data (e.g. built from the app database).

    `path` stands for the file it would be: data file paths are relative to its folder.
    """
    return validate_document(YamlDocument(path=path, data=data))


def validate_document(document: YamlDocument) -> Workspace:
    """Validates parsed workspace data; raises HeadwayError with every problem."""
    shown = str(document.path)
    if not isinstance(document.data, dict):
        raise HeadwayError(
            Problem("a workspace file is a YAML mapping with version, datasets, ...", file=shown)
        )
    collector = _Collector(document)
    try:
        model = WorkspaceModel.model_validate(document.data)
    except ValidationError as error:
        for item in error.errors():
            location = tuple(part for part in item["loc"] if isinstance(part, str | int))
            collector.add(location, _pydantic_message(item))
        raise HeadwayError(collector.problems) from None
    workspace = Workspace(path=document.path, model=model, document=document)
    _check_organization(workspace, collector)
    _check_warehouse(workspace, collector)
    _check_teams_and_people(workspace, collector)
    _resolve_measures(workspace, collector)
    _check_goals(workspace, collector)
    _resolve_kpis(workspace, collector)
    if collector.problems:
        raise HeadwayError(collector.problems)
    return workspace


def _check_organization(workspace: Workspace, out: _Collector) -> None:
    # Only real IANA names: "localtime" or a file path would load in zoneinfo but not
    # in the database.
    if workspace.model.organization.timezone not in _time_zones():
        out.add(
            ("organization", "timezone"),
            f"{workspace.model.organization.timezone!r} is not an IANA time zone "
            "(for example Asia/Taipei)",
        )


def _check_warehouse(workspace: Workspace, out: _Collector) -> None:
    from headway.engine.backends.url import WarehouseUrlError, parse_url

    try:
        parse_url(workspace.model.warehouse)
    except WarehouseUrlError as error:
        out.add(("warehouse",), str(error))


@functools.cache
def _time_zones() -> frozenset[str]:
    # The tz database also ships files that are not zones: the machine's own setting
    # ("localtime"), rule templates and a placeholder. The warehouse knows none of them.
    not_zones = {"localtime", "posixrules", "Factory"}
    return frozenset(
        name
        for name in zoneinfo.available_timezones()
        if name not in not_zones and not name.startswith(("posix/", "right/"))
    )


def _duplicates(keys: Iterable[str]) -> list[tuple[int, str]]:
    seen: set[str] = set()
    found = []
    for index, key in enumerate(keys):
        if key in seen:
            found.append((index, key))
        seen.add(key)
    return found


def _check_teams_and_people(workspace: Workspace, out: _Collector) -> None:
    model = workspace.model
    teams = {team.key: team for team in model.teams}
    for index, key in _duplicates(team.key for team in model.teams):
        out.add(("teams", index, "key"), f"the team {key!r} is defined twice")
    for index, team in enumerate(model.teams):
        if team.parent is not None and team.parent not in teams:
            out.add(
                ("teams", index, "parent"),
                f"unknown team {team.parent!r}{_suggest(team.parent, teams)}",
            )
    for index, team in enumerate(model.teams):
        seen = {team.key}
        parent = team.parent
        while parent is not None and parent in teams:
            if parent in seen:
                out.add(("teams", index, "parent"), f"the team {team.key!r} is its own ancestor")
                break
            seen.add(parent)
            parent = teams[parent].parent
    for index, email in _duplicates(person.email for person in model.people):
        out.add(("people", index, "email"), f"the person {email!r} is listed twice")
    for index, person in enumerate(model.people):
        if person.team is not None and person.team not in teams:
            out.add(
                ("people", index, "team"),
                f"unknown team {person.team!r}{_suggest(person.team, teams)}",
            )


def _resolve_measures(workspace: Workspace, out: _Collector) -> None:
    model = workspace.model
    for name, measure in model.measures.items():
        location: Location = ("measures", name)
        dataset = model.datasets.get(measure.dataset)
        if dataset is None:
            out.add(
                (*location, "dataset"),
                f"unknown dataset {measure.dataset!r}{_suggest(measure.dataset, model.datasets)}",
            )
            continue
        if measure.agg is not Aggregation.COUNT and measure.column is None:
            out.add(location, f"agg {measure.agg.value} needs a column")
        time_column = measure.time or dataset.time
        if time_column is None:
            out.add(
                location,
                f"the measure has no time column: set time here or on dataset {measure.dataset}",
            )
            continue
        parsed_filter = None
        if measure.filter is not None:
            try:
                parsed_filter = parse_filter(measure.filter)
            except FilterError as error:
                out.add((*location, "filter"), f"filter {measure.filter!r}: {error}")
                continue
        workspace.measures[name] = ResolvedMeasure(
            name=name, spec=measure, time_column=time_column, filter=parsed_filter
        )


def _check_goals(workspace: Workspace, out: _Collector) -> None:
    model = workspace.model
    goals = {goal.key: goal for goal in model.goals}
    teams = {team.key for team in model.teams}
    for index, key in _duplicates(goal.key for goal in model.goals):
        out.add(("goals", index, "key"), f"the goal {key!r} is defined twice")
    for index, goal in enumerate(model.goals):
        if goal.parent is not None and goal.parent not in goals:
            out.add(
                ("goals", index, "parent"),
                f"unknown goal {goal.parent!r}{_suggest(goal.parent, goals)}",
            )
        if goal.start and goal.due and goal.start > goal.due:
            out.add(("goals", index, "due"), f"due {goal.due} is before start {goal.start}")
        if goal.team is not None and goal.team not in teams:
            out.add(("goals", index, "team"), f"unknown team {goal.team!r}")
        seen = {goal.key}
        parent = goal.parent
        while parent is not None and parent in goals:
            if parent in seen:
                out.add(("goals", index, "parent"), f"the goal {goal.key!r} is its own ancestor")
                break
            seen.add(parent)
            parent = goals[parent].parent


def _resolve_kpis(workspace: Workspace, out: _Collector) -> None:
    model = workspace.model
    goals = {goal.key for goal in model.goals}
    teams = {team.key for team in model.teams}
    people = {person.email for person in model.people}
    for index, key in _duplicates(kpi.key for kpi in model.kpis):
        out.add(("kpis", index, "key"), f"the KPI {key!r} is defined twice")
    for index, kpi in enumerate(model.kpis):
        location: Location = ("kpis", index)
        for position, goal in enumerate(kpi.goals):
            if goal not in goals:
                out.add(
                    (*location, "goals", position), f"unknown goal {goal!r}{_suggest(goal, goals)}"
                )
        if kpi.team is not None and kpi.team not in teams:
            out.add((*location, "team"), f"unknown team {kpi.team!r}{_suggest(kpi.team, teams)}")
        if kpi.owner is not None and people and kpi.owner not in people:
            out.add((*location, "owner"), f"{kpi.owner!r} is not one of the people listed")
        if (
            "amber" in kpi.thresholds.model_fields_set
            and kpi.thresholds.amber > kpi.thresholds.green
        ):
            out.add(
                (*location, "thresholds"),
                f"amber ({kpi.thresholds.amber}) must not be above green ({kpi.thresholds.green})",
            )
        try:
            formula = parse_formula(kpi.formula)
        except FormulaError as error:
            out.add((*location, "formula"), f"formula {kpi.formula!r}: {error}")
            continue
        names = measure_names(formula)
        unknown = [name for name in names if name not in model.measures]
        for name in unknown:
            out.add(
                (*location, "formula"),
                f"formula {kpi.formula!r}: unknown measure {name!r}"
                f"{_suggest(name, model.measures)}",
            )
        if unknown or any(name not in workspace.measures for name in names):
            continue
        datasets = {workspace.measures[name].spec.dataset for name in names}
        targets = []
        for position, entry in enumerate(kpi.targets):
            target_location = (*location, "targets", position)
            try:
                starts = parse_period_label(entry.from_, workspace.fiscal_year_start)
            except PeriodLabelError as error:
                out.add((*target_location, "from"), str(error))
                continue
            if entry.where is not None:
                if len(entry.where) != 1:
                    out.add(
                        (*target_location, "where"),
                        "where names exactly one dimension and its value",
                    )
                    continue
                for dimension in entry.where:
                    lacking = sorted(
                        name
                        for name in datasets
                        if dimension not in model.datasets[name].dimensions
                    )
                    if lacking:
                        out.add(
                            (*target_location, "where"),
                            f"{dimension!r} is not a dimension of dataset {lacking[0]}",
                        )
            targets.append(ResolvedTarget(entry=entry, starts=starts, position=position))
        workspace.kpis[kpi.key] = ResolvedKpi(
            spec=kpi,
            formula=formula,
            measures=names,
            lookback=max_lookback(formula),
            targets=tuple(targets),
        )
