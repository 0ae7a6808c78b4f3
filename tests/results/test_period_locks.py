"""Period close: an admin closes a period that is over; from then on recomputing, values
entered by hand and their approvals leave its results and values exactly as they are,
until an admin reopens it, saying why. Each close and reopen writes one audit row."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from headway.audit.errors import NotAllowed
from headway.audit.models import AuditEntry
from headway.kpis.models import Kpi
from headway.kpis.services import kpi_create, target_revise
from headway.lib.periods import Grain, parse_period_label, periods_between
from headway.results import manual
from headway.results.locks import (
    exclude_locked,
    is_period_locked,
    locked_problem,
    locked_spans,
    merge_spans,
    period_lock,
    period_reopen,
)
from headway.results.manual import (
    manual_results_refresh,
    manual_value_decide,
    manual_values_submit,
)
from headway.results.models import ManualValue, PeriodLock, Result
from headway.results.services import results_recompute
from tests.app.conftest import Organisation, build_organisation

TODAY = datetime.date(2026, 4, 15)
day = datetime.date


@pytest.fixture
def org(db: None, tmp_path: Path) -> Organisation:
    return build_organisation(tmp_path)


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    """It is the middle of April 2026 in the organisation: January to March are over."""
    monkeypatch.setattr(manual, "organization_today", lambda: TODAY)


def add_deals(org: Organisation, *lines: str) -> None:
    """New rows in the deals data (deal_id,closed_at,team,stage,amount)."""
    path = org.folder / "deals.csv"
    path.write_text(path.read_text(encoding="utf-8") + "".join(f"{line}\n" for line in lines))


def stored(kpi_key: str, period: str) -> list[tuple[Any, ...]]:
    """Every stored field of a KPI's Results for a period, totals and groups."""
    return [
        (
            result.pk,
            result.group_dimension,
            result.group_value,
            result.value,
            result.target,
            result.attainment,
            result.status,
            result.measures,
            result.computed_at,
            result.data_as_of,
        )
        for result in Result.objects.filter(kpi__key=kpi_key, period=period).order_by(
            "group_dimension", "group_value"
        )
    ]


def total(kpi_key: str, period: str) -> Decimal | None:
    return Result.objects.get(kpi__key=kpi_key, period=period, group_dimension="").value


def actions(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("pk"))


# Closing and reopening ------------------------------------------------------------------


def test_an_admin_closes_a_month_with_one_audit_row(org: Organisation) -> None:
    lock = period_lock(period="2026-03", by=org.admin, reason="Books closed")
    assert (lock.period, lock.grain, lock.start, lock.end) == (
        "2026-03",
        "month",
        day(2026, 3, 1),
        day(2026, 3, 31),
    )
    assert (lock.locked_by, lock.reason, lock.is_active) == (org.admin, "Books closed", True)
    [row] = actions("period.lock")
    assert (row.actor, row.object_type, row.object_id, row.reason) == (
        org.admin,
        "results.periodlock",
        str(lock.pk),
        "Books closed",
    )
    assert row.after == {
        "period": "2026-03",
        "grain": "month",
        "start": "2026-03-01",
        "end": "2026-03-31",
        "reason": "Books closed",
    }


def test_only_an_admin_closes_a_period(org: Organisation) -> None:
    for person in (org.manager, org.member, org.viewer):
        with pytest.raises(NotAllowed):
            period_lock(period="2026-01", by=person)
    assert not PeriodLock.objects.exists()
    assert not actions("period.lock")


@pytest.mark.parametrize("label", ["2026-04", "2026-Q2", "2026", "2026-W16", "2027-01"])
def test_a_period_that_is_not_over_cannot_be_closed(org: Organisation, label: str) -> None:
    with pytest.raises(ValidationError) as refused:
        period_lock(period=label, by=org.admin)
    [message] = refused.value.message_dict["period"]
    assert f"{label} is not over yet" in message
    assert not PeriodLock.objects.exists()


