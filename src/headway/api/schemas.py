"""What the API reads and writes: one schema per shape, inputs apart from outputs.

Decimal values (targets, thresholds, weights, results) are **JSON strings** in every
response, e.g. `"0.08"`, so that no client rounds money or a target through a binary
float; requests accept either a string or a JSON number. Objects refer to each other by
key (team key, goal key, KPI key) and to people by e-mail address, never by database id.

Limits mirror the app database and the engine's workspace rules (`headway.engine.model`),
so whatever the API accepts can also be exported and computed.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import Annotated, Any, ClassVar

from ninja import Schema
from pydantic import (
    AfterValidator,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from headway.accounts.choices import Role
from headway.accounts.models import Team
from headway.goals.choices import GoalStatus, Horizon
from headway.goals.models import Goal
from headway.kpis.choices import Direction, EntryKind, Grain, TargetOrigin, Unit
from headway.kpis.models import Kpi, TargetVersion
from headway.results.choices import Status
from headway.results.models import Result
from headway.results.selectors import RecomputeRefusal

# Keys of teams and goals: workspace keys that are also Django slugs.
SLUG_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
# KPI keys appear inside formulas (`prev(revenue, 12)`), so they are identifiers.
KPI_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


def _shaped(pattern: str, sentence: str) -> Any:
    """Checks a text's shape, refusing it with a sentence (the pattern stays in the schema)."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise ValueError(sentence)
        return value

    return AfterValidator(check)


SlugKey = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    _shaped(SLUG_KEY_PATTERN, "a key is letters, digits, - and _, starting with a letter or digit"),
    Field(json_schema_extra={"pattern": SLUG_KEY_PATTERN}),
]
KpiKey = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    _shaped(
        KPI_KEY_PATTERN,
        "a KPI key is letters, digits and _, not starting with a digit (formulas use it)",
    ),
    Field(json_schema_extra={"pattern": KPI_KEY_PATTERN}),
]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254),
    _shaped(r"^[^@\s]+@[^@\s]+$", "this is not an e-mail address"),
]

# Text, stripped of surrounding spaces, within the column's length.
Name200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Name300 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10)]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Text500 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Formula = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]


def decimal_text(value: Decimal) -> str:
    """A decimal as plain text without exponent or trailing zeros: 0.080000 -> "0.08"."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


# A decimal in a response: always a string.
DecimalOut = Annotated[
    Decimal,
    PlainSerializer(decimal_text, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "format": "decimal",
            "pattern": r"^-?\d+(\.\d+)?$",
            "description": 'A decimal number as a string, e.g. "0.08" (exact; never a float)',
            "examples": ["0.08"],
        },
        mode="serialization",
    ),
]


# A decimal in a request: a JSON number or a string, finite, within its column's size.
ThresholdIn = Annotated[Decimal, Field(max_digits=12, decimal_places=6, allow_inf_nan=False)]
WeightIn = Annotated[Decimal, Field(max_digits=6, decimal_places=3, ge=0, allow_inf_nan=False)]
# Targets and values: 19 digits before the point, one fewer than their column holds, as
# SQLite keeps 15 significant digits and reads twenty 9s back as 1e20, which overflows the
# column's 30 digits when it is read (a server error on every read of that row).
TargetValueIn = Annotated[Decimal, Field(max_digits=29, decimal_places=10, allow_inf_nan=False)]


# Errors -------------------------------------------------------------------------------


class FieldError(Schema):
    field: str = Field(description="The field at fault, e.g. `formula` or `thresholds.green`")
    message: str


class ErrorOut(Schema):
    """Every error response: a sentence, and for invalid input what is wrong where."""

    detail: str
    errors: list[FieldError] = Field(default_factory=list)


class ConflictOut(ErrorOut):
    current_version: int | None = Field(
        default=None, description="The object's version now, when the conflict is a stale version"
    )


# Lists --------------------------------------------------------------------------------


class PageParams(Schema):
    limit: int = Field(default=50, ge=1, le=500, description="How many items at most (1-500)")
    offset: int = Field(default=0, ge=0, le=10_000_000, description="How many items to skip")


class Page(Schema):
    count: int = Field(description="How many items match, on every page")
    limit: int
    offset: int


# Updates ------------------------------------------------------------------------------


class Patch(Schema):
    """A partial update: only the fields sent change; `null` clears a field that may be
    empty. The version read (here or as `If-Match`) guards against lost updates."""

    NOT_NULL: ClassVar[frozenset[str]] = frozenset()

    version: int | None = Field(
        default=None,
        ge=1,
        description="The version you read (GET returns it, and the ETag header); a stale "
        "version is refused with 409. Required unless an If-Match header is sent.",
    )

    @model_validator(mode="after")
    def _no_null_where_required(self) -> Patch:
        for name in sorted(self.NOT_NULL & self.model_fields_set):
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields sent, without the version."""
        return {name: getattr(self, name) for name in self.model_fields_set if name != "version"}


