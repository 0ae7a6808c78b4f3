"""Who may do what. Deny by default: only admins and the managers of a team edit."""

from __future__ import annotations

from typing import Any

from headway.accounts.choices import Role
from headway.accounts.models import Membership, Team, User
from headway.accounts.selectors import team_and_below


def is_signed_in(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_active", False))


def is_admin(user: Any) -> bool:
    return is_signed_in(user) and (user.role == Role.ADMIN or user.is_superuser)


def managed_team_ids(user: Any) -> set[int]:
    """The teams a person manages, with every team below them in the tree."""
    if not is_signed_in(user) or user.role != Role.MANAGER:
        return set()
    managed = Membership.objects.filter(user=user, is_manager=True).values_list(
        "team_id", flat=True
    )
    return team_and_below(*managed)


def team_ids_of(user: Any) -> set[int]:
    if not is_signed_in(user):
        return set()
    return set(Membership.objects.filter(user=user).values_list("team_id", flat=True))


def can_edit_team_things(user: Any, team_id: int | None) -> bool:
    """Admins edit everything; a manager edits what belongs to the teams they manage."""
    if is_admin(user):
        return True
    return team_id is not None and team_id in managed_team_ids(user)


def can_create_anything(user: Any) -> bool:
    return is_admin(user) or bool(managed_team_ids(user))


def can_read(user: Any) -> bool:
    return is_signed_in(user)


def editable_teams(user: User) -> list[Team]:
    if is_admin(user):
        return list(Team.objects.all())
    return list(Team.objects.filter(pk__in=managed_team_ids(user)))