def test_a_month_can_be_closed_from_the_day_after_its_last(
    org: Organisation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manual, "organization_today", lambda: day(2026, 3, 31))
    with pytest.raises(ValidationError, match="ends on 2026-03-31"):
        period_lock(period="2026-03", by=org.admin)
    monkeypatch.setattr(manual, "organization_today", lambda: day(2026, 4, 1))
    assert period_lock(period="2026-03", by=org.admin).end == day(2026, 3, 31)


@pytest.mark.parametrize("label", ["", "March", "2026-13", "2026-Q5", "2026-03-01"])
def test_a_label_that_is_not_a_period_is_refused_by_name(org: Organisation, label: str) -> None:
    with pytest.raises(ValidationError) as refused:
        period_lock(period=label, by=org.admin)
    [message] = refused.value.message_dict["period"]
    assert "is not a period" in message
    assert f"“{label.strip() or label}”" in message


def test_a_period_already_closed_cannot_be_closed_twice(org: Organisation) -> None:
    period_lock(period="2026-02", by=org.admin)
    with pytest.raises(ValidationError) as refused:
        period_lock(period=" 2026-02 ", by=org.admin)
    [message] = refused.value.message_dict["period"]
    assert message.startswith("2026-02 is already closed (locked by Ada Admin on ")
    assert PeriodLock.objects.count() == 1
    assert len(actions("period.lock")) == 1


def test_reopening_needs_an_admin_and_a_reason_and_writes_one_audit_row(
    org: Organisation,
) -> None:
    lock = period_lock(period="2026-01", by=org.admin)
    with pytest.raises(NotAllowed):
        period_reopen(lock=lock, by=org.manager, reason="A late invoice")
    with pytest.raises(ValidationError) as refused:
        period_reopen(lock=lock, by=org.admin, reason="   ")
    assert "reason" in refused.value.message_dict
    lock.refresh_from_db()
    assert lock.is_active
    assert not actions("period.reopen")

    reopened = period_reopen(lock=lock, by=org.admin, reason="A late invoice")
    lock.refresh_from_db()
    assert (lock.reopened_by, lock.reopen_reason, lock.is_active) == (
        org.admin,
        "A late invoice",
        False,
    )
    assert reopened.reopened_at == lock.reopened_at
    [row] = actions("period.reopen")
    assert (row.actor, row.object_id, row.reason) == (org.admin, str(lock.pk), "A late invoice")
    assert row.after is not None
    assert row.after["reopen_reason"] == "A late invoice"


def test_a_reopened_lock_cannot_be_reopened_again(org: Organisation) -> None:
    lock = period_lock(period="2026-01", by=org.admin)
    stale_copy = PeriodLock.objects.get(pk=lock.pk)
    period_reopen(lock=lock, by=org.admin, reason="First")
    with pytest.raises(ValidationError, match="2026-01 was already reopened by Ada Admin"):
        period_reopen(lock=stale_copy, by=org.admin, reason="Second")
    assert len(actions("period.reopen")) == 1
    assert PeriodLock.objects.get(pk=lock.pk).reopen_reason == "First"


def test_closing_again_after_a_reopen_makes_a_new_lock_and_keeps_the_old_one(
    org: Organisation,
) -> None:
    first = period_lock(period="2026-01", by=org.admin, reason="Month end")
    period_reopen(lock=first, by=org.admin, reason="Correction")
    second = period_lock(period="2026-01", by=org.admin, reason="Corrected")
    assert second.pk != first.pk
    assert [(lock.reason, lock.is_active) for lock in PeriodLock.objects.order_by("pk")] == [
        ("Month end", False),
        ("Corrected", True),
    ]
    assert len(actions("period.lock")) == 2


# Which KPI periods a close covers ------------------------------------------------------


def test_spans_that_overlap_or_touch_are_merged() -> None:
    assert merge_spans(
        [
            (day(2026, 3, 1), day(2026, 3, 31)),
            (day(2026, 1, 1), day(2026, 1, 31)),
            (day(2026, 2, 1), day(2026, 2, 28)),
            (day(2026, 3, 10), day(2026, 3, 15)),
            (day(2026, 5, 1), day(2026, 5, 31)),
        ]
    ) == [(day(2026, 1, 1), day(2026, 3, 31)), (day(2026, 5, 1), day(2026, 5, 31))]


