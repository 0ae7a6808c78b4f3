"""What a proposal would change, shown from the real data before anyone decides.

- A new KPI: the draft formula computed by the engine over the data for its latest
  complete periods (up to 12), and in how many of them the suggested target would have
  been met.
- A target change: the KPI's stored totals of its last 12 complete periods, each with
  whether it met the current target (the one in force from the proposed period, which the
  proposal replaces) and whether it would have met the proposed one, with the counts and
  the realism verdict of each target (`results.analysis.realism`).
- A retirement: the goals the KPI serves (with their weights) and its recent statuses.

A period is complete once it is over in the organisation's time zone.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _

from headway.accounts.models import Organization
from headway.engine.compute import Number
from headway.engine.model import Direction
from headway.engine.problems import HeadwayError
from headway.kpis.choices import EntryKind
from headway.kpis.models import Kpi, KpiGoal, TargetVersion
from headway.kpis.services import formula_problems
from headway.lib.periods import (
    Grain,
    Period,
    PeriodLabelError,
    parse_period_label,
    period_containing,
)
from headway.participation.models import Proposal, ProposalKind
from headway.results import manual
from headway.results.analysis.realism import Realism, realism
from headway.results.analysis.series import meets
from headway.results.drafts import draft_values
from headway.results.models import Result

# How many complete periods the effect looks back over.
WINDOW = 12
# How many recent periods a retirement shows.
RECENT = 6


@dataclass(frozen=True)
class EffectRow:
    """One complete period: its value, the target stored with it (in force then), its
    status, and whether the value meets the current and the proposed target (None when
    there is no value or no such target)."""

    period: str
    value: Decimal | Number | None
    target: Decimal | None = None
    status: str = ""
    meets_current: bool | None = None
    meets_proposed: bool | None = None


@dataclass(frozen=True)
class GoalServed:
    key: str
    title: str
    weight: Decimal


@dataclass
class Effect:
    """What a proposal would change; which fields are filled depends on its kind."""

    kind: str
    rows: list[EffectRow] = field(default_factory=list)
    # Why nothing (or not everything) could be worked out, in words for people.
    problems: list[str] = field(default_factory=list)
    current_target: Decimal | None = None
    proposed_target: Decimal | None = None
    # The periods with a value, and how many of them met each target.
    periods: int = 0
    met_current: int = 0
    met_proposed: int = 0
    realism_current: Realism | None = None
    realism_proposed: Realism | None = None
    goals: list[GoalServed] = field(default_factory=list)
    latest_status: str = ""


def _float(value: Decimal | Number | None) -> float | None:
    return None if value is None else float(value)


def _meets(
    value: Decimal | Number | None, target: Decimal | None, direction: Direction
) -> bool | None:
    number, goal = _float(value), _float(target)
    if number is None or goal is None:
        return None
    return meets(number, goal, direction)


def _current_period(grain: str, today: datetime.date) -> Period:
    return period_containing(Grain(grain), today, Organization.current().fiscal_year_start)


def _complete_results(kpi: Kpi, today: datetime.date, count: int) -> list[Result]:
    """The KPI's stored totals of its last `count` complete periods, oldest first."""
    current = _current_period(kpi.grain, today)
    rows = Result.objects.filter(
        kpi=kpi, group_dimension="", group_value="", period_start__lt=current.start
    ).order_by("-period_start")[:count]
    return list(reversed(rows))


def target_in_force(kpi: Kpi, start: datetime.date | None) -> TargetVersion | None:
    """The KPI's total target in force at `start` (the latest one when `start` is None)."""
    versions = TargetVersion.objects.filter(kpi=kpi, where_dimension="", where_value="")
    if start is not None:
        versions = versions.filter(effective_start__lte=start)
    return versions.order_by("effective_start", "pk").last()


