"""Every cell of docs/permission-matrix.yaml, driven through the real URLs.

Each web URL name and each API operation is one test; it sends the request of every
(method, caller, object scope) cell with the Django test client, each in a savepoint that
is rolled back (so one cell's write never changes what the next sees), and compares the
outcome with the matrix. A URL name or an operation that the matrix does not list fails
`test_the_matrix_lists_every_url_and_operation`: a new view cannot be forgotten.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, reverse

from headway.api.api import api
from headway.kpis.models import Kpi, TargetVersion
from headway.web import urls as web_urls
from tests.security import matrix_world
from tests.security.matrix_cells import Cell, cells, load
from tests.security.matrix_world import World, url_kwargs

UI = cells("ui")
API = cells("api")


# The world, built once per module (see matrix_world.built).
built = matrix_world.built
world = matrix_world.world


def outcome(response: HttpResponse) -> str:
    """The matrix's word for what happened."""
    status = response.status_code
    if status in (301, 302, 303) and response["Location"].startswith(
        resolve_url(settings.LOGIN_URL)
    ):
        return "login"
    if 200 <= status < 400:
        return "ok"
    return str(status)


def _version(thing: Any) -> int:
    return int(getattr(thing, "version", 1))


def ui_body(world: World, name: str, caller: str, scope: str | None) -> dict[str, Any]:
    """A minimal valid form for the POST actions whose rights are checked by the service
    after the form is read (an empty form would stop at its own errors)."""
    objects = world.objects(caller, scope) if scope is not None else None
    if name == "language":
        return {"language": "en"}
    if name == "proposal_preview":
        return {"kind": "retire_kpi"}
    if name == "comment_add":
        return {"subject_kind": "kpi", "subject_key": "team_kpi", "text": "A question"}
    if objects is None:
        return {}
    comment, item, action = objects.comment, objects.item, objects.action
    bodies: dict[str, Callable[[], dict[str, Any]]] = {
        "comment_edit": lambda: {"text": "Changed", "version": _version(comment)},
        "comment_hide": lambda: {"reason": "Off topic", "version": _version(comment)},
        "comment_unhide": lambda: {"reason": "Back on topic", "version": _version(comment)},
        "review_meeting_step": lambda: {"step": "close"},
        "review_item_move": lambda: {"direction": "up"},
        "review_item_notes": lambda: {"notes": "Noted", "version": _version(item)},
        "review_item_comment": lambda: {"text": "It will recover"},
        "review_decision_decide": lambda: {"decision": "approve"},
        "review_decision_withdraw": lambda: {"note": "It cannot be applied"},
        "review_action_close": lambda: {"status": "done", "version": _version(action)},
    }
    return bodies[name]() if name in bodies else {}


@pytest.mark.django_db
def test_the_matrix_lists_every_url_and_operation() -> None:
    names = {
        pattern.name
        for pattern in web_urls.urlpatterns
        if isinstance(pattern, URLPattern) and pattern.name
    }
    schema = api.get_openapi_schema()
    operations = {
        operation["operationId"] for path in schema["paths"].values() for operation in path.values()
    }
    assert sorted(names - set(UI)) == [], "web URL names the matrix does not list"
    assert sorted(set(UI) - names) == [], "the matrix lists web URL names that do not exist"
    assert sorted(operations - set(API)) == [], "API operations the matrix does not list"
    assert sorted(set(API) - operations) == [], "the matrix lists operations that do not exist"


def test_every_caller_of_the_matrix_is_driven() -> None:
    matrix = load()
    driven = {cell.caller for rows in [*UI.values(), *API.values()] for cell in rows}
    assert driven == set(matrix["callers"])
    assert sum(len(rows) for rows in UI.values()) > 8 * len(UI)


def _drive(cells_of: list[Cell], send: Callable[[Cell], HttpResponse]) -> list[str]:
    """Sends every cell in a savepoint rolled back after it; the cells that differ."""
    wrong = []
    for cell in cells_of:
        with transaction.atomic():
            response = send(cell)
            got = outcome(response)
            transaction.set_rollback(True)
        if got != cell.expected:
            wrong.append(f"{cell}: expected {cell.expected}, got {got} ({response.status_code})")
    return wrong


@pytest.mark.parametrize("name", sorted(UI))
def test_every_web_cell_matches_the_matrix(world: World, name: str) -> None:
    # Signed in before the cells: a session made inside a cell would be rolled back.
    clients = {caller: world.client(caller) for caller in {cell.caller for cell in UI[name]}}

    def send(cell: Cell) -> HttpResponse:
        client = clients[cell.caller]
        url = reverse(f"web:{name}", kwargs=url_kwargs(world, name, cell.caller, cell.scope))
        if cell.method == "GET":
            response: HttpResponse = client.get(url)
        else:
            response = client.post(url, ui_body(world, name, cell.caller, cell.scope))
        return response

    assert _drive(UI[name], send) == []


# -- the API ------------------------------------------------------------------------------


