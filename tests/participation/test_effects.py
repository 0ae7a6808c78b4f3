"""What a proposal would change, checked against the numbers worked out here, another way,
straight from the CSV data written for the test."""

from __future__ import annotations

import csv
import datetime
from collections import Counter
from decimal import Decimal

import pytest

from headway.goals.models import Goal
from headway.kpis.models import Kpi, KpiGoal
from headway.participation.effects import proposal_effect
from headway.participation.models import Proposal, ProposalKind
from headway.participation.proposals import proposal_create
from headway.results.services import results_recompute
from tests.app.conftest import Organisation

TODAY = datetime.date(2026, 11, 15)
# Won deals per month from 2025-01 to 2026-10, of 10 leads each month.
WON = [2, 3, 4, 5, 6, 7, 3, 4, 5, 6, 4, 5, 3, 6, 5, 4, 7, 5, 4, 6, 5, 3]
MONTHS = [f"{2025 + index // 12}-{index % 12 + 1:02d}" for index in range(len(WON))]


@pytest.fixture
def history(org: Organisation) -> Organisation:
    """22 months of leads and deals in place of the two of the small organisation."""
    leads, deals = ["lead_id,created_at,team"], ["deal_id,closed_at,team,stage,amount"]
    for month, won in zip(MONTHS, WON, strict=True):
        for number in range(10):
            team = "north" if number % 2 else "south"
            leads.append(f"{month}-{number},{month}-05 10:00:00,{team}")
        for number in range(won + 2):
            stage = "won" if number < won else "lost"
            deals.append(f"{month}-{number},{month}-10,north,{stage},100")
    (org.folder / "leads.csv").write_text("\n".join(leads) + "\n", encoding="utf-8")
    (org.folder / "deals.csv").write_text("\n".join(deals) + "\n", encoding="utf-8")
    results_recompute(by=None)
    return org


def monthly_counts(org: Organisation) -> tuple[Counter[str], Counter[str]]:
    """Leads and won deals per month, read from the CSV files with the csv module."""
    with (org.folder / "leads.csv").open(encoding="utf-8") as file:
        leads = Counter(row["created_at"][:7] for row in csv.DictReader(file))
    with (org.folder / "deals.csv").open(encoding="utf-8") as file:
        won = Counter(row["closed_at"][:7] for row in csv.DictReader(file) if row["stage"] == "won")
    return leads, won


def expected_conversion(org: Organisation) -> dict[str, float]:
    """The conversion of the last 12 complete months before TODAY (2025-11 to 2026-10)."""
    leads, won = monthly_counts(org)
    months = sorted(month for month in leads if month < "2026-11")[-12:]
    return {month: won[month] / leads[month] for month in months}


def test_a_target_change_shows_how_often_each_target_would_have_been_met(
    history: Organisation,
) -> None:
    proposal = proposal_create(
        by=history.member,
        kind=ProposalKind.TARGET_CHANGE,
        title="Lower the target",
        why="Half is out of reach",
        kpi=Kpi.objects.get(key="conversion"),
        target_value="0.4",
        effective_from="2026-12",
    )
    effect = proposal_effect(proposal, today=TODAY)
    expected = expected_conversion(history)
    assert [row.period for row in effect.rows] == list(expected) == MONTHS[-12:]
    for row in effect.rows:
        assert float(row.value) == pytest.approx(expected[row.period])  # type: ignore[arg-type]
        assert row.meets_current == (expected[row.period] >= 0.5)
        assert row.meets_proposed == (expected[row.period] >= 0.4)
        # The target stored with each result: none before 2026, then 0.5.
        assert row.target == (None if row.period < "2026-01" else Decimal("0.5"))
    assert (effect.current_target, effect.proposed_target) == (Decimal("0.5"), Decimal("0.4"))
    assert effect.periods == 12
    assert effect.met_current == sum(value >= 0.5 for value in expected.values()) == 7
    assert effect.met_proposed == sum(value >= 0.4 for value in expected.values()) == 10
    assert effect.realism_current is not None
    assert effect.realism_proposed is not None
    assert (effect.realism_current.met, effect.realism_current.verdict) == (7, "realistic")
    assert effect.realism_current.half_time_target == pytest.approx(0.5)
    assert (effect.realism_proposed.met, effect.realism_proposed.periods) == (10, 12)
    assert effect.problems == []