def _counts(effect: Effect, rows: Sequence[EffectRow]) -> None:
    effect.rows = list(rows)
    valued = [row for row in rows if row.value is not None]
    effect.periods = len(valued)
    effect.met_current = sum(1 for row in valued if row.meets_current)
    effect.met_proposed = sum(1 for row in valued if row.meets_proposed)


def _new_kpi_effect(proposal: Proposal, today: datetime.date) -> Effect:
    effect = Effect(kind=proposal.kind, proposed_target=proposal.target_value)
    problems = formula_problems(proposal.formula, EntryKind.FORMULA)
    if problems:
        effect.problems = problems
        return effect
    direction = Direction(proposal.direction or Direction.UP)
    current = _current_period(proposal.grain, today)
    try:
        values = draft_values(
            formula=proposal.formula,
            unit=proposal.unit,
            grain=proposal.grain,
            direction=direction.value,
            periods=WINDOW + 1,
            today=today,
        )
    except HeadwayError as error:
        effect.problems = [problem.message for problem in error.problems]
        return effect
    complete = [value for value in values if value.start < current.start][-WINDOW:]
    if not complete:
        effect.problems = [_("The data has no complete periods for this formula yet.")]
    _counts(
        effect,
        [
            EffectRow(
                period=value.period,
                value=value.value,
                meets_proposed=_meets(value.value, proposal.target_value, direction),
            )
            for value in complete
        ],
    )
    return effect


def _target_change_effect(proposal: Proposal, kpi: Kpi, today: datetime.date) -> Effect:
    start: datetime.date | None = None
    if proposal.effective_from:
        try:
            fiscal = Organization.current().fiscal_year_start
            start = parse_period_label(proposal.effective_from, fiscal).start
        except PeriodLabelError:
            start = None
    current = target_in_force(kpi, start)
    direction = Direction(kpi.direction)
    effect = Effect(
        kind=proposal.kind,
        current_target=current.value if current is not None else None,
        proposed_target=proposal.target_value,
    )
    results = _complete_results(kpi, today, WINDOW)
    if not results:
        effect.problems = [_("The KPI has no results of complete periods yet.")]
    _counts(
        effect,
        [
            EffectRow(
                period=result.period,
                value=result.value,
                target=result.target,
                status=result.status,
                meets_current=_meets(result.value, effect.current_target, direction),
                meets_proposed=_meets(result.value, effect.proposed_target, direction),
            )
            for result in results
        ],
    )
    values = [_float(result.value) for result in results]
    if effect.current_target is not None:
        effect.realism_current = realism(values, float(effect.current_target), direction)
    if effect.proposed_target is not None:
        effect.realism_proposed = realism(values, float(effect.proposed_target), direction)
    return effect


def _retire_effect(proposal: Proposal, kpi: Kpi, today: datetime.date) -> Effect:
    effect = Effect(kind=proposal.kind)
    effect.goals = [
        GoalServed(key=link.goal.key, title=link.goal.title, weight=link.weight)
        for link in KpiGoal.objects.filter(kpi=kpi)
        .select_related("goal")
        .order_by("goal__position", "goal__key")
    ]
    results = _complete_results(kpi, today, RECENT)
    _counts(
        effect,
        [
            EffectRow(
                period=result.period, value=result.value, target=result.target, status=result.status
            )
            for result in results
        ],
    )
    effect.latest_status = results[-1].status if results else ""
    return effect


def proposal_effect(proposal: Proposal, today: datetime.date | None = None) -> Effect:
    """What the proposal would change, worked out from the data as it is now (`today`:
    where the organisation is, by default)."""
    today = today or manual.organization_today()
    if proposal.kind == ProposalKind.NEW_KPI:
        return _new_kpi_effect(proposal, today)
    kpi = proposal.kpi
    if kpi is None:
        return Effect(kind=proposal.kind, problems=[_("The proposal names no KPI.")])
    if proposal.kind == ProposalKind.TARGET_CHANGE:
        return _target_change_effect(proposal, kpi, today)
    return _retire_effect(proposal, kpi, today)
