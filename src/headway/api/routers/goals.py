"""Goals: everyone signed in reads them; admins, and managers for their teams, write."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import HeaderEx, P, Query, Router, Status
from pydantic import Field

from headway.api import lookups
from headway.api.auth import writer
from headway.api.checks import engine_checked
from headway.api.errors import READ_ERRORS, UPDATE_ERRORS, WRITE_ERRORS
from headway.api.lookups import (
    etag,
    expected_version,
    goal_by_key,
    goal_ref,
    if_match_checked,
    page,
    person_ref,
    team_ref,
)
from headway.api.schemas import GoalIn, GoalOut, GoalPage, GoalPatch, PageParams, SlugKey
from headway.goals.choices import GoalStatus
from headway.goals.services import goal_create, goal_update

router = Router(tags=["Goals"])


class GoalFilters(PageParams):
    team: SlugKey | None = Field(default=None, description="Only this team's goals")
    status: GoalStatus | None = Field(default=None, description="Only goals with this status")
    parent: SlugKey | None = Field(default=None, description="Only the goals right under this goal")


def _answer(response: HttpResponse, key: str) -> GoalOut:
    goal = goal_by_key(key)
    response["ETag"] = etag(goal.version)
    return GoalOut.of(goal)


@router.get("", response={200: GoalPage, **READ_ERRORS}, summary="List goals")
def goals_list(request: HttpRequest, filters: Query[GoalFilters]) -> GoalPage:
    query = lookups.goals()
    if filters.team is not None:
        query = query.filter(team__key=filters.team)
    if filters.status is not None:
        query = query.filter(status=filters.status)
    if filters.parent is not None:
        query = query.filter(parent__key=filters.parent)
    items, count = page(query, filters, GoalOut.of)
    return GoalPage(items=items, count=count, limit=filters.limit, offset=filters.offset)


@router.get(
    "/{key}", response={200: GoalOut, **READ_ERRORS}, summary="Read a goal", url_name="goal"
)
def goals_read(request: HttpRequest, key: str, response: HttpResponse) -> GoalOut:
    return _answer(response, key)


@router.post("", response={201: GoalOut, **WRITE_ERRORS}, summary="Create a goal")
def goals_create(request: HttpRequest, payload: GoalIn, response: HttpResponse) -> Status[GoalOut]:
    by = writer(request)
    team, owner, parent = (
        team_ref(payload.team),
        person_ref(payload.owner),
        goal_ref(payload.parent),
    )
    with engine_checked():
        goal = goal_create(
            by=by,
            key=payload.key,
            title=payload.title,
            horizon=payload.horizon.value,
            team=team,
            owner=owner,
            parent=parent,
            start=payload.start,
            due=payload.due,
            statement=payload.statement,
            description=payload.description,
        )
    response["Location"] = reverse("api:goal", kwargs={"key": goal.key})
    return Status(201, _answer(response, goal.key))


@router.patch("/{key}", response={200: GoalOut, **UPDATE_ERRORS}, summary="Change a goal")
def goals_update(
    request: HttpRequest,
    key: str,
    payload: GoalPatch,
    response: HttpResponse,
    if_match: HeaderEx[str | None, P(alias="If-Match")] = None,
) -> GoalOut:
    by = writer(request)
    goal = goal_by_key(key)
    version = expected_version(payload.version, if_match)
    changes = payload.changes()
    for name in ("horizon", "status"):
        if name in changes:
            changes[name] = changes[name].value
    if "team" in changes:
        changes["team"] = team_ref(changes["team"])
    if "owner" in changes:
        changes["owner"] = person_ref(changes["owner"])
    if "parent" in changes:
        changes["parent"] = goal_ref(changes["parent"])
    with engine_checked(), if_match_checked(if_match):
        goal_update(goal=goal, by=by, expected_version=version, **changes)
    return _answer(response, key)
