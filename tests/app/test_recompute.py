"""Recomputing stores the engine's numbers, totals and per team, with their inputs."""

from __future__ import annotations

from decimal import Decimal

from headway.audit.models import AuditEntry
from headway.results.models import Result
from headway.results.selectors import goal_tree, my_kpis
from headway.results.services import results_recompute
from tests.app.conftest import Organisation


def test_results_hold_totals_and_groups_with_targets_and_inputs(org: Organisation) -> None:
    summary = results_recompute(by=org.admin)
    assert summary.kpis == 2
    january = Result.objects.get(kpi__key="conversion", period="2026-01", group_dimension="")
    # One won deal over two leads; the total's target is 0.5.
    assert (january.value, january.target, january.status) == (
        Decimal("0.5"),
        Decimal("0.5"),
        "green",
    )
    assert january.measures == {"won": 1, "leads": 2}
    north = Result.objects.get(kpi__key="conversion", period="2026-01", group_value="north")
    assert (north.group_dimension, north.value, north.target) == (
        "team",
        Decimal("1"),
        Decimal("0.6"),
    )
    february = Result.objects.get(kpi__key="conversion", period="2026-02", group_dimension="")
    # Two leads in February, and the won deal is the south team's.
    assert (february.value, february.status) == (Decimal("0.5"), "green")
    north_february = Result.objects.get(
        kpi__key="conversion", period="2026-02", group_value="north"
    )
    assert (north_february.value, north_february.status) == (Decimal("0"), "red")
    assert AuditEntry.objects.filter(action="results.recompute").count() == 1


def test_recomputing_again_replaces_rather_than_duplicates(org: Organisation) -> None:
    results_recompute(by=None)
    first = Result.objects.count()
    results_recompute(by=None)
    assert Result.objects.count() == first


def test_the_goal_tree_carries_each_kpis_latest_result(org: Organisation) -> None:
    results_recompute(by=None)
    roots, unlinked = goal_tree()
    assert [node.goal.key for node in roots] == ["grow"]
    grow = roots[0]
    assert [card.kpi.key for card in grow.cards] == ["revenue"]
    convert = grow.children[0]
    card = convert.cards[0]
    assert card.kpi.key == "conversion"
    assert card.latest is not None
    assert card.latest.period == "2026-02"
    assert card.trend == "flat"
    assert card.trend_is_good is None
    revenue = grow.cards[0]
    assert revenue.trend == "down"
    assert revenue.trend_is_good is False
    assert unlinked == []


def test_my_kpis_are_those_i_own_and_those_of_my_team(org: Organisation) -> None:
    results_recompute(by=None)
    assert [card.kpi.key for card in my_kpis(org.member)] == ["conversion"]
    assert [card.kpi.key for card in my_kpis(org.other_manager)] == ["revenue"]