def test_a_quarter_is_locked_only_once_all_three_months_are(org: Organisation) -> None:
    q1 = (day(2026, 1, 1), day(2026, 3, 31))
    period_lock(period="2026-01", by=org.admin)
    period_lock(period="2026-02", by=org.admin)
    assert not is_period_locked(*q1)
    period_lock(period="2026-03", by=org.admin)
    assert locked_spans() == [q1]
    assert is_period_locked(*q1)
    assert not is_period_locked(day(2026, 1, 1), day(2026, 12, 31))  # the year


def test_a_week_running_into_an_open_month_is_not_locked(org: Organisation) -> None:
    period_lock(period="2026-03", by=org.admin)
    assert is_period_locked(day(2026, 3, 23), day(2026, 3, 29))  # 2026-W13
    assert not is_period_locked(day(2026, 3, 30), day(2026, 4, 5))  # 2026-W14
    assert not is_period_locked(day(2026, 2, 23), day(2026, 3, 1))  # 2026-W09


def test_a_reopened_lock_locks_nothing(org: Organisation) -> None:
    lock = period_lock(period="2026-03", by=org.admin)
    period_reopen(lock=lock, by=org.admin, reason="Late data")
    assert locked_spans() == []
    assert not is_period_locked(day(2026, 3, 1), day(2026, 3, 31))


def test_the_problem_names_the_period_who_closed_it_and_when(org: Organisation) -> None:
    lock = period_lock(period="2026-03", by=org.admin)
    assert locked_problem("2026-04", day(2026, 4, 1), day(2026, 4, 30)) is None
    when = timezone.localtime(lock.locked_at, datetime.timezone(datetime.timedelta(hours=8)))
    assert locked_problem("2026-03", day(2026, 3, 1), day(2026, 3, 31)) == (
        f"2026-03 is closed (locked by Ada Admin on {when.date().isoformat()}); "
        "an admin must reopen it first."
    )


def test_stored_results_are_excluded_exactly_when_their_period_is_locked(
    org: Organisation,
) -> None:
    """The query that spares locked Results agrees with is_period_locked for every grain."""
    kpi = Kpi.objects.get(key="revenue")
    Result.objects.all().delete()
    now = timezone.now()
    rows = [
        Result(
            kpi=kpi,
            period=period.label,
            period_start=period.start,
            group_dimension="grain",
            group_value=grain.value,
            status="none",
            computed_at=now,
        )
        for grain in Grain
        for period in periods_between(grain, day(2024, 11, 1), day(2026, 6, 30))
    ]
    Result.objects.bulk_create(rows)
    for label in ("2025", "2026-01", "2026-02", "2026-03", "2024-W50"):
        period_lock(period=label, by=org.admin)
    spans = locked_spans()
    assert spans == [
        (day(2024, 12, 9), day(2024, 12, 15)),
        (day(2025, 1, 1), day(2026, 3, 31)),
    ]
    kept = {(result.period, result.period_start) for result in exclude_locked(Result.objects)}
    expected = {
        (label, start)
        for label, start, grain in Result.objects.values_list(
            "period", "period_start", "group_value"
        )
        if not is_period_locked(start, _last_day(Grain(grain), start), spans)
    }
    assert kept == expected
    assert ("2026-Q1", day(2026, 1, 1)) not in kept
    assert ("2025-W01", day(2024, 12, 30)) in kept  # starts before 2025
    assert ("2026-W14", day(2026, 3, 30)) in kept  # runs into April
    assert ("2024-W50", day(2024, 12, 9)) not in kept


def _last_day(grain: Grain, start: datetime.date) -> datetime.date:
    [period] = periods_between(grain, start, start)
    return period.last_day


# Recomputing ------------------------------------------------------------------------------


