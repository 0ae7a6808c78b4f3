"""Writes for goals: create and update, each audited, with permission checks."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from headway.accounts.models import Team, User
from headway.accounts.permissions import can_edit_team_things, is_admin
from headway.audit.errors import NotAllowed, check_version
from headway.audit.services import audit_record, snapshot
from headway.goals.models import Goal

EDITABLE = {
    "title",
    "horizon",
    "parent",
    "start",
    "due",
    "owner",
    "team",
    "status",
    "statement",
    "description",
}


def _check(goal: Goal) -> None:
    if goal.start and goal.due and goal.start > goal.due:
        raise ValidationError({"due": "the due date is before the start"})
    seen = {goal.pk}
    parent = goal.parent
    while parent is not None:
        if parent.pk in seen:
            raise ValidationError({"parent": "a goal cannot be inside itself"})
        seen.add(parent.pk)
        parent = parent.parent
    goal.full_clean()


def goal_create(
    *,
    by: User,
    key: str,
    title: str,
    horizon: str,
    team: Team | None = None,
    owner: User | None = None,
    parent: Goal | None = None,
    start: datetime.date | None = None,
    due: datetime.date | None = None,
    statement: str = "",
    description: str = "",
) -> Goal:
    if not (is_admin(by) or (team is not None and can_edit_team_things(by, team.pk))):
        raise NotAllowed("only an admin, or a manager for their own team, may create goals")
    goal = Goal(
        key=key,
        title=title,
        horizon=horizon,
        team=team,
        owner=owner,
        parent=parent,
        start=start,
        due=due,
        statement=statement,
        description=description,
    )
    _check(goal)
    with transaction.atomic():
        goal.save()
        audit_record(actor=by, action="goal.create", target=goal, after=snapshot(goal))
    return goal


def goal_update(
    *, goal: Goal, by: User, expected_version: int | None = None, **fields: Any
) -> Goal:
    unknown = set(fields) - EDITABLE
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    if not can_edit_team_things(by, goal.team_id):
        raise NotAllowed("only an admin or a manager of the goal's team may edit it")
    new_team = fields.get("team", goal.team)
    if "team" in fields and not can_edit_team_things(by, new_team.pk if new_team else None):
        raise NotAllowed("you may only move a goal to a team you manage")
    with transaction.atomic():
        current = Goal.objects.select_for_update().get(pk=goal.pk)
        check_version(f"goal {current.key}", expected_version, current.version)
        before = snapshot(current)
        for name, value in fields.items():
            setattr(current, name, value)
        _check(current)
        current.version += 1
        current.save()
        audit_record(
            actor=by, action="goal.update", target=current, before=before, after=snapshot(current)
        )
    return current
