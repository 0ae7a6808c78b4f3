"""`headway explain`: the KPI in words, its measures, period bounds, SQL and inputs."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_bad_input import WORKSPACE, make_workspace
from tests.conftest import run_headway

GROWTH = (
    WORKSPACE
    + """\
  - key: growth
    name: Revenue growth
    formula: revenue / prev(revenue) - 1
    unit: percent
    grain: month
    targets:
      - {from: 2026-01, value: 0.1, reason: Plan for the year}
"""
)


def test_it_explains_a_ratio_with_its_measures_bounds_and_sql(tmp_path: Path) -> None:
    run = run_headway(
        "explain", make_workspace(tmp_path), "--kpi", "conversion", "--period", "2026-01"
    )
    assert run.exit_code == 0, run
    text = run.stdout
    assert "Conversion (conversion) is won / leads, computed per month" in text
    assert "won: the number of rows in dataset deals where stage = 'won'" in text
    assert "from 2026-01-01 00:00:00+08:00 up to (not including) 2026-02-01 00:00:00+08:00" in text
    assert "won in 2026-01 = 1" in text
    assert "leads in 2026-01 = 2" in text
    assert "2026-01: value 0.5" in text
    assert "SELECT" in text
    assert "FILTER (WHERE \"stage\" = 'won')" in text


def test_it_shows_the_earlier_period_that_prev_reads_and_the_target_reason(
    tmp_path: Path,
) -> None:
    deals = (
        "deal_id,closed_at,team,stage,amount\n"
        "a,2026-01-10,north,won,100\n"
        "b,2026-02-11,south,won,150\n"
    )
    path = make_workspace(tmp_path, GROWTH, deals=deals)
    run = run_headway("explain", path, "--kpi", "growth", "--period", "2026-02")
    assert run.exit_code == 0, run
    assert "revenue in 2026-02 = 150" in run.stdout
    assert "revenue in 2026-01 (1 period(s) earlier) = 100" in run.stdout
    assert "2026-02: value 0.5, target 0.1, attainment 5, status green" in run.stdout
    assert "The target applies from 2026-01: Plan for the year" in run.stdout


def test_without_a_period_it_explains_the_latest_one(tmp_path: Path) -> None:
    run = run_headway("explain", make_workspace(tmp_path), "--kpi", "conversion")
    assert run.exit_code == 0, run
    assert "Conversion (conversion), 2026-02" in run.stdout


def test_it_breaks_the_number_down_by_a_dimension(tmp_path: Path) -> None:
    run = run_headway(
        "explain",
        make_workspace(tmp_path),
        "--kpi",
        "conversion",
        "--period",
        "2026-01",
        "--by",
        "team",
    )
    assert run.exit_code == 0, run
    assert "2026-01 [north]: value 1" in run.stdout
    assert "2026-01 [south]: value 0" in run.stdout


def test_it_refuses_an_unknown_kpi(tmp_path: Path) -> None:
    run = run_headway("explain", make_workspace(tmp_path), "--kpi", "nope")
    assert run.exit_code == 2
    assert "unknown KPI 'nope'" in run.stderr


def test_the_sql_shown_includes_the_view_that_reads_the_file(tmp_path: Path) -> None:
    run = run_headway("explain", make_workspace(tmp_path), "--kpi", "conversion")
    assert run.exit_code == 0, run
    assert "CREATE TEMP VIEW" in run.stdout
    assert "leads.csv" in run.stdout
    assert "timezone" in run.stdout or "TIMESTAMP" in run.stdout