# Who am I -----------------------------------------------------------------------------


class MeOut(Schema):
    email: str
    name: str
    role: Role
    signed_in_with: str = Field(description="`token` or `session`")
    can_write: bool = Field(description="False for a read-only token")


# Teams --------------------------------------------------------------------------------


class TeamOut(Schema):
    key: str
    name: str
    parent: str | None = Field(description="The parent team's key")
    version: int

    @classmethod
    def of(cls, team: Team) -> TeamOut:
        return cls(
            key=team.key,
            name=team.name,
            parent=team.parent.key if team.parent else None,
            version=team.version,
        )


class TeamIn(Schema):
    key: SlugKey
    name: Name200
    parent: SlugKey | None = Field(default=None, description="The parent team's key")


class TeamPatch(Patch):
    NOT_NULL = frozenset({"name"})

    name: Name200 | None = None
    parent: SlugKey | None = None


class TeamPage(Page):
    items: list[TeamOut]


# Goals --------------------------------------------------------------------------------


class GoalOut(Schema):
    key: str
    title: str
    horizon: Horizon
    status: GoalStatus
    parent: str | None = Field(description="The parent goal's key")
    team: str | None = Field(description="The team's key")
    owner: str | None = Field(description="The owner's e-mail address")
    start: datetime.date | None
    due: datetime.date | None
    statement: str
    description: str
    version: int

    @classmethod
    def of(cls, goal: Goal) -> GoalOut:
        return cls(
            key=goal.key,
            title=goal.title,
            horizon=Horizon(goal.horizon),
            status=GoalStatus(goal.status),
            parent=goal.parent.key if goal.parent else None,
            team=goal.team.key if goal.team else None,
            owner=goal.owner.email if goal.owner else None,
            start=goal.start,
            due=goal.due,
            statement=goal.statement,
            description=goal.description,
            version=goal.version,
        )


class GoalIn(Schema):
    key: SlugKey
    title: Name300
    horizon: Horizon
    parent: SlugKey | None = None
    team: SlugKey | None = None
    owner: Email | None = None
    start: datetime.date | None = None
    due: datetime.date | None = None
    statement: Text500 = ""
    description: LongText = ""


class GoalPatch(Patch):
    NOT_NULL = frozenset({"title", "horizon", "status", "statement", "description"})

    title: Name300 | None = None
    horizon: Horizon | None = None
    status: GoalStatus | None = None
    parent: SlugKey | None = None
    team: SlugKey | None = None
    owner: Email | None = None
    start: datetime.date | None = None
    due: datetime.date | None = None
    statement: Text500 | None = None
    description: LongText | None = None


class GoalPage(Page):
    items: list[GoalOut]


# KPIs ---------------------------------------------------------------------------------


class GoalLinkOut(Schema):
    goal: str = Field(description="The goal's key")
    weight: DecimalOut


class GoalLinkIn(Schema):
    goal: SlugKey = Field(description="The goal's key")
    weight: WeightIn = Field(
        default=Decimal(1), description="The KPI's weight in the goal's progress"
    )