def test_a_recompute_after_new_data_leaves_a_closed_month_exactly_as_it_was(
    org: Organisation,
) -> None:
    results_recompute(by=org.admin)
    period_lock(period="2026-01", by=org.admin)
    january = stored("revenue", "2026-01")
    february = stored("revenue", "2026-02")
    assert (total("revenue", "2026-01"), total("revenue", "2026-02")) == (
        Decimal("100"),
        Decimal("50"),
    )

    add_deals(org, "d,2026-01-20,south,won,900", "e,2026-02-20,north,won,25")
    summary = results_recompute(by=org.admin)

    assert stored("revenue", "2026-01") == january
    assert stored("conversion", "2026-01")  # kept too, with every group
    assert stored("revenue", "2026-02") != february
    assert total("revenue", "2026-02") == Decimal("75")
    assert summary.locked_periods == 1
    audit = actions("results.recompute")[-1]
    assert audit.after is not None
    assert audit.after["locked_periods"] == ["2026-01"]


def test_after_a_reopen_a_recompute_changes_the_month_again(org: Organisation) -> None:
    results_recompute(by=None)
    lock = period_lock(period="2026-01", by=org.admin)
    add_deals(org, "d,2026-01-20,south,won,900")
    results_recompute(by=None)
    assert total("revenue", "2026-01") == Decimal("100")
    period_reopen(lock=lock, by=org.admin, reason="The late deal counts")
    results_recompute(by=None)
    assert total("revenue", "2026-01") == Decimal("1000")


def test_a_recompute_of_some_periods_only_still_spares_a_closed_one(org: Organisation) -> None:
    results_recompute(by=None)
    period_lock(period="2026-02", by=org.admin)
    february = stored("revenue", "2026-02")
    add_deals(org, "d,2026-02-20,south,won,900")
    results_recompute(by=None, kpi_keys=("revenue",), start=parse_period_label("2026-01"))
    assert stored("revenue", "2026-02") == february


def test_a_quarter_result_is_kept_only_once_all_its_months_are_closed(
    org: Organisation,
) -> None:
    kpi_create(
        by=org.admin,
        key="revenue_per_quarter",
        name="Revenue per quarter",
        formula="revenue",
        unit="currency",
        grain="quarter",
        team=org.south,
    )
    results_recompute(by=None)
    assert total("revenue_per_quarter", "2026-Q1") == Decimal("150")
    period_lock(period="2026-01", by=org.admin)
    period_lock(period="2026-02", by=org.admin)
    add_deals(org, "d,2026-03-05,south,won,30")
    results_recompute(by=None)
    # Two of its three months are closed: the quarter still follows the data.
    assert total("revenue_per_quarter", "2026-Q1") == Decimal("180")
    assert total("revenue", "2026-01") == Decimal("100")

    period_lock(period="2026-03", by=org.admin)
    quarter = stored("revenue_per_quarter", "2026-Q1")
    add_deals(org, "e,2026-03-06,south,won,20")
    results_recompute(by=None)
    assert stored("revenue_per_quarter", "2026-Q1") == quarter


def test_closing_the_quarter_itself_keeps_its_months_too(org: Organisation) -> None:
    results_recompute(by=None)
    period_lock(period="2026-Q1", by=org.admin)
    january = stored("revenue", "2026-01")
    add_deals(org, "d,2026-01-20,south,won,900")
    results_recompute(by=None)
    assert stored("revenue", "2026-01") == january


# Values entered by hand ------------------------------------------------------------------


def make_manual_kpi(org: Organisation, *, approval: bool = False) -> Kpi:
    """Customer satisfaction, entered by hand by Mark (its owner) for team north, with a
    target of 80 from January 2026."""
    kpi = kpi_create(
        by=org.admin,
        key="satisfaction",
        name="Customer satisfaction",
        formula="",
        entry="manual",
        unit="score",
        grain="month",
        team=org.north,
        owner=org.member,
        manual_approval=approval,
    )
    target_revise(kpi=kpi, by=org.admin, effective_from="2026-01", value=80, reason="First")
    return kpi


