"""The mission's case, end to end on the bundled tea-shop example: the 8% conversion target
is out of reach all year; the 2026-Q1 review keeps it and asks for an action, and the
2026-Q2 review, warned by the realism check, lowers it to 6% from July with its reason on
record. The numbers the reviews see are checked against the CSV files directly."""

from __future__ import annotations

import csv
import datetime
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from headway.accounts.models import User
from headway.engine.workspace import load_workspace
from headway.kpis.models import Kpi, TargetVersion
from headway.kpis.workspace_io import apply_plan, plan_apply
from headway.results.models import Result
from headway.results.services import results_recompute
from headway.reviews.choices import AgendaReason, DecisionKind, DecisionStatus, MeetingStatus
from headway.reviews.models import Action, AgendaItem, Meeting
from headway.reviews.selectors import target_changes
from headway.reviews.services import (
    comment_add,
    cycle_create,
    decision_decide,
    decision_record,
    decisions_apply_all,
    meeting_close,
    meeting_conclude,
    meeting_create,
    meeting_prepare,
    meeting_start,
)
from tests.conftest import REPOSITORY
from tests.reviews.conftest import FAST_HASHER, at

EXAMPLE = REPOSITORY / "examples" / "tea-shop"
TAIPEI = ZoneInfo("Asia/Taipei")
REASON = "Q2 review found 8% out of reach"
TEN_DECIMALS = 1e-10  # results are stored with ten decimals


def month_of(text: str) -> str:
    """The Taipei month of a time in the data (with an offset, or already local)."""
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(TAIPEI)
    return moment.strftime("%Y-%m")


def conversion_by_month() -> dict[str, float]:
    """Won deals (by the month they closed) over leads (by the month they came in), read
    straight from the CSV files."""
    with (EXAMPLE / "data" / "leads.csv").open(encoding="utf-8") as file:
        leads = Counter(month_of(row["created_at"]) for row in csv.DictReader(file))
    with (EXAMPLE / "data" / "deals.csv").open(encoding="utf-8") as file:
        won = Counter(
            month_of(row["closed_at"]) for row in csv.DictReader(file) if row["stage"] == "won"
        )
    return {month: won[month] / count for month, count in sorted(leads.items())}


def status_of(value: float, target: float) -> str:
    """The KPI's thresholds (green from 100% of the target, amber from 90%)."""
    attainment = value / target
    return "green" if attainment >= 1 else "amber" if attainment >= 0.9 else "red"


def without_the_july_targets(text: str) -> str:
    """The example's file as it was before the Q2 review: conversion_rate's targets from
    2026-07 (the total's and the teams') are taken out."""
    trimmed, removed = re.subn(r" +- \{from: 2026-07,(?:[^{}]|\{[^{}]*\})*\}\n", "", text)
    assert removed == 4
    assert "from: 2026-07" not in trimmed
    return trimmed


@pytest.fixture
def tea_shop(db: None, tmp_path: Path, settings: Any) -> None:
    settings.PASSWORD_HASHERS = FAST_HASHER
    (tmp_path / "data").symlink_to(EXAMPLE / "data")
    workspace = tmp_path / "headway.yaml"
    text = (EXAMPLE / "headway.yaml").read_text(encoding="utf-8")
    workspace.write_text(without_the_july_targets(text), encoding="utf-8")
    apply_plan(plan_apply(load_workspace(workspace)), by=None)
    results_recompute(by=None)


def person(email: str) -> User:
    return User.objects.get(email=f"{email}@tea-shop.example")


def totals(kpi: Kpi) -> dict[str, Result]:
    return {
        row.period: row
        for row in Result.objects.filter(kpi=kpi, group_dimension="").order_by("period_start")
    }


def conversion_item(meeting: Meeting) -> AgendaItem:
    return AgendaItem.objects.get(meeting=meeting, kpi__key="conversion_rate")