class ThresholdsOut(Schema):
    green: DecimalOut = Field(description="Attainment from which the status is green")
    amber: DecimalOut = Field(description="Attainment from which the status is amber")


class ThresholdsIn(Schema):
    green: ThresholdIn = Decimal("1")
    amber: ThresholdIn = Decimal("0.9")


class ThresholdsPatch(Schema):
    green: ThresholdIn | None = None
    amber: ThresholdIn | None = None


class KpiOut(Schema):
    key: str
    name: str
    description: str
    entry: EntryKind = Field(description="`formula`: computed from data; `manual`: entered")
    manual_approval: bool = Field(
        description="For a manual KPI: others' entries count once its owner approves them"
    )
    formula: str
    unit: Unit
    direction: Direction
    grain: Grain
    team: str | None = Field(description="The team's key")
    owner: str | None = Field(description="The owner's e-mail address")
    thresholds: ThresholdsOut
    goals: list[GoalLinkOut]
    active: bool = Field(description="False once retired (its history is kept)")
    version: int

    @classmethod
    def of(cls, kpi: Kpi) -> KpiOut:
        return cls(
            key=kpi.key,
            name=kpi.name,
            description=kpi.description,
            entry=EntryKind(kpi.entry),
            manual_approval=kpi.manual_approval,
            formula=kpi.formula,
            unit=Unit(kpi.unit),
            direction=Direction(kpi.direction),
            grain=Grain(kpi.grain),
            team=kpi.team.key if kpi.team else None,
            owner=kpi.owner.email if kpi.owner else None,
            thresholds=ThresholdsOut(green=kpi.threshold_green, amber=kpi.threshold_amber),
            goals=[
                GoalLinkOut(goal=link.goal.key, weight=link.weight)
                for link in sorted(kpi.goal_links.all(), key=lambda link: link.goal.key)
            ],
            active=kpi.is_active,
            version=kpi.version,
        )


def _unique_goals(links: list[GoalLinkIn] | None) -> list[GoalLinkIn] | None:
    if links is not None:
        keys = [link.goal for link in links]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise ValueError(f"goal {repeated[0]!r} is listed twice")
    return links


class KpiIn(Schema):
    key: KpiKey = Field(description="Letters, digits and _, not starting with a digit")
    name: Name300
    description: LongText = ""
    entry: EntryKind = EntryKind.FORMULA
    manual_approval: bool = False
    formula: Formula = Field(default="", description="e.g. `won_deals / leads`")
    unit: Unit
    direction: Direction = Direction.UP
    grain: Grain
    team: SlugKey | None = None
    owner: Email | None = None
    thresholds: ThresholdsIn = Field(default_factory=ThresholdsIn)
    goals: list[GoalLinkIn] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _goals_once(self) -> KpiIn:
        _unique_goals(self.goals)
        return self


class KpiPatch(Patch):
    NOT_NULL = frozenset(
        {
            "name",
            "description",
            "entry",
            "manual_approval",
            "formula",
            "unit",
            "direction",
            "grain",
            "thresholds",
        }
    )

    name: Name300 | None = None
    description: LongText | None = None
    entry: EntryKind | None = None
    manual_approval: bool | None = None
    formula: Formula | None = None
    unit: Unit | None = None
    direction: Direction | None = None
    grain: Grain | None = None
    team: SlugKey | None = None
    owner: Email | None = None
    thresholds: ThresholdsPatch | None = None
    goals: list[GoalLinkIn] | None = Field(
        default=None, max_length=200, description="Replaces the KPI's goal links when sent"
    )

    @model_validator(mode="after")
    def _goals_once(self) -> KpiPatch:
        _unique_goals(self.goals)
        return self


class KpiPage(Page):
    items: list[KpiOut]


# Target versions ----------------------------------------------------------------------