def _kpi_key(world: World, cell: Cell) -> str:
    if cell.scope is None:
        return "conversion"
    return world.objects(cell.caller, cell.scope).kpi.key


def _team_key(cell: Cell) -> str:
    return "south" if cell.scope == "other" else "north"


def api_request(world: World, cell: Cell) -> tuple[str, str, Any]:
    """The method, path (below /api/v1/) and body of an operation's cell."""
    name = cell.target
    key = _kpi_key(world, cell)
    objects = world.objects(cell.caller, cell.scope) if cell.scope else None
    target = TargetVersion.objects.filter(kpi__key="conversion").order_by("pk").first()
    assert target is not None
    requests: dict[str, Callable[[], tuple[str, str, Any]]] = {
        "me": lambda: ("get", "me", None),
        "teams_list": lambda: ("get", "teams", None),
        "teams_read": lambda: ("get", "teams/north", None),
        "teams_create": lambda: ("post", "teams", {"key": "east", "name": "East"}),
        "teams_update": lambda: ("patch", "teams/north", {"name": "Northern", "version": 1}),
        "goals_list": lambda: ("get", "goals", None),
        "goals_read": lambda: ("get", "goals/team-goal", None),
        "goals_create": lambda: (
            "post",
            "goals",
            {"key": "new-goal", "title": "New", "horizon": "short", "team": _team_key(cell)},
        ),
        "goals_update": lambda: (
            "patch",
            f"goals/{cell.scope}-goal",
            {"title": "Changed", "version": _version(objects.goal if objects else None)},
        ),
        "kpis_list": lambda: ("get", "kpis", None),
        "kpis_read": lambda: ("get", f"kpis/{key}", None),
        "kpis_create": lambda: (
            "post",
            "kpis",
            {
                "key": "new_kpi",
                "name": "New",
                "formula": "leads",
                "unit": "count",
                "grain": "month",
                "team": _team_key(cell),
            },
        ),
        "kpis_update": lambda: (
            "patch",
            f"kpis/{key}",
            {"name": "Renamed", "version": Kpi.objects.get(key=key).version},
        ),
        "targets_list": lambda: ("get", f"kpis/{key}/targets", None),
        "targets_read": lambda: ("get", f"kpis/conversion/targets/{target.pk}", None),
        "targets_create": lambda: (
            "post",
            f"kpis/{key}/targets",
            {"effective_from": "2026-04", "value": "10", "reason": "More"},
        ),
        "results_list": lambda: ("get", "kpis/conversion/results", None),
        "results_read": lambda: ("get", "kpis/conversion/results/2026-01", None),
        "manual_values_list": lambda: ("get", f"kpis/{key}/values", None),
        "manual_values_create": lambda: (
            "post",
            f"kpis/{key}/values",
            {"values": [{"period": "2026-03", "value": "5"}]},
        ),
        "manual_values_decide": lambda: (
            "post",
            f"kpis/{key}/values/{objects.value.pk if objects and objects.value else 0}/decision",
            {"approve": True},
        ),
        "datasets_list": lambda: ("get", "datasets", None),
        "datasets_read": lambda: ("get", "datasets/deals", None),
        "datasets_imports": lambda: ("get", "datasets/deals/imports", None),
        "datasets_push": lambda: (
            "post",
            "datasets/deals/rows",
            {"rows": [{"deal_id": "", "closed_at": "not a time", "team": "north"}]},
        ),
        "datasets_import_file": lambda: ("upload", "datasets/deals/files", None),
        "datasets_source": lambda: ("get", "datasets/leads/source", None),
        "datasets_sync": lambda: ("post", "datasets/leads/sync", None),
    }
    return requests[name]()


def api_client(world: World, caller: str) -> tuple[Client, dict[str, str]]:
    if caller.startswith("token_"):
        return Client(), {"Authorization": f"Bearer {world.raw_tokens[caller]}"}
    return world.client(caller), {}


BAD_FILE = b"deal_id,closed_at,team,stage,amount\n,not a time,north,won,x\n"


@pytest.mark.parametrize("name", sorted(API))
def test_every_api_cell_matches_the_matrix(world: World, name: str) -> None:
    clients = {caller: api_client(world, caller) for caller in {cell.caller for cell in API[name]}}

    def send(cell: Cell) -> HttpResponse:
        client, headers = clients[cell.caller]
        method, path, body = api_request(world, cell)
        url = f"/api/v1/{path}"
        response: HttpResponse
        if method == "get":
            response = client.get(url, headers=headers)
        elif method == "upload":
            upload = SimpleUploadedFile("deals.csv", BAD_FILE, content_type="text/csv")
            response = client.post(url, {"file": upload}, headers=headers)
        else:
            response = getattr(client, method)(
                url,
                data=json.dumps(body) if body is not None else "",
                content_type="application/json",
                headers=headers,
            )
        return response

    assert _drive(API[name], send) == []


def test_the_matrix_file_is_where_the_docs_say() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "permission-matrix.md"
    assert "permission-matrix.yaml" in docs.read_text(encoding="utf-8")
