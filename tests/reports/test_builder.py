"""The report's numbers, against the stored results of the small organisation (see
conftest.py for how each is worked out)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from headway.accounts.models import Team
from headway.engine.problems import HeadwayError
from headway.reports.builder import build_report, latest_complete_month, report_team
from headway.results.choices import Status
from tests.web.conftest import Org

pytestmark = pytest.mark.django_db


def test_each_card_has_the_stored_value_target_and_attainment_formatted_by_unit(org: Org) -> None:
    report = build_report(period="2024-03")
    assert [item.key for item in report.cards] == [
        "win_rate",
        "revenue",
        "deal_count",
        "mystery_shopper",
    ]
    win = next(item for item in report.cards if item.key == "win_rate")
    assert (win.value, win.target) == (Decimal("0.625"), Decimal("0.6"))
    assert win.attainment is not None
    assert round(win.attainment, 4) == Decimal("1.0417")
    assert (win.value_text, win.target_text, win.attainment_text) == ("62.5%", "60.0%", "104.2%")
    assert win.status is Status.GREEN
    assert (win.owner, win.team, win.period) == ("Nora North", "North", "2024-03")
    assert win.period_name == "March 2024"
    revenue = next(item for item in report.cards if item.key == "revenue")
    assert revenue.value == Decimal("1252.5")
    assert (revenue.value_text, revenue.target_text) == ("TWD 1,253", "TWD 1,000")
    deals = next(item for item in report.cards if item.key == "deal_count")
    assert (deals.value_text, deals.target_text, deals.status) == ("8", "—", Status.NONE)


def test_a_card_carries_the_kpi_pages_chart_with_its_target_line(org: Org) -> None:
    win = next(item for item in build_report(period="2024-03").cards if item.key == "win_rate")
    assert win.chart_svg.startswith('<svg class="chart"')
    assert 'class="target-line"' in win.chart_svg
    # Up to the reported period, not after it.
    assert "2024-03" in win.chart_svg
    assert "2024-04" not in win.chart_svg.split("</desc>")[1].split("target-change")[0]


def test_a_kpi_entered_by_hand_shows_its_owners_comment_of_the_period(org: Org) -> None:
    manual = next(
        item for item in build_report(period="2024-03").cards if item.key == "mystery_shopper"
    )
    assert (manual.value_text, manual.target_text, manual.attainment_text) == (
        "86.00",
        "85.00",
        "101.2%",
    )
    assert manual.owner_comment == "=三月門市活動奏效"
    february = next(
        item for item in build_report(period="2024-02").cards if item.key == "mystery_shopper"
    )
    assert february.owner_comment == "二月偏低"
    assert february.status is Status.AMBER


def test_goals_list_their_kpis_statuses_counted(org: Org) -> None:
    report = build_report(period="2024-03")
    assert [(goal.key, goal.depth) for goal in report.goals] == [("grow", 0), ("win-more", 1)]
    grow = report.goals[0]
    assert [kpi.key for kpi in grow.kpis] == ["revenue", "mystery_shopper"]
    assert [(count.status, count.count) for count in grow.counts] == [(Status.GREEN, 2)]
    assert [(count.status, count.count) for count in report.counts] == [
        (Status.GREEN, 3),
        (Status.NONE, 1),
    ]


def test_top_movers_are_ordered_by_the_change_of_attainment(org: Org) -> None:
    march = build_report(period="2024-03")
    assert [mover.key for mover in march.movers_up] == ["revenue", "mystery_shopper", "win_rate"]
    assert march.movers_down == ()
    revenue = march.movers_up[0]
    assert revenue.change == Decimal("1.2525") - Decimal("1.002")
    assert (revenue.previous_attainment_text, revenue.attainment_text) == ("100.2%", "125.3%")
    assert revenue.change_text == "+25.1 points"
    # April: 4 of 8 won (50%) against 60% after 104.2% in March.
    april = build_report(period="2024-04")
    assert [mover.key for mover in april.movers_down] == ["win_rate"]
    assert april.movers_down[0].change_text == "-20.8 points"


def test_kpis_reading_stale_data_are_listed(org: Org) -> None:
    report = build_report(period="2024-03")
    assert [(item.key, item.datasets) for item in report.stale] == [
        ("win_rate", ("deals",)),
        ("revenue", ("deals",)),
        ("deal_count", ("deals",)),
    ]
    assert report.stale[0].age_text == "10 days old"


def test_target_changes_decided_since_the_previous_period_with_before_and_after(
    org: Org,
) -> None:
    (change,) = build_report(period="2024-03").target_changes
    assert (change.kpi_key, change.effective_from) == ("win_rate", "2024-04")
    assert (change.before, change.after) == (Decimal("0.6"), Decimal("0.65"))
    assert (change.before_text, change.after_text) == ("60.0%", "65.0%")
    assert change.reason == "+5 points after the March review"
    assert change.decided_by == "Nora North"
    assert len(build_report(period="2024-04").target_changes) == 1
    # Decided in March: neither in January's report nor in June's.
    assert build_report(period="2024-01").target_changes == ()
    assert build_report(period="2024-06").target_changes == ()


def test_a_teams_report_has_the_kpis_of_the_team_and_the_teams_under_it(org: Org) -> None:
    north = build_report(period="2024-03", team=Team.objects.get(key="north"))
    assert [item.key for item in north.cards] == ["win_rate", "deal_count"]
    assert [goal.key for goal in north.goals] == ["win-more"]
    assert north.title == "Monthly report of North, March 2024"
    sales = build_report(period="2024-03", team=Team.objects.get(key="sales"))
    assert {item.key for item in sales.cards} == {
        "win_rate",
        "revenue",
        "deal_count",
        "mystery_shopper",
    }


def test_the_report_speaks_traditional_chinese(org: Org) -> None:
    report = build_report(period="2024-03", language="zh-Hant")
    assert report.language == "zh-hant"
    assert report.period_name == "2024年3月"
    assert report.title == "Test Tea 2024年3月月報"
    assert report.stale[0].age_text == "10 天前的資料"
    win = next(item for item in report.cards if item.key == "win_rate")
    assert win.value_text == "62.5%"
    assert "成交率 與目標" in win.chart_svg


@pytest.mark.parametrize(
    ("period", "language", "message"),
    [
        ("2024-13", "en", "is not a period label"),
        ("2999-01", "en", "has not begun yet"),
        ("2024-03", "fr", "is not a language"),
    ],
)
def test_bad_periods_and_languages_are_refused_with_a_sentence(
    org: Org, period: str, language: str, message: str
) -> None:
    with pytest.raises(HeadwayError, match=message):
        build_report(period=period, language=language)


def test_an_unknown_team_is_refused(org: Org) -> None:
    with pytest.raises(HeadwayError, match="there is no team 'west'"):
        report_team("west")
    assert report_team(None) is None


def test_the_latest_complete_month_is_the_one_before_this_one(org: Org) -> None:
    label = latest_complete_month()
    assert len(label) == 7
    build_report(period=label)


def test_the_report_takes_the_same_few_queries_however_many_kpis(
    org: Org, django_assert_max_num_queries: Any
) -> None:
    build_report(period="2024-03")  # warm the caches of content types and the like
    # Its own queries; the analysis of each KPI adds its few (analyse_kpi: at most 6).
    with django_assert_max_num_queries(15):
        build_report(period="2024-03", team=Team.objects.get(key="sales"), analysis=False)


def test_cards_carry_the_analysis_insights_in_the_reports_language(org: Org) -> None:
    from headway.kpis.models import Kpi
    from headway.results.analysis import analyse_kpi

    analysis = analyse_kpi(Kpi.objects.get(key="win_rate"), "2024-03")
    english = next(c for c in build_report(period="2024-03").cards if c.key == "win_rate")
    chinese = next(
        c for c in build_report(period="2024-03", language="zh-hant").cards if c.key == "win_rate"
    )

    assert english.insights == tuple(analysis.insights_en)
    assert chinese.insights == tuple(analysis.insights_zh)
