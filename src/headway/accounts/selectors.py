"""Reads of the organisation's teams and people."""

from __future__ import annotations

from headway.accounts.models import Team


def team_and_below(*team_ids: int) -> set[int]:
    """The ids of the given teams and of every team below them in the tree (two teams
    whose parents loop are each found once)."""
    children: dict[int | None, list[int]] = {}
    for child_id, parent_id in Team.objects.values_list("id", "parent_id"):
        children.setdefault(parent_id, []).append(child_id)
    found = set(team_ids)
    stack = list(found)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found
