"""The workspace as typed models: what `headway.yaml` says, checked field by field.

Cross-references (a measure's dataset, a KPI's goals, formulas, filters) are checked
afterwards by `headway.engine.workspace`, which reports every problem with its line.
"""

from __future__ import annotations

import datetime
import enum
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from headway.lib.periods import Grain

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"

Key = Annotated[str, StringConstraints(pattern=KEY_PATTERN, max_length=100)]
# Measures are referred to by name inside formulas, so their names are identifiers.
Identifier = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=100)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=500)]
ColumnName = Annotated[str, StringConstraints(min_length=1, max_length=200)]


def _as_text(value: Any) -> Any:
    """YAML reads `2026` and `2026-01-31` as numbers and dates; period labels are text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | datetime.date):
        return str(value)
    return value


PeriodLabel = Annotated[str, BeforeValidator(_as_text)]


class Unit(enum.StrEnum):
    COUNT = "count"
    NUMBER = "number"
    PERCENT = "percent"
    CURRENCY = "currency"
    SCORE = "score"


class Direction(enum.StrEnum):
    UP = "up"
    DOWN = "down"


class Aggregation(enum.StrEnum):
    COUNT = "count"
    COUNT_DISTINCT = "count_distinct"
    SUM = "sum"
    AVG = "avg"
    MIN = "min"
    MAX = "max"

    @property
    def is_zero_when_empty(self) -> bool:
        """Counts and sums of nothing are 0; an average, minimum or maximum of nothing is null."""
        return self in (Aggregation.COUNT, Aggregation.COUNT_DISTINCT, Aggregation.SUM)


class Horizon(enum.StrEnum):
    LONG = "long"
    SHORT = "short"


class Status(enum.StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    NONE = "none"

    @property
    def colour(self) -> str:
        """The one place a status's colour is defined (terminal colour names)."""
        return {
            Status.GREEN: "green",
            Status.AMBER: "yellow",
            Status.RED: "red",
            Status.NONE: "bright_black",
        }[self]


class Strict(BaseModel):
    """Unknown keys are errors: a typo must not silently drop a setting."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Organization(Strict):
    name: Text
    timezone: str = "UTC"
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "USD"
    fiscal_year_start: int = Field(default=1, ge=1, le=12)
    language: Literal["en", "zh-Hant"] = "en"


class Team(Strict):
    key: Key
    name: Text
    parent: Key | None = None


class Person(Strict):
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)]
    name: Text
    team: Key | None = None
    role: Literal["admin", "manager", "member", "viewer"] = "member"


class Dataset(Strict):
    file: Text
    key: ColumnName
    time: ColumnName | None = None
    dimensions: list[ColumnName] = Field(default_factory=list)


class Measure(Strict):
    dataset: Key
    agg: Aggregation
    column: ColumnName | None = None
    filter: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = None
    time: ColumnName | None = None


class Goal(Strict):
    key: Key
    title: Text
    horizon: Horizon
    parent: Key | None = None
    start: datetime.date | None = None
    due: datetime.date | None = None
    owner: str | None = None
    team: Key | None = None
    statement: Text | None = None
    description: Annotated[str, StringConstraints(max_length=5000)] | None = None


FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class Thresholds(Strict):
    green: FiniteFloat = 1.0
    amber: FiniteFloat = 0.9


GroupValue = Annotated[str, BeforeValidator(_as_text)]


class TargetEntry(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: PeriodLabel = Field(alias="from")
    value: FiniteFloat
    reason: Text | None = None
    where: dict[ColumnName, GroupValue] | None = None


class Kpi(Strict):
    # Formulas name measures, never KPIs, so a KPI key may be any key (conversion-rate).
    key: Key
    name: Text
    formula: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    unit: Unit
    direction: Direction = Direction.UP
    grain: Grain
    goals: list[Key] = Field(default_factory=list)
    team: Key | None = None
    owner: str | None = None
    description: Annotated[str, StringConstraints(max_length=5000)] | None = None
    thresholds: Thresholds = Field(default_factory=Thresholds)
    targets: list[TargetEntry] = Field(default_factory=list)


class WorkspaceModel(Strict):
    version: Literal[1]
    organization: Organization
    # Where the scans run: a URL (docs/warehouse.md); the embedded DuckDB when absent. It
    # is checked by headway.engine.workspace, whose message hides a password.
    warehouse: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = None
    teams: list[Team] = Field(default_factory=list)
    people: list[Person] = Field(default_factory=list)
    datasets: dict[Key, Dataset]
    measures: dict[Identifier, Measure]
    goals: list[Goal] = Field(default_factory=list)
    kpis: list[Kpi]


def is_identifier(text: str) -> bool:
    return re.match(NAME_PATTERN, text) is not None
