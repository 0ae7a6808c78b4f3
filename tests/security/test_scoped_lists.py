"""Lists, exports, reports and counts never show what is private to someone else.

Everyone signed in reads every goal, KPI, result, proposal and meeting (docs/security.md):
what is private is a person's notifications, their API tokens, and the text of a comment
an admin hid. Every page and export of the permission matrix that a caller may read, and
every API list, is fetched by every caller and searched for the others' private markers.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from headway.accounts.models import ApiToken
from headway.notifications.models import Notification
from headway.participation.comments import comment_hide
from tests.security import matrix_world
from tests.security.matrix_cells import cells
from tests.security.matrix_world import World, url_kwargs

built = matrix_world.built
world = matrix_world.world

PEOPLE = ["viewer", "member", "manager", "other_manager", "admin"]
HIDDEN_TEXT = "a hidden remark nobody may read again"
API_LISTS = ["kpis", "goals", "teams", "datasets", "datasets/deals/imports", "me"]


def _readable_pages(caller: str) -> list[tuple[str, str | None]]:
    """The GET pages of the matrix that the caller may read, with their scopes."""
    found = []
    for name, rows in cells("ui").items():
        for cell in rows:
            if cell.caller == caller and cell.method == "GET" and cell.expected == "ok":
                found.append((name, cell.scope))
    return found


def _private_markers(world: World, caller: str) -> list[str]:
    """What belongs to people other than the caller: notification texts, token names and
    prefixes."""
    me = world.person(caller)
    markers = [notification.text for notification in Notification.objects.exclude(person=me)]
    for token in ApiToken.objects.exclude(user=me):
        markers.append(token.prefix)
        if "'s token" in token.name:
            markers.append(token.name)
    return markers


def _hide_a_comment(world: World) -> None:
    comment = world.scopes["team"].comment
    assert comment is not None
    comment.text = HIDDEN_TEXT
    comment.save()
    comment_hide(comment=comment, by=world.people["admin"], reason="Rude", expected_version=None)


@pytest.mark.parametrize("caller", PEOPLE)
def test_no_page_or_export_shows_someone_elses_private_things(world: World, caller: str) -> None:
    _hide_a_comment(world)
    markers = _private_markers(world, caller)
    assert len(markers) > 10
    client = world.client(caller)
    leaks = []
    pages = _readable_pages(caller)
    assert len(pages) > 40
    for name, scope in pages:
        url = reverse(f"web:{name}", kwargs=url_kwargs(world, name, caller, scope))
        body = client.get(url, follow=True).content.decode("utf-8", "replace")
        leaks += [f"{url}: {marker}" for marker in markers if marker in body]
        if caller != "admin" and HIDDEN_TEXT in body:
            leaks.append(f"{url}: the hidden comment's text")
    assert leaks == []


@pytest.mark.parametrize("caller", PEOPLE)
def test_no_api_list_shows_someone_elses_private_things(world: World, caller: str) -> None:
    markers = _private_markers(world, caller)
    client = world.client(caller)
    leaks = []
    for path in API_LISTS:
        body = client.get(f"/api/v1/{path}").content.decode()
        leaks += [f"{path}: {marker}" for marker in markers if marker in body]
    assert leaks == []


def test_the_unread_count_on_every_page_counts_only_ones_own(world: World) -> None:
    member = world.people["member"]
    mine = Notification.objects.filter(person=member, read_at__isnull=True).count()
    others = Notification.objects.exclude(person=member).filter(read_at__isnull=True).count()
    assert others > 0
    response = world.client("member").get(reverse("web:home"))
    assert response.context["unread_notifications"]() == mine


def test_a_token_sees_its_owners_notifications_nowhere_in_the_api(world: World) -> None:
    client = Client()
    headers = {"Authorization": f"Bearer {world.raw_tokens['token_read']}"}
    body = client.get("/api/v1/me", headers=headers).content.decode()
    assert "private notification" not in body
