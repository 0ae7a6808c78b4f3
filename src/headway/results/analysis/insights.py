"""Plain sentences about a KPI, in English and Traditional Chinese, from the analysis's facts.

Every sentence is a fixed template filled with numbers computed elsewhere in this package;
no language model and no judgement beyond the thresholds written here. The templates:

- periods in a row off target, joined with the forecast's chance of meeting the target;
- year to date against the year-to-date target, and pacing inside the current period;
- a target too hard or too easy, with the target that would have been met half the time;
- the group that moved the KPI most, or a ratio's change split into rate and mix effects;
- the period's value being unusual for its own history.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from headway.engine.model import Direction, Unit
from headway.lib.periods import Grain, Period, parse_period_label
from headway.results.analysis.anomalies import Anomaly
from headway.results.analysis.drivers import Driver, RateMix
from headway.results.analysis.forecast import Forecast
from headway.results.analysis.realism import Realism, Verdict
from headway.results.analysis.series import Pacing, Ytd


class Language(enum.StrEnum):
    EN = "en"
    ZH_HANT = "zh-Hant"


@dataclass(frozen=True)
class Facts:
    """What the sentences are made from: one KPI in one period."""

    name: str
    unit: Unit
    direction: Direction
    period: Period
    off_target_streak: int = 0
    ytd: Ytd | None = None
    pacing: Pacing | None = None
    forecast: Forecast | None = None
    realism: Realism | None = None
    anomaly: Anomaly | None = None
    previous_period: str | None = None
    drivers: Sequence[Driver] = ()
    rate_mix: RateMix | None = None
    group_names: Mapping[str, str] = field(default_factory=dict)


_GRAIN_EN = {
    Grain.WEEK: ("week", "weeks"),
    Grain.MONTH: ("month", "months"),
    Grain.QUARTER: ("quarter", "quarters"),
    Grain.YEAR: ("year", "years"),
}
_GRAIN_ZH = {Grain.WEEK: "週", Grain.MONTH: "個月", Grain.QUARTER: "季", Grain.YEAR: "年"}


def _trim(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def number(value: float, unit: Unit) -> str:
    """A value as people read it: percents (stored as fractions) as ``5.8%``, large numbers
    with thousands separators and no decimals, small ones with up to two decimals."""
    if unit is Unit.PERCENT:
        return f"{_trim(f'{value * 100:.1f}')}%"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return _trim(f"{value:,.2f}")


def signed(value: float, unit: Unit, language: Language) -> str:
    """A change with its sign; changes of percents are in percentage points."""
    text = _trim(f"{abs(value) * 100:.1f}") if unit is Unit.PERCENT else number(abs(value), unit)
    # A change that rounds to nothing is shown without a sign: "0 pp", never "−0 pp".
    sign = "" if text.strip("0.,%") == "" else "+" if value > 0 else "−"
    if unit is Unit.PERCENT:
        return f"{sign}{text} pp" if language is Language.EN else f"{sign}{text} 個百分點"
    return f"{sign}{text}"


def _percent(share: float) -> str:
    return f"{round(share * 100)}%"


def _periods(count: int, grain: Grain, language: Language) -> str:
    if language is Language.EN:
        singular, plural = _GRAIN_EN[grain]
        return f"{count} {singular if count == 1 else plural}"
    return f"{count} {_GRAIN_ZH[grain]}"


def _span_phrase(facts: Facts, forecast: Forecast, language: Language) -> str:
    span = parse_period_label(forecast.span, facts.period.fiscal_year_start)
    current = span.start <= facts.period.start < span.end
    if span.grain is Grain.QUARTER:
        words = ("this quarter", "本季") if current else ("next quarter", "下季")
    else:
        words = ("this year", "本年度") if current else ("next year", "下年度")
    return words[0] if language is Language.EN else words[1]


def _streak_and_forecast(facts: Facts, language: Language, additive: bool) -> str | None:
    en = language is Language.EN
    clauses: list[str] = []
    streak, grain = facts.off_target_streak, facts.period.grain
    if streak:
        if en:
            side = "below" if facts.direction is Direction.UP else "above"
            clauses.append(
                f"{facts.name} has been {side} target for {_periods(streak, grain, language)}"
                if streak > 1
                else f"{facts.name} was {side} target in {facts.period.label}"
            )
        else:
            side = "低於" if facts.direction is Direction.UP else "高於"
            clauses.append(
                f"{facts.name} {_periods(streak, grain, language)}{side}目標"
                if streak > 1
                else f"{facts.name} {facts.period.label} {side}目標"
            )
    forecast = facts.forecast
    if forecast is not None and forecast.probability is not None:
        span = _span_phrase(facts, forecast, language)
        chance = _percent(forecast.probability)
        last = forecast.points[-1].period
        if en:
            clause = (
                f"at this pace, the chance of meeting {span}'s target is {chance}"
                if additive
                else f"on the current trend, the chance of being on target in {last},"
                f" at the end of {span}, is {chance}"
            )
            clauses.append(clause if clauses else clause[0].upper() + clause[1:])
        else:
            clauses.append(
                f"以目前速度，{span}達標機率 {chance}"
                if additive
                else f"以目前趨勢，{span}末（{last}）達標機率 {chance}"
            )
    if not clauses:
        return None
    return ("; " if en else "；").join(clauses) + ("." if en else "。")


def _ytd(facts: Facts, ytd: Ytd, language: Language) -> str:
    value, unit = number(ytd.value, facts.unit), facts.unit
    if ytd.target is None or ytd.attainment is None:
        if language is Language.EN:
            return f"Year to date ({ytd.year}), {facts.name} is {value}."
        return f"{facts.name} {ytd.year} 年度至今 {value}。"
    target, attained = number(ytd.target, unit), _percent(ytd.attainment)
    if language is Language.EN:
        return (
            f"Year to date ({ytd.year}), {facts.name} is {value} against a target of {target}"
            f" ({attained} of it)."
        )
    return f"{facts.name} {ytd.year} 年度至今 {value}，目標 {target}（達成 {attained}）。"


def _pacing(facts: Facts, pacing: Pacing, language: Language) -> str:
    value, expected = number(pacing.value, facts.unit), number(pacing.expected, facts.unit)
    days = f"{pacing.elapsed_days}/{pacing.total_days}"
    period = facts.period.label
    if language is Language.EN:
        verdict = "on pace" if pacing.on_pace else "behind pace"
        return (
            f"So far in {period}, {facts.name} is {value} against {expected} expected by today"
            f" ({days} days): {verdict}."
        )
    verdict = "進度符合" if pacing.on_pace else "進度落後"
    return f"{facts.name} {period} 至今 {value}，依天數（{days}）應達 {expected}：{verdict}。"


def _realism(facts: Facts, realism: Realism, language: Language) -> str | None:
    if realism.verdict is Verdict.REALISTIC:
        return None
    unit, grain = facts.unit, facts.period.grain
    target, half = number(realism.target, unit), number(realism.half_time_target, unit)
    share = _percent(realism.share)
    hard = realism.verdict is Verdict.TOO_HARD
    if language is Language.EN:
        return (
            f"The target of {target} would have been met in {realism.met} of the last"
            f" {_periods(realism.periods, grain, language)} ({share}):"
            f" {'too hard' if hard else 'too easy'}; {half} would have been met half the time."
        )
    return (
        f"目標 {target} 在過去 {_periods(realism.periods, grain, language)}中"
        f"{'只' if hard else ''}有 {realism.met} 次達成（{share}），"
        f"{'偏難' if hard else '偏易'}；若目標為 {half}，約一半的時間會達成。"
    )


def _driver(facts: Facts, language: Language) -> str | None:
    moved = [driver for driver in facts.drivers if driver.change]
    if not moved or facts.previous_period is None:
        return None
    top = moved[0]
    assert top.change is not None
    group = facts.group_names.get(top.group, top.group)
    since, unit = facts.previous_period, facts.unit
    if top.share is not None:
        total = top.change / top.share
        if language is Language.EN:
            return (
                f"{group} moved {facts.name} most since {since}:"
                f" {signed(top.change, unit, language)} of the total change of"
                f" {signed(total, unit, language)}."
            )
        return (
            f"自 {since} 以來，{group}對{facts.name}的變動影響最大："
            f"總變動 {signed(total, unit, language)}，其中 {signed(top.change, unit, language)}。"
        )
    if top.before is None or top.after is None:
        return None
    before, after = number(top.before, unit), number(top.after, unit)
    if language is Language.EN:
        return (
            f"{group} moved most since {since}: {facts.name} there went from {before} to {after}."
        )
    return f"自 {since} 以來，{group}變動最大：{facts.name}由 {before} 變為 {after}。"


def _rate_mix(facts: Facts, split: RateMix, language: Language) -> str | None:
    if split.change == 0 or not split.groups:
        return None
    unit, en = facts.unit, language is Language.EN
    top = max(split.groups, key=lambda row: abs(row.rate_effect) + abs(row.mix_effect))
    group = facts.group_names.get(top.group, top.group)
    change = signed(split.change, unit, language)
    rate, mix = signed(split.rate_effect, unit, language), signed(split.mix_effect, unit, language)
    before, after = number(split.before, unit), number(split.after, unit)

    def rate_text(value: float | None) -> str:
        return number(value, unit) if value is not None else "–"

    rates = f"{rate_text(top.rate_before)} → {rate_text(top.rate_after)}"
    weights = f"{_percent(top.weight_before)} → {_percent(top.weight_after)}"
    mostly_mix = abs(top.mix_effect) >= abs(top.rate_effect)
    if en:
        why = (
            f"mostly {group}'s share of {split.denominator} ({weights}) while its rate went {rates}"
            if mostly_mix
            else f"mostly {group}'s rate ({rates})"
        )
        return (
            f"{facts.name} changed by {change} ({before} → {after}): rate effect {rate},"
            f" mix effect {mix}; {why}."
        )
    why = (
        f"主要是{group}的 {split.denominator} 占比改變（{weights}），而其比率為 {rates}"
        if mostly_mix
        else f"主要是{group}的比率改變（{rates}）"
    )
    return (
        f"{facts.name}變動 {change}（{before} → {after}）：比率效果 {rate}，組合效果 {mix}；{why}。"
    )


def _anomaly(facts: Facts, anomaly: Anomaly, language: Language) -> str:
    unit = facts.unit
    value, expected = number(anomaly.value, unit), number(anomaly.expected, unit)
    low, high = number(anomaly.low, unit), number(anomaly.high, unit)
    if language is Language.EN:
        return (
            f"{facts.period.label} was unusual for {facts.name}: {value}, against an expected"
            f" {expected} (between {low} and {high})."
        )
    return (
        f"{facts.name} {facts.period.label} 數值異常：{value}，"
        f"預期約 {expected}（{low} 至 {high}）。"
    )


def insights(facts: Facts, language: Language, *, additive: bool) -> list[str]:
    """The sentences that apply, most pressing first."""
    sentences = [
        _streak_and_forecast(facts, language, additive),
        _anomaly(facts, facts.anomaly, language) if facts.anomaly else None,
        _realism(facts, facts.realism, language) if facts.realism else None,
        _rate_mix(facts, facts.rate_mix, language) if facts.rate_mix else None,
        _driver(facts, language) if facts.rate_mix is None else None,
        _pacing(facts, facts.pacing, language) if facts.pacing else None,
        _ytd(facts, facts.ytd, language) if facts.ytd else None,
    ]
    return [sentence for sentence in sentences if sentence]
