"""Sentences in English and Traditional Chinese, filled from the analysis's facts."""

from __future__ import annotations

from headway.engine.model import Direction, Unit
from headway.lib.periods import parse_period_label
from headway.results.analysis.anomalies import Anomaly
from headway.results.analysis.drivers import Driver, GroupRateMix, RateMix
from headway.results.analysis.forecast import Forecast, ForecastPoint
from headway.results.analysis.insights import Facts, Language, insights, number, signed
from headway.results.analysis.realism import Realism, Verdict
from headway.results.analysis.series import Pacing, Ytd

EN, ZH = Language.EN, Language.ZH_HANT
NOVEMBER = parse_period_label("2026-11")


def quarter_forecast(probability: float) -> Forecast:
    points = tuple(ForecastPoint(label, 50, 45, 55, 40, 60) for label in ("2026-11", "2026-12"))
    return Forecast("AutoETS ETS(A,N,N)", "2026-Q4", points, 160, 180, probability)


def test_months_below_target_and_the_chance_of_meeting_the_quarter_s_target() -> None:
    facts = Facts(
        name="New customers",
        unit=Unit.COUNT,
        direction=Direction.UP,
        period=NOVEMBER,
        off_target_streak=3,
        forecast=quarter_forecast(0.18),
    )
    assert insights(facts, EN, additive=True) == [
        "New customers has been below target for 3 months; at this pace, the chance of"
        " meeting this quarter's target is 18%."
    ]
    zh = Facts(**{**facts.__dict__, "name": "新增客戶"})
    assert insights(zh, ZH, additive=True) == [
        "新增客戶 3 個月低於目標；以目前速度，本季達標機率 18%。"
    ]


def test_a_ratio_s_chance_is_of_being_on_target_at_the_end_of_the_quarter() -> None:
    facts = Facts(
        name="Conversion",
        unit=Unit.PERCENT,
        direction=Direction.UP,
        period=parse_period_label("2026-09"),
        forecast=quarter_forecast(0.734),
    )
    assert insights(facts, EN, additive=False) == [
        "On the current trend, the chance of being on target in 2026-12, at the end of next"
        " quarter, is 73%."
    ]
    assert insights(facts, ZH, additive=False) == ["以目前趨勢，下季末（2026-12）達標機率 73%。"]


def test_a_cost_above_target_says_above() -> None:
    facts = Facts(
        name="CAC",
        unit=Unit.CURRENCY,
        direction=Direction.DOWN,
        period=NOVEMBER,
        off_target_streak=1,
    )
    assert insights(facts, EN, additive=False) == ["CAC was above target in 2026-11."]
    assert insights(facts, ZH, additive=False) == ["CAC 2026-11 高於目標。"]


def test_a_too_hard_target_and_the_one_met_half_the_time() -> None:
    facts = Facts(
        name="Conversion",
        unit=Unit.PERCENT,
        direction=Direction.UP,
        period=NOVEMBER,
        realism=Realism(0.08, 12, 1, 0.0585, Verdict.TOO_HARD),
    )
    assert insights(facts, EN, additive=False) == [
        "The target of 8% would have been met in 1 of the last 12 months (8%): too hard;"
        " 5.9% would have been met half the time."
    ]
    assert insights(facts, ZH, additive=False) == [
        "目標 8% 在過去 12 個月中只有 1 次達成（8%），偏難；若目標為 5.9%，約一半的時間會達成。"
    ]


def test_year_to_date_pacing_and_an_anomaly() -> None:
    facts = Facts(
        name="Revenue",
        unit=Unit.CURRENCY,
        direction=Direction.UP,
        period=NOVEMBER,
        ytd=Ytd("2026", 11, 1_234_000, 1_300_000),
        pacing=Pacing(40_000, 120_000, 36_000, 9, 30, True, 133_333),
        anomaly=Anomaly(22, 40_000, 110_000, 90_000, 130_000),
    )
    assert insights(facts, EN, additive=True) == [
        "2026-11 was unusual for Revenue: 40,000, against an expected 110,000"
        " (between 90,000 and 130,000).",
        "So far in 2026-11, Revenue is 40,000 against 36,000 expected by today (9/30 days):"
        " on pace.",
        "Year to date (2026), Revenue is 1,234,000 against a target of 1,300,000 (95% of it).",
    ]
    assert insights(facts, ZH, additive=True) == [
        "Revenue 2026-11 數值異常：40,000，預期約 110,000（90,000 至 130,000）。",
        "Revenue 2026-11 至今 40,000，依天數（9/30）應達 36,000：進度符合。",
        "Revenue 2026 年度至今 1,234,000，目標 1,300,000（達成 95%）。",
    ]


def test_the_group_that_moved_an_additive_kpi_most() -> None:
    facts = Facts(
        name="Revenue",
        unit=Unit.CURRENCY,
        direction=Direction.UP,
        period=NOVEMBER,
        previous_period="2026-10",
        drivers=[
            Driver("team", "north", 300, 150, -150, 1.5),
            Driver("team", "south", 100, 50, -50, 0.5),
            Driver("team", "east", 80, 130, 50, -0.5),
        ],
        group_names={"north": "北區"},
    )
    assert insights(facts, EN, additive=True) == [
        "北區 moved Revenue most since 2026-10: −150 of the total change of −100."
    ]
    assert insights(facts, ZH, additive=True) == [
        "自 2026-10 以來，北區對Revenue的變動影響最大：總變動 −100，其中 −150。"
    ]


def test_a_ratio_s_change_split_into_rate_and_mix() -> None:
    north = GroupRateMix("north", 0.05, 0.05, 0.5, 2 / 3, 0.0, -0.0035)
    south = GroupRateMix("south", 0.10, 0.10, 0.5, 1 / 3, 0.0, -0.0049)
    split = RateMix("team", "won", "leads", 0.075, 0.0667, -0.0083, 0.0, -0.0083, (north, south))
    facts = Facts(
        name="Conversion",
        unit=Unit.PERCENT,
        direction=Direction.UP,
        period=NOVEMBER,
        previous_period="2026-10",
        rate_mix=split,
        group_names={"north": "North", "south": "South"},
    )
    assert insights(facts, EN, additive=False) == [
        "Conversion changed by −0.8 pp (7.5% → 6.7%): rate effect 0 pp, mix effect −0.8 pp;"
        " mostly South's share of leads (50% → 33%) while its rate went 10% → 10%."
    ]
    assert insights(facts, ZH, additive=False) == [
        "Conversion變動 −0.8 個百分點（7.5% → 6.7%）：比率效果 0 個百分點，組合效果 −0.8 個百分點；"
        "主要是South的 leads 占比改變（50% → 33%），而其比率為 10% → 10%。"
    ]


def test_numbers_read_as_people_write_them() -> None:
    assert [number(v, Unit.PERCENT) for v in (0.058, 0.08, 0.12345)] == ["5.8%", "8%", "12.3%"]
    assert [number(v, Unit.COUNT) for v in (1234.4, 52.0, 4.285)] == ["1,234", "52", "4.29"]
    assert signed(-0.00004, Unit.PERCENT, EN) == "0 pp"
    assert signed(12, Unit.COUNT, ZH) == "+12"
