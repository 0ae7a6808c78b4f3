"""A small organisation in the app database, built the way users build it: by applying
a workspace file, then recomputing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from headway.accounts.models import Membership, Team, User
from headway.engine.workspace import load_workspace
from headway.kpis.workspace_io import apply_plan, plan_apply

WORKSPACE = """\
version: 1
organization: {name: 測試公司, timezone: Asia/Taipei, currency: TWD}
teams:
  - {key: sales, name: Sales}
  - {key: north, name: North, parent: sales}
  - {key: south, name: South, parent: sales}
people:
  - {email: admin@example.com, name: Ada Admin, role: admin}
  - {email: nora@example.com, name: Nora North, team: north, role: manager}
  - {email: mark@example.com, name: Mark Member, team: north, role: member}
  - {email: vera@example.com, name: Vera Viewer, team: north, role: viewer}
  - {email: sam@example.com, name: Sam South, team: south, role: manager}
datasets:
  leads: {file: leads.csv, key: lead_id, time: created_at, dimensions: [team]}
  deals: {file: deals.csv, key: deal_id, time: closed_at, dimensions: [team]}
measures:
  leads: {dataset: leads, agg: count}
  won: {dataset: deals, agg: count, filter: "stage = 'won'"}
  revenue: {dataset: deals, agg: sum, column: amount, filter: "stage = 'won'"}
goals:
  - {key: grow, title: Grow, horizon: long, due: 2030-12-31}
  - {key: convert, title: Convert more leads, horizon: short, parent: grow, team: north}
kpis:
  - key: conversion
    name: Conversion
    goals: [convert]
    formula: won / leads
    unit: percent
    grain: month
    team: north
    owner: nora@example.com
    targets:
      - {from: 2026-01, value: 0.5}
      - {from: 2026-01, value: 0.6, where: {team: north}}
  - key: revenue
    name: Revenue
    goals: [grow]
    formula: revenue
    unit: currency
    grain: month
    team: south
    owner: sam@example.com
    targets:
      - {from: 2026-01, value: 100}
"""

LEADS = """\
lead_id,created_at,team
1,2026-01-05 10:00:00,north
2,2026-01-06 11:00:00,south
3,2026-02-01 09:00:00,north
4,2026-02-02 09:00:00,north
"""

DEALS = """\
deal_id,closed_at,team,stage,amount
a,2026-01-10,north,won,100
b,2026-02-11,south,won,50
c,2026-02-12,north,lost,70
"""


@dataclass
class Organisation:
    folder: Path
    workspace: Path
    admin: User
    manager: User
    member: User
    viewer: User
    other_manager: User
    north: Team
    south: Team


def write_workspace(folder: Path, text: str = WORKSPACE) -> Path:
    (folder / "leads.csv").write_text(LEADS, encoding="utf-8")
    (folder / "deals.csv").write_text(DEALS, encoding="utf-8")
    path = folder / "headway.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def build_organisation(folder: Path) -> Organisation:
    path = write_workspace(folder)
    apply_plan(plan_apply(load_workspace(path)), by=None)
    people = {user.email: user for user in User.objects.all()}
    for user in people.values():
        user.set_password("correct horse battery staple")
        user.save()
    nora = people["nora@example.com"]
    assert Membership.objects.get(user=nora).is_manager
    return Organisation(
        folder=folder,
        workspace=path,
        admin=people["admin@example.com"],
        manager=nora,
        member=people["mark@example.com"],
        viewer=people["vera@example.com"],
        other_manager=people["sam@example.com"],
        north=Team.objects.get(key="north"),
        south=Team.objects.get(key="south"),
    )


@pytest.fixture
def org(db: None, tmp_path: Path) -> Organisation:
    return build_organisation(tmp_path)
