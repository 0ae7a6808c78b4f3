"""A small organisation for the web UI's tests, built the way a user builds one: a
workspace file and a CSV applied with `headway apply`'s services, then recomputed.

The people, by name:
    ada   an admin
    nora  the manager of team north
    mo    a member of north
    vic   a viewer
    sam   the manager of team south (an outsider to north's things)
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from headway.accounts.models import User
from headway.engine.workspace import load_workspace
from headway.kpis.workspace_io import apply_plan, plan_apply
from headway.results.services import results_recompute

PASSWORD = "a-long-test-password-42"

WORKSPACE = """\
version: 1
organization: {name: Test Tea, timezone: Asia/Taipei, currency: TWD}
teams:
  - {key: sales, name: Sales}
  - {key: north, name: North, parent: sales}
  - {key: south, name: South, parent: sales}
people:
  - {email: ada@example.com, name: Ada Admin, role: admin}
  - {email: nora@example.com, name: Nora North, team: north, role: manager}
  - {email: mo@example.com, name: Mo Member, team: north, role: member}
  - {email: vic@example.com, name: Vic Viewer, role: viewer}
  - {email: sam@example.com, name: Sam South, team: south, role: manager}
datasets:
  deals: {file: deals.csv, key: deal_id, time: closed_at, dimensions: [team]}
measures:
  deals: {dataset: deals, agg: count}
  won_deals: {dataset: deals, agg: count, filter: "stage = 'won'"}
  revenue: {dataset: deals, agg: sum, column: amount, filter: "stage = 'won'"}
goals:
  - {key: grow, title: Grow the business, horizon: long}
  - {key: win-more, title: Win more deals, horizon: short, parent: grow, team: north}
kpis:
  - key: win_rate
    name: Win rate
    goals: [win-more]
    formula: won_deals / deals
    unit: percent
    grain: month
    team: north
    targets:
      - {from: 2024-01, value: 0.5}
      - {from: 2024-03, value: 0.6, reason: Raised after the Q1 review}
      - {from: 2024-01, value: 0.4, where: {team: south}}
  - key: revenue
    name: Revenue
    goals: [grow]
    formula: revenue
    unit: currency
    grain: month
    team: south
    targets:
      - {from: 2024-01, value: 1000}
  - key: deal_count
    name: Deals closed
    formula: deals
    unit: count
    grain: month
    team: north
"""

# Won deals per month and team, of four deals each: the total win rate is
# 50% in January and February, 62.5% in March and 50% in April.
WON = {
    ("2024-01", "north"): 2,
    ("2024-01", "south"): 2,
    ("2024-02", "north"): 3,
    ("2024-02", "south"): 1,
    ("2024-03", "north"): 3,
    ("2024-03", "south"): 2,
    ("2024-04", "north"): 2,
    ("2024-04", "south"): 2,
}


def deal_rows(months: dict[tuple[str, str], int], start: int = 1) -> list[dict[str, str]]:
    rows = []
    number = start
    for (month, team), won in months.items():
        for index in range(4):
            amount = "250.50"
            if month == "2024-04" and team == "south" and index == 0:
                amount = "1234000"
            rows.append(
                {
                    "deal_id": f"D{number:05d}",
                    "closed_at": f"{month}-{10 + index:02d}T10:00:00+08:00",
                    "team": team,
                    "stage": "won" if index < won else "lost",
                    "amount": amount,
                }
            )
            number += 1
    return rows


def write_deals(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=["deal_id", "closed_at", "team", "stage", "amount"]
        )
        writer.writeheader()
        writer.writerows(rows)


@dataclass
class Org:
    """The organisation and its named people."""

    folder: Path
    ada: User
    nora: User
    mo: User
    vic: User
    sam: User

    def client(self, person: User | None) -> Client:
        client = Client()
        if person is not None:
            client.force_login(person)
        return client


@pytest.fixture(autouse=True)
def _quick_passwords(settings: Any) -> None:
    """A deliberately slow password hash is the point in production, not in tests."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def org(db: None, tmp_path: Path) -> Org:
    (tmp_path / "headway.yaml").write_text(WORKSPACE, encoding="utf-8")
    write_deals(tmp_path / "deals.csv", deal_rows(WON))
    apply_plan(plan_apply(load_workspace(tmp_path / "headway.yaml")), by=None)
    people = {}
    for person in User.objects.all():
        person.set_password(PASSWORD)
        person.save()
        people[person.email.split("@")[0]] = person
    results_recompute(by=None)
    return Org(folder=tmp_path, **people)
