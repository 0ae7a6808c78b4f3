"""analyse_kpi reads a KPI's stored results: the small organisation of tests/app, with one
more lead so that February's conversion has a rate in both teams."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from headway.kpis.models import Kpi
from headway.results.analysis import KpiAnalysis, analyse_kpi
from headway.results.choices import Status
from headway.results.services import results_recompute
from tests.app.conftest import Organisation, build_organisation

MID_FEBRUARY = datetime.date(2026, 2, 15)


@pytest.fixture
def org(db: None, tmp_path: Path) -> Organisation:
    organisation = build_organisation(tmp_path)
    with (tmp_path / "leads.csv").open("a", encoding="utf-8") as leads:
        leads.write("5,2026-02-03 09:00:00,south\n")
    results_recompute(by=organisation.admin)
    return organisation


def analyse(key: str, period: str) -> KpiAnalysis:
    return analyse_kpi(Kpi.objects.get(key=key), period, today=MID_FEBRUARY)


def test_revenue_in_february_has_its_pace_year_to_date_and_drivers(org: Organisation) -> None:
    found = analyse("revenue", "2026-02")
    assert (found.kpi, found.period, found.value, found.target) == ("revenue", "2026-02", 50, 100)
    assert found.status is Status.RED
    assert found.change_previous is not None
    assert (found.change_previous.period, found.change_previous.absolute) == ("2026-01", -50)
    assert found.change_last_year is None
    assert found.ytd is not None
    assert (found.ytd.value, found.ytd.target) == (150, 200)
    # 15 of February's 28 days: 100 × 15 / 28 expected by the 15th.
    assert found.pacing is not None
    assert found.pacing.expected == pytest.approx(100 * 15 / 28)
    assert found.pacing.on_pace is False
    # North's won deal was in January, south's in February: -100 and +50 of the -50.
    assert [(d.group, d.change, d.share) for d in found.drivers] == [
        ("north", -100, 2.0),
        ("south", 50, -1.0),
    ]
    # Two months are too few to forecast, judge a target's realism or flag anomalies.
    assert (found.forecast, found.realism, found.anomalies, found.rate_mix) == (
        None,
        None,
        [],
        None,
    )
    assert (
        "So far in 2026-02, Revenue is 50 against 53.57 expected by today (15/28 days):"
        " behind pace." in found.insights_en
    )
    assert "Revenue 2026 年度至今 150，目標 200（達成 75%）。" in found.insights_zh


def test_conversion_s_fall_splits_into_rate_and_mix_by_team(org: Organisation) -> None:
    found = analyse("conversion", "2026-02")
    # January: 1 won of 2 leads; February: 1 won (south) of 3 leads.
    assert found.value == pytest.approx(1 / 3)
    assert found.ytd is None
    assert found.pacing is None
    split = found.rate_mix
    assert split is not None
    assert (split.dimension, split.numerator, split.denominator) == ("team", "won", "leads")
    assert split.change == pytest.approx(1 / 3 - 1 / 2)
    assert split.rate_effect + split.mix_effect == pytest.approx(split.change, abs=1e-15)
    # North went from 1 of 1 to 0 of 2, south from 0 of 1 to 1 of 1.
    north = next(row for row in split.groups if row.group == "north")
    assert (north.rate_before, north.rate_after) == (1, 0)
    assert north.rate_effect == pytest.approx((1 / 2 + 2 / 3) / 2 * -1)
    assert found.insights_en[0] == (
        "Conversion changed by −16.7 pp (50% → 33.3%): rate effect −16.7 pp, mix effect 0 pp;"
        " mostly North's rate (100% → 0%)."
    )
    # Before February is over, the streak counts January only, which met its target.
    assert not any("below target" in sentence for sentence in found.insights_en)


def test_the_default_period_is_the_latest_with_a_result_and_reads_take_few_queries(
    org: Organisation,
) -> None:
    kpi = Kpi.objects.get(key="conversion")
    with CaptureQueriesContext(connection) as queries:
        found = analyse_kpi(kpi, today=datetime.date(2026, 3, 10))
    assert found.period == "2026-02"
    assert len(queries) <= 6


def test_a_period_of_another_grain_is_refused(org: Organisation) -> None:
    with pytest.raises(ValueError, match="per month"):
        analyse("revenue", "2026-Q1")
