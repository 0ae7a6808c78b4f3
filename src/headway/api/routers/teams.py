"""Teams: everyone signed in reads them; only admins create and change them."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import HeaderEx, P, Query, Router, Status
from pydantic import Field

from headway.accounts.services import team_create, team_update
from headway.api import lookups
from headway.api.auth import writer
from headway.api.checks import engine_checked
from headway.api.errors import READ_ERRORS, UPDATE_ERRORS, WRITE_ERRORS
from headway.api.lookups import (
    etag,
    expected_version,
    if_match_checked,
    page,
    team_by_key,
    team_ref,
)
from headway.api.schemas import PageParams, SlugKey, TeamIn, TeamOut, TeamPage, TeamPatch

router = Router(tags=["Teams"])


class TeamFilters(PageParams):
    parent: SlugKey | None = Field(default=None, description="Only the teams right under this team")


def _answer(response: HttpResponse, key: str) -> TeamOut:
    team = team_by_key(key)
    response["ETag"] = etag(team.version)
    return TeamOut.of(team)


@router.get("", response={200: TeamPage, **READ_ERRORS}, summary="List teams")
def teams_list(request: HttpRequest, filters: Query[TeamFilters]) -> TeamPage:
    query = lookups.teams()
    if filters.parent is not None:
        query = query.filter(parent__key=filters.parent)
    items, count = page(query, filters, TeamOut.of)
    return TeamPage(items=items, count=count, limit=filters.limit, offset=filters.offset)


@router.get(
    "/{key}", response={200: TeamOut, **READ_ERRORS}, summary="Read a team", url_name="team"
)
def teams_read(request: HttpRequest, key: str, response: HttpResponse) -> TeamOut:
    return _answer(response, key)


@router.post("", response={201: TeamOut, **WRITE_ERRORS}, summary="Create a team (admins)")
def teams_create(request: HttpRequest, payload: TeamIn, response: HttpResponse) -> Status[TeamOut]:
    by = writer(request)
    parent = team_ref(payload.parent, "parent")
    with engine_checked():
        team = team_create(by=by, key=payload.key, name=payload.name, parent=parent)
    response["Location"] = reverse("api:team", kwargs={"key": team.key})
    return Status(201, _answer(response, team.key))


@router.patch("/{key}", response={200: TeamOut, **UPDATE_ERRORS}, summary="Change a team (admins)")
def teams_update(
    request: HttpRequest,
    key: str,
    payload: TeamPatch,
    response: HttpResponse,
    if_match: HeaderEx[str | None, P(alias="If-Match")] = None,
) -> TeamOut:
    by = writer(request)
    team = team_by_key(key)
    version = expected_version(payload.version, if_match)
    changes = payload.changes()
    if "parent" in changes:
        changes["parent"] = team_ref(changes["parent"], "parent")
    with engine_checked(), if_match_checked(if_match):
        team_update(team=team, by=by, expected_version=version, **changes)
    return _answer(response, key)
