"""My contribution: the KPIs I own or my data feeds, my teams' KPIs, the goals they serve
with their weights, my share of my team's numbers, and what moved.

The organisation here has data with an `owner` column, so that shares can be checked
against the CSV rows themselves: calls and tickets (every KPI over them has stored results
by owner), and leads (read by a ratio together with deals, which have no owner, so that
the share of leads is worked out from the data).
"""

from __future__ import annotations

import csv
import datetime
import io
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import translation

from headway.accounts.models import Team, User
from headway.engine.workspace import load_workspace
from headway.kpis.models import KpiGoal
from headway.kpis.workspace_io import apply_plan, plan_apply
from headway.participation.contribution import Contribution, Share, identities, my_contribution
from headway.results.models import Result
from headway.results.services import results_recompute

TODAY = datetime.date(2026, 4, 10)  # March is the latest complete month, April under way

WORKSPACE = """\
version: 1
organization: {name: Owners Ltd, timezone: Asia/Taipei, currency: TWD}
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
  leads: {file: leads.csv, key: lead_id, time: created_at, dimensions: [team, owner]}
  deals: {file: deals.csv, key: deal_id, time: closed_at, dimensions: [team]}
  calls: {file: calls.csv, key: call_id, time: made_at, dimensions: [team, owner]}
  tickets: {file: tickets.csv, key: ticket_id, time: closed_at, dimensions: [owner]}
measures:
  leads: {dataset: leads, agg: count}
  won: {dataset: deals, agg: count, filter: "stage = 'won'"}
  revenue: {dataset: deals, agg: sum, column: amount, filter: "stage = 'won'"}
  calls: {dataset: calls, agg: count}
  tickets: {dataset: tickets, agg: count}
goals:
  - {key: grow, title: Grow, horizon: long}
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
  - key: calls_made
    name: Calls made
    goals: [convert]
    formula: calls
    unit: count
    grain: month
    team: north
    targets:
      - {from: 2026-01, value: 5}
  - key: tickets_closed
    name: Tickets closed
    goals: [grow]
    formula: tickets
    unit: count
    grain: month
    team: sales
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

# Mark appears by e-mail, by e-mail in other letters' case, and by his display name.
LEADS = """\
lead_id,created_at,team,owner
L01,2026-02-10 10:00:00,north,mark@example.com
L02,2026-02-11 10:00:00,north,nora@example.com
L03,2026-03-02 10:00:00,north,mark@example.com
L04,2026-03-03 10:00:00,north,mark@example.com
L05,2026-03-04 10:00:00,north,MARK@Example.com
L06,2026-03-05 10:00:00,north,Mark Member
L07,2026-03-06 10:00:00,north,nora@example.com
L08,2026-03-07 10:00:00,north,nora@example.com
L09,2026-03-08 10:00:00,south,sam@example.com
L10,2026-04-02 10:00:00,north,mark@example.com
"""

DEALS = """\
deal_id,closed_at,team,stage,amount
D1,2026-02-12,north,won,100
D2,2026-03-12,north,won,50
D3,2026-03-13,north,lost,70
D4,2026-03-14,south,won,200
"""

CALLS = """\
call_id,made_at,team,owner
C1,2026-03-02 09:00:00,north,mark@example.com
C2,2026-03-03 09:00:00,north,mark@example.com
C3,2026-03-04 09:00:00,north,mark@example.com
C4,2026-03-05 09:00:00,north,nora@example.com
C5,2026-03-06 09:00:00,north,nora@example.com
C6,2026-03-07 09:00:00,south,sam@example.com
C7,2026-04-01 09:00:00,north,mark@example.com
"""

TICKETS = """\
ticket_id,closed_at,owner
T1,2026-02-20,mark@example.com
T2,2026-03-20,mark@example.com
T3,2026-03-21,mark@example.com
T4,2026-03-22,nora@example.com
T5,2026-03-23,nora@example.com
T6,2026-03-24,nora@example.com
"""


@dataclass
class OwnerOrg:
    folder: Path
    admin: User
    nora: User
    mark: User
    vera: User
    sam: User


def build_owner_organisation(folder: Path) -> OwnerOrg:
    """The organisation above, applied and recomputed; `conversion` weighs 2 in its goal."""
    for name, text in (
        ("leads.csv", LEADS),
        ("deals.csv", DEALS),
        ("calls.csv", CALLS),
        ("tickets.csv", TICKETS),
        ("headway.yaml", WORKSPACE),
    ):
        (folder / name).write_text(text, encoding="utf-8")
    apply_plan(plan_apply(load_workspace(folder / "headway.yaml")), by=None)
    KpiGoal.objects.filter(kpi__key="conversion", goal__key="convert").update(weight=2)
    results_recompute(by=None)
    people = {user.email.split("@")[0]: user for user in User.objects.all()}
    return OwnerOrg(
        folder=folder,
        admin=people["admin"],
        nora=people["nora"],
        mark=people["mark"],
        vera=people["vera"],
        sam=people["sam"],
    )


@pytest.fixture
def owners(db: None, tmp_path: Path) -> OwnerOrg:
    return build_owner_organisation(tmp_path)


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def names_of(person: User) -> set[str]:
    return {person.email.casefold(), person.display_name.casefold()}


def count_rows(
    text: str, month: str, *, owners: set[str] | None = None, team: str | None = None
) -> int:
    """Rows of a CSV in a month (by the first column holding a time), optionally only those
    of some owners (ignoring case) or of one team."""
    found = 0
    for row in rows_of(text):
        moment = next(value for key, value in row.items() if key.endswith(("_at", "_on")))
        if not moment.startswith(month):
            continue
        if owners is not None and row["owner"].strip().casefold() not in owners:
            continue
        if team is not None and row["team"] != team:
            continue
        found += 1
    return found


def share_of(contribution: Contribution, label: str) -> Share:
    return next(share for share in contribution.shares if share.label == label)


def test_my_kpis_are_those_my_rows_feed_when_i_own_none(owners: OwnerOrg) -> None:
    found = my_contribution(owners.mark, today=TODAY)
    assert [(item.kpi.key, item.owned, item.fed) for item in found.mine] == [
        ("conversion", False, True),
        ("calls_made", False, True),
        ("tickets_closed", False, True),
    ]


def test_the_kpis_i_own_come_first_then_those_i_feed(owners: OwnerOrg) -> None:
    found = my_contribution(owners.nora, today=TODAY)
    assert [(item.kpi.key, item.owned, item.fed) for item in found.mine] == [
        ("conversion", True, True),
        ("calls_made", False, True),
        ("tickets_closed", False, True),
    ]


def test_someone_without_rows_of_their_own_has_no_kpis_of_their_own(owners: OwnerOrg) -> None:
    found = my_contribution(owners.vera, today=TODAY)
    assert found.mine == []
    # ...but sees the KPIs of the team they belong to, and the goals those serve.
    assert [item.kpi.key for item in found.teams[0].kpis] == ["conversion", "calls_made"]
    assert [served.goal.key for served in found.goals] == ["grow", "convert"]
    assert all(served.my_weight_share == 0 for served in found.goals)


def test_my_teams_kpis_include_those_of_the_teams_above_mine(owners: OwnerOrg) -> None:
    found = my_contribution(owners.mark, today=TODAY)
    assert [(group.team.key, group.direct) for group in found.teams] == [
        ("north", True),
        ("sales", False),
    ]
    assert [item.kpi.key for item in found.teams[0].kpis] == ["conversion", "calls_made"]
    assert [item.kpi.key for item in found.teams[1].kpis] == ["tickets_closed"]


def test_each_kpi_leads_to_its_goals_with_their_weights_up_the_tree(owners: OwnerOrg) -> None:
    found = my_contribution(owners.mark, today=TODAY)
    conversion = next(item for item in found.mine if item.kpi.key == "conversion")
    [step] = conversion.steps
    assert step.goal.key == "convert"
    # conversion weighs 2 and calls_made 1 in "Convert more leads".
    assert step.weight == Decimal(2)
    assert step.weight_share == Decimal(2) / Decimal(3)
    assert [goal.key for goal in step.above] == ["grow"]
    # The KPI's status on the line is that of its latest total (April: one lead, no deal).
    april = Result.objects.get(kpi__key="conversion", group_dimension="", period="2026-04")
    assert conversion.card.latest == april
    assert conversion.card.status == april.status == "red"


def test_a_goal_says_how_much_of_its_weight_my_kpis_carry(owners: OwnerOrg) -> None:
    sam = my_contribution(owners.sam, today=TODAY)
    grow = next(served for served in sam.goals if served.goal.key == "grow")
    # Revenue (Sam's) and tickets closed (not Sam's: he has no tickets) weigh 1 each.
    assert {link.item.kpi.key: link.item.mine for link in grow.kpis} == {
        "revenue": True,
        "tickets_closed": False,
    }
    assert grow.my_weight_share == Decimal("0.5")


def test_my_share_of_a_kpi_with_results_by_owner_is_against_my_teams_rows(
    owners: OwnerOrg,
) -> None:
    share = share_of(my_contribution(owners.mark, today=TODAY), "Calls made")
    mine = count_rows(CALLS, "2026-03", owners=names_of(owners.mark))
    north = count_rows(CALLS, "2026-03", team="north")
    assert (mine, north) == (3, 5)
    assert (share.period, share.mine, share.whole) == ("2026-03", mine, north)
    assert [team.key for team in share.teams] == ["north"]
    assert share.share == Decimal("0.6")
    assert share.source == "results"
    # The same numbers as the stored results by owner and by team.
    stored = Result.objects.get(
        kpi__key="calls_made",
        period="2026-03",
        group_dimension="owner",
        group_value=owners.mark.email,
    )
    assert stored.value == mine


def test_without_a_team_column_my_share_is_of_the_organisations_total(owners: OwnerOrg) -> None:
    share = share_of(my_contribution(owners.mark, today=TODAY), "Tickets closed")
    mine = count_rows(TICKETS, "2026-03", owners=names_of(owners.mark))
    everyone = count_rows(TICKETS, "2026-03")
    assert (share.mine, share.whole, share.teams) == (mine, everyone, ())
    assert share.share == Decimal(2) / Decimal(5)


def test_my_share_of_a_ratios_measure_is_worked_out_from_the_data(owners: OwnerOrg) -> None:
    # Conversion reads deals, which have no owner: no results by owner are stored for it.
    assert not Result.objects.filter(kpi__key="conversion", group_dimension="owner").exists()
    share = share_of(my_contribution(owners.mark, today=TODAY), "leads")
    # Mark's rows by e-mail in any case and by his name; north's rows whoever owns them.
    mine = count_rows(LEADS, "2026-03", owners=names_of(owners.mark))
    north = count_rows(LEADS, "2026-03", team="north")
    assert (mine, north) == (4, 6)
    assert (share.measure, share.mine, share.whole) == ("leads", mine, north)
    assert [kpi.key for kpi in share.kpis] == ["conversion"]
    assert share.source == "data"
    assert share.unit == "count"


def test_the_line_of_a_kpi_carries_my_shares_of_it(owners: OwnerOrg) -> None:
    found = my_contribution(owners.mark, today=TODAY)
    lines = {item.kpi.key: [share.label for share in item.shares] for item in found.mine}
    assert lines == {
        "conversion": ["leads"],
        "calls_made": ["Calls made"],
        "tickets_closed": ["Tickets closed"],
    }


def test_a_display_name_two_people_share_names_neither_of_them(owners: OwnerOrg) -> None:
    assert "mark member" in identities(owners.mark)
    User.objects.create_user(email="other.mark@example.com", display_name="Mark Member")
    assert identities(owners.mark) == {"mark@example.com"}
    share = share_of(my_contribution(owners.mark, today=TODAY), "leads")
    # The row owned by "Mark Member" no longer counts as his.
    assert share.mine == count_rows(LEADS, "2026-03", owners={"mark@example.com"}) == 3


def test_a_manager_of_the_team_above_compares_with_every_team_below(owners: OwnerOrg) -> None:
    sales = Team.objects.get(key="sales")
    owners.nora.memberships.all().delete()
    owners.nora.memberships.create(team=sales, is_manager=True)
    share = share_of(my_contribution(owners.nora, today=TODAY), "Calls made")
    every_team = count_rows(CALLS, "2026-03")  # north and south are both below sales
    assert (share.mine, share.whole) == (2, every_team)
    assert [team.key for team in share.teams] == ["sales"]


def test_what_moved_is_told_in_the_readers_language(owners: OwnerOrg) -> None:
    found = my_contribution(owners.mark, today=TODAY)
    move = next(move for move in found.moves if move.kpi.key == "calls_made")
    assert move.period == "2026-04"
    assert move.insights_en
    assert move.insights_zh
    with translation.override("en"):
        assert move.sentences() == move.insights_en
    with translation.override("zh-hant"):
        assert move.sentences() == move.insights_zh
    assert any("Calls made" in sentence for sentence in move.insights_en)


def test_the_demo_shows_a_salesperson_their_share_of_their_teams_leads(
    db: None, tmp_path: Path
) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "tea-shop"
    apply_plan(plan_apply(load_workspace(example / "headway.yaml")), by=None)
    leo = User.objects.get(email="leo@tea-shop.example")
    found = my_contribution(leo, today=datetime.date(2026, 11, 26))
    share = share_of(found, "leads")
    leads = (example / "data" / "leads.csv").read_text(encoding="utf-8")
    mine = count_rows(leads, "2026-10", owners={"leo@tea-shop.example"})
    north = count_rows(leads, "2026-10", team="north")
    assert mine > 0
    assert (share.period, share.mine, share.whole) == ("2026-10", mine, north)
    assert [kpi.key for kpi in share.kpis] == ["conversion_rate"]
    assert [item.kpi.key for item in found.mine] == ["conversion_rate"]