@pytest.mark.usefixtures("tea_shop")
def test_the_q2_review_lowers_the_conversion_target_to_six_percent_from_july() -> None:
    ceo, mei = person("david"), person("mei")
    conversion = Kpi.objects.get(key="conversion_rate")
    rates = conversion_by_month()
    assert [str(version.value) for version in conversion.targets.filter(where_value="")] == [
        "0.0800000000"
    ]

    # -- 2026-Q1: red and out of reach; kept for now, with an action ------------------------
    q1 = meeting_create(
        by=ceo,
        cycle=cycle_create(by=ceo, period="2026-Q1"),
        title="2026-Q1 經營會議",
        scheduled_at=at(2026, 4, 15),
        chair=ceo,
        participants=[mei, person("grace"), person("tina")],
    )
    q1 = meeting_prepare(meeting=q1, by=ceo, today=datetime.date(2026, 4, 10))
    item = conversion_item(q1)
    march = rates["2026-03"]
    assert item.facts["period"] == "2026-03"
    assert item.facts["value"] == pytest.approx(march, abs=TEN_DECIMALS)
    assert item.facts["target"] == 0.08
    assert item.facts["status"] == status_of(march, 0.08) == "red"
    assert item.reason == AgendaReason.RED
    # The realism check over the twelve months up to March: not one met 8%.
    year = [rates[month] for month in sorted(rates) if "2025-04" <= month <= "2026-03"]
    assert len(year) == 12
    assert sum(rate >= 0.08 for rate in year) == 0
    assert AgendaReason.UNREALISTIC in item.reasons
    assert item.facts["realism"]["verdict"] == "too_hard"
    assert (item.facts["realism"]["met"], item.facts["realism"]["periods"]) == (0, 12)

    comment_add(meeting=q1, kpi=conversion, by=mei, text="新品上市的名單轉換較慢。")
    q1 = meeting_start(meeting=q1, by=ceo)
    keep = decision_record(
        meeting=q1,
        by=mei,
        kind=DecisionKind.KEEP,
        reason="Too early to judge the launch: keep 8% for now",
        item=item,
    )
    action = decision_record(
        meeting=q1,
        by=mei,
        kind=DecisionKind.ASSIGN_ACTION,
        reason="Know why before the next review",
        item=item,
        details={
            "title": "Find out why ads leads convert worse",
            "owner": mei.pk,
            "due": "2026-06-30",
        },
    )
    for decision in (keep, action):
        decision_decide(decision=decision, by=ceo, approve=True)
    q1 = meeting_conclude(meeting=q1, by=ceo)
    assert decisions_apply_all(meeting=q1, by=ceo) == (2, [], [])
    q1 = meeting_close(meeting=q1, by=ceo)
    follow_up = Action.objects.get(decision=action)
    assert TargetVersion.objects.filter(kpi=conversion, where_value="").count() == 1

    # -- 2026-Q2: the realism check flags 8%; the target becomes 6% from July --------------
    q2 = meeting_create(
        by=ceo,
        cycle=cycle_create(by=ceo, period="2026-Q2"),
        title="2026-Q2 經營會議",
        scheduled_at=at(2026, 7, 15),
        chair=ceo,
        participants=[mei],
    )
    q2 = meeting_prepare(meeting=q2, by=ceo, today=datetime.date(2026, 7, 10))
    item = conversion_item(q2)
    assert item.facts["period"] == "2026-06"
    assert item.facts["value"] == pytest.approx(rates["2026-06"], abs=TEN_DECIMALS)
    assert item.facts["realism"]["verdict"] == "too_hard"
    assert item.facts["realism"]["target"] == 0.08
    assert AgendaReason.UNREALISTIC in item.reasons
    # The Q1 action, still open, comes back with the KPI it is about.
    assert AgendaReason.OPEN_ACTION in item.reasons
    assert item.facts["open_actions"] == [follow_up.pk]
    assert item.facts["last_reviewed"] == "2026-Q1 經營會議"

    q2 = meeting_start(meeting=q2, by=ceo)
    change = decision_record(
        meeting=q2,
        by=mei,
        kind=DecisionKind.CHANGE_TARGET,
        reason=REASON,
        item=item,
        details={"value": "0.06", "effective_from": "2026-07"},
    )
    assert change.details["previous"] == "0.0800000000"
    change = decision_decide(decision=change, by=ceo, approve=True, note="Agreed")
    q2 = meeting_conclude(meeting=q2, by=ceo)
    assert decisions_apply_all(meeting=q2, by=ceo) == (1, [], [])
    q2 = meeting_close(meeting=q2, by=ceo)
    assert q2.status == MeetingStatus.CLOSED
    change.refresh_from_db()
    assert change.status == DecisionStatus.APPLIED

    # -- what it wrote -----------------------------------------------------------------------
    results = totals(conversion)
    after = [period for period in results if period >= "2026-07"]
    before = [period for period in results if "2026-01" <= period < "2026-07"]
    assert after == ["2026-07", "2026-08", "2026-09", "2026-10", "2026-11"]
    assert len(before) == 6
    for period in after:
        assert results[period].target == Decimal("0.06")
        assert results[period].status == status_of(rates[period], 0.06)
    assert results["2026-07"].status == "amber"
    assert results["2026-08"].status == "green"
    for period in before:
        assert results[period].target == Decimal("0.08")
        assert results[period].status == status_of(rates[period], 0.08) == "red"

    history = list(
        TargetVersion.objects.filter(kpi=conversion, where_value="").order_by("effective_start")
    )
    assert [(version.effective_from, version.value) for version in history] == [
        ("2026-01", Decimal("0.08")),
        ("2026-07", Decimal("0.06")),
    ]
    assert (history[1].reason, history[1].origin, history[1].decided_by) == (
        REASON,
        "review",
        ceo,
    )
    newest, first = target_changes(history)
    assert newest.version == history[1]
    assert newest.previous == Decimal("0.08")
    assert newest.meeting == q2
    assert newest.meeting is not None
    assert newest.meeting.cycle.period == "2026-Q2"
    assert (first.version, first.decision) == (history[0], None)
