"""What each kind of decision needs, checked when it is recorded, and what applying it
writes (always through the KPI services, which keep the history and the audit log).

`details` per kind:
- keep: nothing.
- change_target: `value`, `effective_from` (a period label of the KPI's grain), optional
  `where_dimension`/`where_value` for a group's target; `previous` (the target it replaces,
  for "8% → 6%") is filled in when it is recorded.
- change_kpi: `changes`, some of `formula`, `threshold_green`, `threshold_amber`, `owner`
  (a person's id or None); `kpi_version`, the KPI's version when it was recorded.
- retire_kpi: nothing.
- add_kpi: `key`, `name`, `formula`, `unit`, `grain`, `direction`, optional `team` (key),
  `owner` (id), `goal` (key), `target` and `target_from`.
- assign_action: `title`, `owner` (id), `due` (ISO date); the KPI is optional.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError

from headway.accounts.models import Organization, Team, User
from headway.audit.errors import ConflictError
from headway.engine.model import KEY_PATTERN
from headway.goals.models import Goal
from headway.kpis.choices import Direction, EntryKind, Grain, TargetOrigin, Unit
from headway.kpis.models import Kpi, TargetVersion
from headway.kpis.services import (
    formula_problems,
    kpi_create,
    kpi_retire,
    kpi_update,
    target_revise,
)
from headway.lib.periods import Grain as PeriodGrain
from headway.lib.periods import PeriodLabelError, parse_period_label
from headway.results.locks import locked_problem
from headway.reviews.choices import DecisionKind
from headway.reviews.models import Action, Decision

KPI_CHANGES = ("formula", "threshold_green", "threshold_amber", "owner")


class KpiChangedSinceDecision(ConflictError):
    """A change of a KPI decided on one version of it, applied after someone changed it."""

    def __init__(self, kpi: Kpi, expected: int, current: int) -> None:
        super().__init__(f"KPI {kpi.key}", expected, current)
        self.args = (
            f"KPI {kpi.key} ({kpi.name}) was changed after the decision was recorded "
            f"(it is at version {current}; the meeting decided on version {expected}). "
            "Nothing was applied: the chair withdraws this approval, and the change is "
            "decided again on the KPI as it is now.",
        )


def _text(details: dict[str, Any], name: str, *, required: bool = True, limit: int = 500) -> str:
    value = str(details.get(name) or "").strip()
    if required and not value:
        raise ValidationError({name: f"{name.replace('_', ' ')} is required"})
    if len(value) > limit:
        raise ValidationError({name: f"{name.replace('_', ' ')} is longer than {limit} characters"})
    return value


def _number(details: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    raw = details.get(name)
    if raw is None or str(raw).strip() == "":
        if required:
            raise ValidationError({name: f"{name.replace('_', ' ')} is required"})
        return None
    try:
        amount = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValidationError({name: f"{raw!r} is not a number"}) from None
    if not amount.is_finite():
        raise ValidationError({name: f"{raw!r} is not a finite number"})
    return str(amount)


def _person(raw: Any, name: str) -> int | None:
    if raw is None or raw == "":
        return None
    person = User.objects.filter(pk=raw, is_active=True).first() if str(raw).isdigit() else None
    if person is None:
        raise ValidationError({name: f"no active person has the id {raw!r}"})
    return person.pk


def _period(kpi_grain: str, label: str, name: str) -> tuple[str, datetime.date, datetime.date]:
    fiscal = Organization.current().fiscal_year_start
    try:
        period = parse_period_label(label, fiscal)
    except PeriodLabelError as error:
        raise ValidationError({name: str(error)}) from None
    if period.grain != PeriodGrain(kpi_grain):
        raise ValidationError(
            {name: f"{label} is not a {kpi_grain}: the KPI's targets are set per {kpi_grain}"}
        )
    problem = locked_problem(period.label, period.start, period.last_day)
    if problem:
        raise ValidationError({name: problem})
    return period.label, period.start, period.last_day


def current_target(
    kpi: Kpi, start: datetime.date, where_dimension: str = "", where_value: str = ""
) -> TargetVersion | None:
    """The target version in force at `start` for the total (or the group)."""
    return (
        TargetVersion.objects.filter(
            kpi=kpi,
            effective_start__lte=start,
            where_dimension=where_dimension,
            where_value=where_value,
        )
        .order_by("effective_start", "pk")
        .last()
    )


def clean_details(kind: str, kpi: Kpi | None, details: dict[str, Any]) -> dict[str, Any]:
    """The details of a decision of `kind`, checked; raises ValidationError naming the
    field at fault."""
    if kind not in DecisionKind.values:
        raise ValidationError({"kind": f"{kind!r} is not a kind of decision"})
    needs_kpi = kind in (
        DecisionKind.KEEP,
        DecisionKind.CHANGE_TARGET,
        DecisionKind.CHANGE_KPI,
        DecisionKind.RETIRE_KPI,
    )
    if needs_kpi and kpi is None:
        raise ValidationError({"kpi": "this decision is about a KPI: name it"})
    if kind in (DecisionKind.KEEP, DecisionKind.RETIRE_KPI):
        return {}
    if kind == DecisionKind.CHANGE_TARGET:
        assert kpi is not None
        where_dimension = _text(details, "where_dimension", required=False, limit=200)
        where_value = _text(details, "where_value", required=False, limit=200)
        if bool(where_dimension) != bool(where_value):
            raise ValidationError({"where_value": "a group target names a dimension and a value"})
        label, start, _ = _period(
            kpi.grain, _text(details, "effective_from", limit=20), "effective_from"
        )
        previous = current_target(kpi, start, where_dimension, where_value)
        return {
            "value": _number(details, "value"),
            "effective_from": label,
            "where_dimension": where_dimension,
            "where_value": where_value,
            "previous": str(previous.value) if previous is not None else None,
        }
    if kind == DecisionKind.CHANGE_KPI:
        assert kpi is not None
        raw = details.get("changes") or {}
        if not isinstance(raw, dict) or not raw:
            raise ValidationError({"changes": "say what changes: formula, thresholds or owner"})
        unknown = sorted(set(raw) - set(KPI_CHANGES))
        if unknown:
            raise ValidationError({"changes": f"cannot be changed by a review: {unknown}"})
        changes: dict[str, Any] = {}
        if "formula" in raw:
            formula = str(raw["formula"] or "").strip()
            problems = formula_problems(formula, kpi.entry)
            if problems:
                raise ValidationError({"formula": problems})
            changes["formula"] = formula
        for name in ("threshold_green", "threshold_amber"):
            if name in raw:
                changes[name] = _number(raw, name)
        green = Decimal(changes.get("threshold_green", kpi.threshold_green))
        amber = Decimal(changes.get("threshold_amber", kpi.threshold_amber))
        if amber > green:
            raise ValidationError({"threshold_amber": "amber must not be above green"})
        if "owner" in raw:
            changes["owner"] = _person(raw["owner"], "owner")
        return {"changes": changes, "kpi_version": kpi.version}
    if kind == DecisionKind.ADD_KPI:
        key = _text(details, "key", limit=100)
        if not re.fullmatch(KEY_PATTERN, key):
            raise ValidationError(
                {"key": f"{key!r}: use letters, digits, _ . and -, starting with a letter or digit"}
            )
        if Kpi.objects.filter(key=key).exists():
            raise ValidationError({"key": f"a KPI with the key {key!r} already exists"})
        formula = _text(details, "formula", limit=2000)
        problems = formula_problems(formula)
        if problems:
            raise ValidationError({"formula": problems})
        cleaned: dict[str, Any] = {
            "key": key,
            "name": _text(details, "name", limit=300),
            "formula": formula,
        }
        for name, choices in (("unit", Unit), ("grain", Grain), ("direction", Direction)):
            value = _text(details, name, limit=20)
            if value not in choices.values:
                raise ValidationError(
                    {name: f"{value!r} is not one of {', '.join(choices.values)}"}
                )
            cleaned[name] = value
        team = _text(details, "team", required=False, limit=100)
        if team and not Team.objects.filter(key=team).exists():
            raise ValidationError({"team": f"no team has the key {team!r}"})
        goal = _text(details, "goal", required=False, limit=100)
        if goal and not Goal.objects.filter(key=goal).exists():
            raise ValidationError({"goal": f"no goal has the key {goal!r}"})
        cleaned.update(team=team, goal=goal, owner=_person(details.get("owner"), "owner"))
        target = _number(details, "target", required=False)
        cleaned["target"] = target
        cleaned["target_from"] = None
        if target is not None:
            label, _, _ = _period(
                cleaned["grain"], _text(details, "target_from", limit=20), "target_from"
            )
            cleaned["target_from"] = label
        return cleaned
    # assign_action
    due_text = _text(details, "due", limit=10)
    try:
        due = datetime.date.fromisoformat(due_text)
    except ValueError:
        raise ValidationError({"due": f"{due_text!r} is not a date (YYYY-MM-DD)"}) from None
    owner = _person(details.get("owner"), "owner")
    if owner is None:
        raise ValidationError({"owner": "an action needs an owner"})
    return {"title": _text(details, "title"), "owner": owner, "due": due.isoformat()}


def apply_decision(decision: Decision, by: User) -> dict[str, Any]:
    """Writes what an approved decision says, through the KPI services, inside the
    caller's transaction; returns what it wrote (the decision's `outcome`)."""
    details = decision.details
    kpi = decision.kpi
    reason = decision.reason
    reference = decision.reference
    kind = decision.kind
    if kind == DecisionKind.KEEP:
        return {}
    if kind == DecisionKind.CHANGE_TARGET:
        assert kpi is not None
        # Checked again: the period may have been closed since the decision was recorded.
        _period(kpi.grain, details["effective_from"], "effective_from")
        target = target_revise(
            kpi=kpi,
            by=by,
            effective_from=details["effective_from"],
            value=details["value"],
            reason=reason,
            where_dimension=details.get("where_dimension", ""),
            where_value=details.get("where_value", ""),
            origin=TargetOrigin.REVIEW,
            origin_reference=reference,
        )
        return {"target_version": target.pk, "kpi": kpi.key}
    if kind == DecisionKind.CHANGE_KPI:
        assert kpi is not None
        fields: dict[str, Any] = {}
        for name, value in details["changes"].items():
            if name == "owner":
                fields["owner"] = User.objects.filter(pk=value).first() if value else None
            elif name == "formula":
                fields["formula"] = value
            else:
                fields[name] = Decimal(value)
        try:
            updated = kpi_update(
                kpi=kpi, by=by, expected_version=details.get("kpi_version"), **fields
            )
        except ConflictError as error:
            raise KpiChangedSinceDecision(kpi, error.expected, error.current) from None
        return {"kpi": updated.key, "kpi_version": updated.version}
    if kind == DecisionKind.RETIRE_KPI:
        assert kpi is not None
        kpi_retire(kpi=kpi, by=by, reason=reason, reference=reference)
        return {"kpi": kpi.key, "retired": True}
    if kind == DecisionKind.ADD_KPI:
        team = Team.objects.filter(key=details["team"]).first() if details.get("team") else None
        owner = User.objects.filter(pk=details["owner"]).first() if details.get("owner") else None
        goal = Goal.objects.filter(key=details["goal"]).first() if details.get("goal") else None
        created = kpi_create(
            by=by,
            key=details["key"],
            name=details["name"],
            formula=details["formula"],
            unit=details["unit"],
            grain=details["grain"],
            direction=details["direction"],
            team=team,
            owner=owner,
            entry=EntryKind.FORMULA,
            goals=[(goal, Decimal(1))] if goal is not None else [],
        )
        outcome: dict[str, Any] = {"kpi": created.key}
        if details.get("target") is not None:
            target = target_revise(
                kpi=created,
                by=by,
                effective_from=details["target_from"],
                value=details["target"],
                reason=reason,
                origin=TargetOrigin.REVIEW,
                origin_reference=reference,
            )
            outcome["target_version"] = target.pk
        return outcome
    # assign_action
    action = Action.objects.create(
        meeting=decision.meeting,
        decision=decision,
        kpi=kpi,
        title=details["title"],
        owner=User.objects.get(pk=details["owner"]),
        due=datetime.date.fromisoformat(details["due"]),
    )
    return {"action": action.pk}
