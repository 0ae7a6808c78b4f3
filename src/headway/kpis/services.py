"""Writes for KPIs and their targets, each audited, with permission checks.

A target is never overwritten: `target_revise` appends a version with its reason.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from headway.accounts.models import Organization, Team, User
from headway.accounts.permissions import can_edit_team_things
from headway.audit.errors import NotAllowed, check_version
from headway.audit.services import audit_record, snapshot
from headway.engine.formula import FormulaError, measure_names, parse_formula
from headway.goals.models import Goal
from headway.kpis.choices import EntryKind, TargetOrigin
from headway.kpis.models import Kpi, KpiGoal, Measure, TargetVersion
from headway.lib.periods import PeriodLabelError, parse_period_label
from headway.lib.security_log import security_event

EDITABLE = {
    "manual_approval",
    "name",
    "description",
    "formula",
    "unit",
    "direction",
    "grain",
    "team",
    "owner",
    "threshold_green",
    "threshold_amber",
    "entry",
}


def formula_problems(formula: str, entry: str = EntryKind.FORMULA) -> list[str]:
    """Sentences for what is wrong with a formula (empty when it is fine)."""
    if entry == EntryKind.MANUAL:
        return []
    try:
        node = parse_formula(formula)
    except FormulaError as error:
        return [str(error)]
    known = set(Measure.objects.values_list("name", flat=True))
    return [f"unknown measure {name!r}" for name in measure_names(node) if name not in known]


def _check(kpi: Kpi) -> None:
    problems = formula_problems(kpi.formula, kpi.entry)
    if problems:
        # Refused when saving (not while it is typed and checked, which is not an event).
        security_event(
            "formula.refused",
            level=logging.WARNING,
            kpi=kpi.key,
            formula=kpi.formula,
            reason="; ".join(problems),
        )
        raise ValidationError({"formula": problems})
    if kpi.threshold_amber > kpi.threshold_green:
        raise ValidationError({"threshold_amber": "amber must not be above green"})
    kpi.full_clean(exclude=["goals"])


def _goal_links(kpi: Kpi) -> dict[str, str]:
    return {
        link.goal.key: str(link.weight)
        for link in KpiGoal.objects.filter(kpi=kpi).select_related("goal").order_by("goal__key")
    }


def _set_goals(kpi: Kpi, goals: list[tuple[Goal, Decimal]]) -> None:
    KpiGoal.objects.filter(kpi=kpi).exclude(goal__in=[goal for goal, _ in goals]).delete()
    for goal, weight in goals:
        KpiGoal.objects.update_or_create(kpi=kpi, goal=goal, defaults={"weight": weight})


def kpi_create(
    *,
    by: User,
    key: str,
    name: str,
    formula: str,
    unit: str,
    grain: str,
    direction: str = "up",
    team: Team | None = None,
    owner: User | None = None,
    description: str = "",
    threshold_green: Decimal = Decimal("1"),
    threshold_amber: Decimal = Decimal("0.9"),
    entry: str = EntryKind.FORMULA,
    manual_approval: bool = False,
    goals: list[tuple[Goal, Decimal]] | None = None,
) -> Kpi:
    if not can_edit_team_things(by, team.pk if team else None):
        raise NotAllowed("only an admin, or a manager for their own team, may create KPIs")
    kpi = Kpi(
        key=key,
        name=name,
        formula=formula,
        unit=unit,
        grain=grain,
        direction=direction,
        team=team,
        owner=owner,
        description=description,
        threshold_green=threshold_green,
        threshold_amber=threshold_amber,
        entry=entry,
        manual_approval=manual_approval,
        position=Kpi.objects.count(),
    )
    _check(kpi)
    with transaction.atomic():
        kpi.save()
        _set_goals(kpi, goals or [])
        audit_record(
            actor=by,
            action="kpi.create",
            target=kpi,
            after={**snapshot(kpi), "goals": [goal.key for goal, _ in goals or []]},
        )
    return kpi


def kpi_update(
    *,
    kpi: Kpi,
    by: User,
    expected_version: int | None = None,
    goals: list[tuple[Goal, Decimal]] | None = None,
    **fields: Any,
) -> Kpi:
    unknown = set(fields) - EDITABLE
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    if not can_edit_team_things(by, kpi.team_id):
        raise NotAllowed("only an admin or a manager of the KPI's team may edit it")
    if "team" in fields:
        team = fields["team"]
        if not can_edit_team_things(by, team.pk if team else None):
            raise NotAllowed("you may only move a KPI to a team you manage")
    with transaction.atomic():
        current = Kpi.objects.select_for_update().get(pk=kpi.pk)
        check_version(f"KPI {current.key}", expected_version, current.version)
        before = {**snapshot(current), "goals": _goal_links(current)}
        for name, value in fields.items():
            setattr(current, name, value)
        _check(current)
        current.version += 1
        current.save()
        if goals is not None:
            _set_goals(current, goals)
        audit_record(
            actor=by,
            action="kpi.update",
            target=current,
            before=before,
            after={**snapshot(current), "goals": _goal_links(current)},
        )
    return current


def target_revise(
    *,
    kpi: Kpi,
    by: User | None,
    effective_from: str,
    value: Decimal | str | float,
    reason: str,
    where_dimension: str = "",
    where_value: str = "",
    origin: str = TargetOrigin.SETUP,
    origin_reference: str = "",
) -> TargetVersion:
    """Appends a target version from a period on; the reason is required."""
    if by is not None and not can_edit_team_things(by, kpi.team_id):
        raise NotAllowed("only an admin or a manager of the KPI's team may change its targets")
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "say why the target changes"})
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValidationError({"value": f"{value!r} is not a number"}) from None
    if not amount.is_finite():
        raise ValidationError({"value": "the target must be a finite number"})
    fiscal = Organization.current().fiscal_year_start
    try:
        period = parse_period_label(effective_from, fiscal)
    except PeriodLabelError as error:
        raise ValidationError({"effective_from": str(error)}) from None
    if bool(where_dimension) != bool(where_value):
        raise ValidationError({"where_value": "a group target names a dimension and a value"})
    with transaction.atomic():
        target = TargetVersion.objects.create(
            kpi=kpi,
            effective_from=period.label,
            effective_start=period.start,
            value=amount,
            where_dimension=where_dimension,
            where_value=where_value,
            reason=reason,
            decided_by=by,
            origin=origin,
            origin_reference=origin_reference,
        )
        audit_record(
            actor=by, action="target.create", target=target, after=snapshot(target), reason=reason
        )
    return target


def kpi_retire(*, kpi: Kpi, by: User | None, reason: str, reference: str = "") -> Kpi:
    """Stops computing and showing a KPI; its results, targets and history stay.

    `reference` names what decided it (e.g. a review decision)."""
    if by is not None and not can_edit_team_things(by, kpi.team_id):
        raise NotAllowed("only an admin or a manager of the KPI's team may retire it")
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "say why the KPI is retired"})
    with transaction.atomic():
        current = Kpi.objects.select_for_update().get(pk=kpi.pk)
        if not current.is_active:
            raise ValidationError({"kpi": f"KPI {current.key} is already retired"})
        before = snapshot(current)
        current.is_active = False
        current.version += 1
        current.save()
        after = snapshot(current)
        if reference:
            after["decided_by_reference"] = reference
        audit_record(
            actor=by,
            action="kpi.retire",
            target=current,
            before=before,
            after=after,
            reason=reason,
        )
    return current