def test_a_target_change_compares_with_the_target_it_replaces(history: Organisation) -> None:
    proposal = proposal_create(
        by=history.member,
        kind=ProposalKind.TARGET_CHANGE,
        title="Make it easy",
        why="Morale",
        kpi=Kpi.objects.get(key="conversion"),
        target_value="0.2",
        effective_from="2025-06",
    )
    effect = proposal_effect(proposal, today=TODAY)
    # No target was in force in 2025-06: nothing to compare with.
    assert effect.current_target is None
    assert effect.met_current == 0
    assert {row.meets_current for row in effect.rows} == {None}
    assert effect.met_proposed == 12
    assert effect.realism_proposed is not None
    assert effect.realism_proposed.verdict == "too_easy"


def test_a_new_kpi_shows_the_draft_formulas_history_over_the_data(history: Organisation) -> None:
    proposal = proposal_create(
        by=history.member,
        kind=ProposalKind.NEW_KPI,
        title="Conversion again",
        why="To compare",
        kpi_name="Lead conversion",
        formula="won / leads",
        unit="percent",
        grain="month",
        target_value="0.55",
        effective_from="2026-12",
    )
    effect = proposal_effect(proposal, today=TODAY)
    expected = expected_conversion(history)
    assert [row.period for row in effect.rows] == list(expected)
    assert [row.value for row in effect.rows] == pytest.approx(list(expected.values()))
    assert effect.met_proposed == sum(value >= 0.55 for value in expected.values()) == 3
    assert effect.proposed_target == Decimal("0.55")
    assert effect.problems == []


def test_a_new_kpi_of_another_grain_and_direction(history: Organisation) -> None:
    proposal = proposal_create(
        by=history.member,
        kind=ProposalKind.NEW_KPI,
        title="Fewer wins?",
        why="A check of the direction",
        kpi_name="Won deals per quarter",
        formula="won",
        unit="count",
        grain="quarter",
        direction="down",
        target_value="15",
        effective_from="2027-Q1",
    )
    effect = proposal_effect(proposal, today=TODAY)
    _, won = monthly_counts(history)
    quarters: Counter[str] = Counter()
    for month, count in won.items():
        year, number = month.split("-")
        quarters[f"{year}-Q{(int(number) - 1) // 3 + 1}"] += count
    complete = {
        quarter: count for quarter, count in sorted(quarters.items()) if quarter < "2026-Q4"
    }
    assert {row.period: row.value for row in effect.rows} == complete
    assert effect.met_proposed == sum(count <= 15 for count in complete.values()) == 5


def test_a_draft_the_engine_cannot_compute_shows_why(org: Organisation) -> None:
    broken = Proposal(kind=ProposalKind.NEW_KPI, formula="won / nothing", unit="number")
    broken.grain = "month"
    assert proposal_effect(broken, today=TODAY).problems == ["unknown measure 'nothing'"]
    early = Proposal(kind=ProposalKind.NEW_KPI, formula="won", unit="count", grain="month")
    effect = proposal_effect(early, today=datetime.date(2025, 12, 1))
    assert effect.rows == []
    assert effect.problems == ["The data has no complete periods for this formula yet."]


def test_a_retirement_shows_the_goals_served_and_the_recent_statuses(
    history: Organisation,
) -> None:
    conversion = Kpi.objects.get(key="conversion")
    KpiGoal.objects.create(kpi=conversion, goal=Goal.objects.get(key="grow"), weight="0.5")
    proposal = proposal_create(
        by=history.member,
        kind=ProposalKind.RETIRE_KPI,
        title="Retire conversion",
        why="Leads are not tracked any more",
        kpi=conversion,
    )
    effect = proposal_effect(proposal, today=TODAY)
    assert {(goal.key, goal.weight) for goal in effect.goals} == {
        ("grow", Decimal("0.5")),
        ("convert", Decimal("1")),
    }
    expected = dict(list(expected_conversion(history).items())[-6:])

    def status(value: float) -> str:
        attainment = value / 0.5
        return "green" if attainment >= 1 else "amber" if attainment >= 0.9 else "red"

    assert [(row.period, row.status) for row in effect.rows] == [
        (period, status(value)) for period, value in expected.items()
    ]
    assert effect.latest_status == status(expected["2026-10"]) == "red"