class TargetOut(Schema):
    id: int = Field(description="The version's number; versions are never changed")
    kpi: str = Field(description="The KPI's key")
    effective_from: str = Field(description="The first period it applies to, e.g. 2026-07")
    effective_start: datetime.date
    value: DecimalOut
    where_dimension: str = Field(description="For a group's target: the dimension, e.g. team")
    where_value: str = Field(description="For a group's target: the group, e.g. north")
    reason: str
    decided_by: str | None = Field(description="Who decided it (e-mail address)")
    decided_at: datetime.datetime
    origin: TargetOrigin
    origin_reference: str

    @classmethod
    def of(cls, target: TargetVersion, kpi_key: str) -> TargetOut:
        return cls(
            id=target.pk,
            kpi=kpi_key,
            effective_from=target.effective_from,
            effective_start=target.effective_start,
            value=target.value,
            where_dimension=target.where_dimension,
            where_value=target.where_value,
            reason=target.reason,
            decided_by=target.decided_by.email if target.decided_by else None,
            decided_at=target.decided_at,
            origin=TargetOrigin(target.origin),
            origin_reference=target.origin_reference,
        )


class TargetIn(Schema):
    effective_from: Label = Field(description="A period label: 2026-07, 2026-Q3, 2026-W27 or 2026")
    value: TargetValueIn
    reason: Reason = Field(description="Why the target is what it is (required)")
    where_dimension: Text200 = ""
    where_value: Text200 = ""
    origin: TargetOrigin = TargetOrigin.SETUP
    origin_reference: Text200 = Field(
        default="", description="e.g. the review meeting or proposal it came from"
    )


class TargetPage(Page):
    items: list[TargetOut]


# Results ------------------------------------------------------------------------------


def _measure_value(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


class RecomputeRefusedOut(Schema):
    at: datetime.datetime = Field(description="When the last recompute was refused")
    reason: str = Field(description="Why: the numbers that could not be stored")


class ResultOut(Schema):
    kpi: str = Field(description="The KPI's key")
    period: str = Field(description="The period's label, e.g. 2026-03")
    period_start: datetime.date
    group_dimension: str = Field(description="Empty for the organisation's total")
    group_value: str
    value: DecimalOut | None
    target: DecimalOut | None
    attainment: DecimalOut | None
    status: Status
    measures: dict[str, DecimalOut | None] = Field(
        description="The measure values the formula used (name@period for earlier periods)"
    )
    computed_at: datetime.datetime
    data_as_of: datetime.datetime | None
    recompute_refused: RecomputeRefusedOut | None = Field(
        default=None,
        description="Set when the KPI's last recompute was refused (a number it computed "
        "cannot be stored): this result is from before it, as `computed_at` says",
    )

    @classmethod
    def of(cls, result: Result, kpi_key: str, refusal: RecomputeRefusal | None = None) -> ResultOut:
        return cls(
            kpi=kpi_key,
            period=result.period,
            period_start=result.period_start,
            group_dimension=result.group_dimension,
            group_value=result.group_value,
            value=result.value,
            target=result.target,
            attainment=result.attainment,
            status=Status(result.status),
            measures={name: _measure_value(value) for name, value in result.measures.items()},
            computed_at=result.computed_at,
            data_as_of=result.data_as_of,
            recompute_refused=RecomputeRefusedOut(at=refusal.at, reason=refusal.reason)
            if refusal is not None
            else None,
        )


class ResultFilters(PageParams):
    period_from: str | None = Field(
        default=None,
        alias="from",
        max_length=10,
        description="First period, e.g. 2026-01 or 2026-Q1",
    )
    period_to: str | None = Field(
        default=None, alias="to", max_length=10, description="Last period (inclusive), e.g. 2026-06"
    )
    group_dimension: str = Field(
        default="", max_length=200, description="A dimension, e.g. team; empty: the totals"
    )
    group_value: str | None = Field(
        default=None, max_length=200, description="One group of the dimension, e.g. north"
    )


class ResultPage(Page):
    items: list[ResultOut]