def entries(kpi: Kpi) -> list[tuple[str, Decimal | None, str]]:
    return [
        (entry.period, entry.value, entry.status)
        for entry in ManualValue.objects.filter(kpi=kpi).order_by("period_start", "pk")
    ]


def test_a_value_for_a_closed_month_is_refused_and_nothing_is_written(
    org: Organisation,
) -> None:
    kpi = make_manual_kpi(org)
    manual_values_submit(kpi=kpi, values={"2026-01": Decimal("84")}, by=org.member)
    period_lock(period="2026-01", by=org.admin)
    before = (entries(kpi), stored("satisfaction", "2026-01"), AuditEntry.objects.count())

    with pytest.raises(ValidationError) as refused:
        manual_values_submit(
            kpi=kpi,
            values={"2026-01": Decimal("90"), "2026-02": Decimal("70")},
            by=org.member,
        )

    assert list(refused.value.message_dict) == ["2026-01"]
    [message] = refused.value.message_dict["2026-01"]
    assert message.startswith("2026-01 is closed (locked by Ada Admin on ")
    assert message.endswith("an admin must reopen it first.")
    # Not even February's value, which was fine on its own: all or nothing.
    assert (entries(kpi), stored("satisfaction", "2026-01"), AuditEntry.objects.count()) == before


def test_a_closed_months_value_left_as_it_was_is_no_fault(org: Organisation) -> None:
    """The grid sends every period it shows: a closed one sent unchanged changes nothing."""
    kpi = make_manual_kpi(org)
    manual_values_submit(kpi=kpi, values={"2026-01": Decimal("84")}, by=org.member)
    period_lock(period="2026-01", by=org.admin)
    created = manual_values_submit(
        kpi=kpi, values={"2026-01": Decimal("84"), "2026-02": Decimal("70")}, by=org.member
    )
    assert [entry.period for entry in created] == ["2026-02"]


def test_a_value_waiting_for_approval_in_a_closed_month_cannot_be_decided(
    org: Organisation,
) -> None:
    kpi = make_manual_kpi(org, approval=True)
    [pending] = manual_values_submit(kpi=kpi, values={"2026-01": Decimal("84")}, by=org.manager)
    assert pending.status == "pending"
    period_lock(period="2026-01", by=org.admin)
    for approve in (True, False):
        with pytest.raises(ValidationError) as refused:
            manual_value_decide(kpi=kpi, entry_ids=[pending.pk], approve=approve, by=org.member)
        assert "2026-01 is closed" in refused.value.message_dict["2026-01"][0]
    assert entries(kpi) == [("2026-01", Decimal("84"), "pending")]
    assert not Result.objects.filter(kpi=kpi).exists()


def test_a_new_target_leaves_a_closed_months_manual_result_as_it_was(
    org: Organisation,
) -> None:
    kpi = make_manual_kpi(org)
    manual_values_submit(
        kpi=kpi, values={"2026-01": Decimal("84"), "2026-02": Decimal("84")}, by=org.member
    )
    period_lock(period="2026-01", by=org.admin)
    january = stored("satisfaction", "2026-01")
    target_revise(kpi=kpi, by=org.admin, effective_from="2026-01", value=100, reason="Higher")
    manual_results_refresh(kpi=kpi, by=org.admin)
    assert stored("satisfaction", "2026-01") == january
    assert Result.objects.get(kpi=kpi, period="2026-02").target == Decimal("100")


def test_after_a_reopen_a_value_for_the_month_is_taken_again(org: Organisation) -> None:
    kpi = make_manual_kpi(org)
    lock = period_lock(period="2026-01", by=org.admin)
    with pytest.raises(ValidationError):
        manual_values_submit(kpi=kpi, values={"2026-01": Decimal("90")}, by=org.member)
    period_reopen(lock=lock, by=org.admin, reason="The survey came late")
    manual_values_submit(kpi=kpi, values={"2026-01": Decimal("90")}, by=org.member)
    assert Result.objects.get(kpi=kpi, period="2026-01").value == Decimal("90")
