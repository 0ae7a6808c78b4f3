"""A tiny organisation and its people, and API clients acting as each of them.

North and south are two sales teams; each has a revenue KPI, north also a win rate with a
target for the north group. The people: an admin, the manager of north, a member of north,
a viewer, and the manager of south. Everything is made the way an installation makes it:
`headway apply` of a workspace file, then a recompute of the results.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client

from headway.accounts.models import ApiToken, User
from headway.accounts.services import token_create
from headway.engine.workspace import load_workspace
from headway.kpis.workspace_io import apply_plan, plan_apply
from headway.results.services import results_recompute

WORKSPACE = """\
version: 1
organization: {name: Test Tea Co., timezone: Asia/Taipei, currency: TWD}
teams:
  - {key: north, name: North}
  - {key: south, name: South}
people:
  - {email: admin@example.com, name: Ada Admin, role: admin}
  - {email: north.manager@example.com, name: Nora North, team: north, role: manager}
  - {email: member@example.com, name: Milo Member, team: north, role: member}
  - {email: viewer@example.com, name: Vera Viewer, role: viewer}
  - {email: south.manager@example.com, name: Sam South, team: south, role: manager}
datasets:
  deals: {file: deals.csv, key: deal_id, time: closed_at, dimensions: [team]}
measures:
  deals: {dataset: deals, agg: count}
  won: {dataset: deals, agg: count, filter: "stage = 'won'"}
  north_sales: {dataset: deals, agg: sum, column: amount, filter: "team = 'north'"}
  south_sales: {dataset: deals, agg: sum, column: amount, filter: "team = 'south'"}
goals:
  - {key: grow, title: Grow revenue, horizon: long, team: north}
  - {key: win-more, title: Win more deals, horizon: short, parent: grow, team: north}
kpis:
  - key: north_revenue
    name: North revenue
    goals: [grow]
    formula: north_sales
    unit: currency
    grain: month
    team: north
    owner: north.manager@example.com
    targets:
      - {from: 2026-01, value: 1000, reason: First plan}
  - key: south_revenue
    name: South revenue
    formula: south_sales
    unit: currency
    grain: month
    team: south
    owner: south.manager@example.com
    targets:
      - {from: 2026-01, value: 500, reason: First plan}
  - key: win_rate
    name: Win rate
    goals: [grow, win-more]
    formula: won / deals
    unit: percent
    grain: month
    team: north
    thresholds: {green: 1, amber: 0.8}
    targets:
      - {from: 2026-01, value: 0.5, reason: Half of them}
      - {from: 2026-01, value: 0.6, reason: North sells more, where: {team: north}}
"""

DEALS = """\
deal_id,closed_at,team,stage,amount
d1,2026-01-05,north,won,400
d2,2026-01-12,north,lost,100
d3,2026-01-20,south,won,300
d4,2026-02-03,north,won,700
d5,2026-02-14,south,won,250
d6,2026-02-21,south,lost,50
d7,2026-03-09,north,won,1200
d8,2026-03-30,south,won,600
"""


@dataclass(frozen=True)
class People:
    admin: User
    north_manager: User
    member: User
    viewer: User
    south_manager: User


@pytest.fixture
def org(tmp_path: Path, db: None) -> People:
    """The organisation, applied from a workspace file, with its results computed."""
    (tmp_path / "deals.csv").write_text(DEALS, encoding="utf-8")
    path = tmp_path / "headway.yaml"
    path.write_text(WORKSPACE, encoding="utf-8")
    apply_plan(plan_apply(load_workspace(path)), by=None)
    results_recompute(by=None)
    people = {person.email: person for person in User.objects.all()}
    return People(
        admin=people["admin@example.com"],
        north_manager=people["north.manager@example.com"],
        member=people["member@example.com"],
        viewer=people["viewer@example.com"],
        south_manager=people["south.manager@example.com"],
    )


class Api:
    """The Django test client speaking JSON to /api/v1/ with one set of credentials."""

    def __init__(self, client: Client, headers: dict[str, str] | None = None) -> None:
        self.client = client
        self.headers = headers or {}

    def get(self, path: str, **params: Any) -> HttpResponse:
        response: HttpResponse = self.client.get(f"/api/v1/{path}", params, headers=self.headers)
        return response

    def send(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> HttpResponse:
        send = getattr(self.client, method)
        response: HttpResponse = send(
            f"/api/v1/{path}",
            data=json.dumps(body) if body is not None else "",
            content_type="application/json",
            headers={**self.headers, **(headers or {})},
        )
        return response

    def post(self, path: str, body: Any) -> HttpResponse:
        return self.send("post", path, body)

    def patch(self, path: str, body: Any, headers: dict[str, str] | None = None) -> HttpResponse:
        return self.send("patch", path, body, headers)


def bearer(raw: str) -> Api:
    return Api(Client(), {"Authorization": f"Bearer {raw}"})


@pytest.fixture
def api_as() -> Callable[..., Api]:
    """An API client with a fresh personal token of the person, write scope by default."""

    def make(person: User, scope: str = ApiToken.Scope.WRITE) -> Api:
        _, raw = token_create(by=person, name="tests", scope=scope)
        return bearer(raw)

    return make


@pytest.fixture
def anonymous() -> Api:
    return Api(Client())
