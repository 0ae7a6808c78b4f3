"""Values entered by hand: many periods at once, all or nothing; an optional approval by
the KPI's owner; every entry kept; Results made with the engine's own target and status
rules; one audit row per operation."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from headway.accounts.models import User
from headway.audit.errors import ConflictError, NotAllowed
from headway.audit.models import AuditEntry
from headway.engine.compute import status_of
from headway.engine.model import Status
from headway.kpis.models import Kpi
from headway.kpis.services import kpi_create, target_revise
from headway.results import manual
from headway.results.choices import ManualStatus
from headway.results.manual import (
    grid_window,
    manual_grid,
    manual_history,
    manual_value_decide,
    manual_values_submit,
)
from headway.results.models import ManualValue, Result
from headway.results.services import results_recompute, results_refresh_kpi
from tests.app.conftest import Organisation

TODAY = datetime.date(2026, 3, 15)


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    """Periods matter here: it is the middle of March 2026 in the organisation."""
    monkeypatch.setattr(manual, "organization_today", lambda: TODAY)


def make_kpi(
    org: Organisation,
    *,
    key: str = "satisfaction",
    owner: User | None = None,
    approval: bool = False,
    direction: str = "up",
    grain: str = "month",
) -> Kpi:
    """Customer satisfaction, entered by hand for team north; owned by Mark (a member)
    unless said otherwise; targets 80 from January and 90 from March 2026."""
    kpi = kpi_create(
        by=org.admin,
        key=key,
        name="Customer satisfaction",
        formula="",
        entry="manual",
        unit="score",
        grain=grain,
        direction=direction,
        team=org.north,
        owner=owner or org.member,
    )
    if approval:
        Kpi.objects.filter(pk=kpi.pk).update(manual_approval=True)
        kpi.refresh_from_db()
    target_revise(kpi=kpi, by=org.admin, effective_from="2026-01", value=80, reason="First")
    target_revise(kpi=kpi, by=org.admin, effective_from="2026-03", value=90, reason="Higher")
    return kpi


def entries(kpi: Kpi) -> list[tuple[str, Decimal | None, str]]:
    return [
        (entry.period, entry.value, entry.status)
        for entry in ManualValue.objects.filter(kpi=kpi).order_by("period_start", "pk")
    ]


def results(kpi: Kpi) -> dict[str, tuple[Decimal | None, Decimal | None, str]]:
    return {
        result.period: (result.value, result.target, result.status)
        for result in Result.objects.filter(kpi=kpi).order_by("period_start")
    }


def audit_rows() -> int:
    return AuditEntry.objects.count()


def test_a_grid_of_many_periods_is_stored_at_once_and_becomes_results(
    org: Organisation,
) -> None:
    kpi = make_kpi(org)
    created = manual_values_submit(
        kpi=kpi,
        values={"2026-01": Decimal("84"), "2026-02": Decimal("70.5"), "2026-03": Decimal("91")},
        by=org.member,
        comment="From the March survey",
    )
    assert [entry.status for entry in created] == ["approved"] * 3
    assert {entry.entered_by for entry in created} == {org.member}
    assert results(kpi) == {
        "2026-01": (Decimal("84"), Decimal("80"), "green"),
        "2026-02": (Decimal("70.5"), Decimal("80"), "red"),
        "2026-03": (Decimal("91"), Decimal("90"), "green"),
    }
    result = Result.objects.get(kpi=kpi, period="2026-02")
    assert result.period_start == datetime.date(2026, 2, 1)
    assert (result.group_dimension, result.group_value, result.measures) == ("", "", {})
    assert result.data_as_of == created[1].entered_at


@pytest.mark.parametrize(
    ("direction", "value", "target"),
    [
        ("up", "84", "80"),
        ("up", "72.9", "80"),
        ("up", "72", "80"),
        ("up", "71.99", "80"),
        ("down", "84", "80"),
        ("down", "88.9", "80"),
        ("down", "0", "80"),
        ("up", "-5", "80"),
    ],
)
def test_the_status_is_the_engines_for_the_same_value_and_target(
    org: Organisation, direction: str, value: str, target: str
) -> None:
    kpi = make_kpi(org, direction=direction)
    manual_values_submit(kpi=kpi, values={"2026-02": Decimal(value)}, by=org.member)
    result = Result.objects.get(kpi=kpi, period="2026-02")
    # Worked out here without the service: value / target (target / value when lower is
    # better), and no attainment when the divisor is not positive.
    numerator, divisor = (
        (float(value), float(target)) if direction == "up" else (float(target), float(value))
    )
    attainment = numerator / divisor if divisor > 0 else None
    expected = status_of(attainment, 1.0, 0.9)
    assert result.status == expected.value
    assert result.target == Decimal(target)
    if attainment is None:
        assert result.attainment is None
    else:
        assert result.attainment is not None
        # Stored with 10 decimal places, as the results of formulas are.
        assert float(result.attainment) == pytest.approx(attainment, abs=1e-10)


def test_a_manual_result_matches_a_formula_result_with_the_same_numbers(
    org: Organisation,
) -> None:
    """The conversion KPI (a formula) has 1 won of 1 lead in January 2026 against 0.5."""
    results_recompute(by=None, kpi_keys=("conversion",))
    computed = Result.objects.get(kpi__key="conversion", period="2026-01", group_dimension="")
    kpi = kpi_create(
        by=org.admin,
        key="conversion_by_hand",
        name="Conversion by hand",
        formula="",
        entry="manual",
        unit="percent",
        grain="month",
        team=org.north,
    )
    target_revise(kpi=kpi, by=org.admin, effective_from="2026-01", value="0.5", reason="Same")
    assert computed.value is not None
    manual_values_submit(kpi=kpi, values={"2026-01": computed.value}, by=org.admin)
    entered = Result.objects.get(kpi=kpi, period="2026-01")
    assert (entered.value, entered.target, entered.attainment, entered.status) == (
        computed.value,
        computed.target,
        computed.attainment,
        computed.status,
    )


def test_a_bad_period_label_names_the_period_and_nothing_is_saved(org: Organisation) -> None:
    kpi = make_kpi(org)
    rows = audit_rows()
    with pytest.raises(ValidationError) as caught:
        manual_values_submit(
            kpi=kpi,
            values={"2026-01": Decimal(84), "2026-13": Decimal(85), "2026-Q1": Decimal(86)},
            by=org.member,
        )
    problems = caught.value.message_dict
    assert set(problems) == {"2026-13", "2026-Q1"}
    assert "2026-13" in problems["2026-13"][0]
    assert "is not a period" in problems["2026-13"][0]
    assert "per month" in problems["2026-Q1"][0]
    assert "2026-03" in problems["2026-Q1"][0]  # an example of a good label
    assert entries(kpi) == []
    assert results(kpi) == {}
    assert audit_rows() == rows


@pytest.mark.parametrize(
    ("label", "value", "words"),
    [
        ("2026-04", Decimal(1), "has not started yet"),
        ("2026-02", Decimal("NaN"), "not a finite number"),
        ("2026-02", Decimal("Infinity"), "not a finite number"),
        ("2026-02", Decimal("0.00000000001"), "more than 10 decimal places"),
        ("2026-02", Decimal("1e20"), "too large"),
    ],
)
def test_a_bad_value_or_a_future_period_is_refused_naming_the_period(
    org: Organisation, label: str, value: Decimal, words: str
) -> None:
    kpi = make_kpi(org)
    with pytest.raises(ValidationError) as caught:
        manual_values_submit(kpi=kpi, values={"2026-01": Decimal(1), label: value}, by=org.member)
    assert list(caught.value.message_dict) == [label]
    (message,) = caught.value.message_dict[label]
    assert words in message
    assert label in message
    assert entries(kpi) == []


def test_two_labels_of_the_same_period_are_refused(org: Organisation) -> None:
    kpi = make_kpi(org)
    with pytest.raises(ValidationError) as caught:
        manual_values_submit(
            kpi=kpi, values={"2026-02": Decimal(1), " 2026-02 ": Decimal(2)}, by=org.member
        )
    assert "given twice" in caught.value.message_dict[" 2026-02 "][0]
    assert entries(kpi) == []


def test_quarters_follow_the_fiscal_year(org: Organisation) -> None:
    from headway.accounts.models import Organization

    Organization.objects.update(fiscal_year_start=4)
    kpi = kpi_create(
        by=org.admin,
        key="nps",
        name="NPS",
        formula="",
        entry="manual",
        unit="score",
        grain="quarter",
        team=org.north,
        owner=org.member,
    )
    # 15 March 2026 lies in fiscal 2025-Q4 (January to March 2026).
    manual_values_submit(kpi=kpi, values={"2025-Q4": Decimal(30)}, by=org.member)
    assert ManualValue.objects.get(kpi=kpi).period_start == datetime.date(2026, 1, 1)
    with pytest.raises(ValidationError) as caught:
        manual_values_submit(kpi=kpi, values={"2026-Q1": Decimal(30)}, by=org.member)
    assert "has not started yet" in caught.value.message_dict["2026-Q1"][0]


def test_formula_kpis_and_retired_kpis_take_no_values(org: Organisation) -> None:
    with pytest.raises(ValidationError, match="computed by its formula"):
        manual_values_submit(
            kpi=Kpi.objects.get(key="conversion"), values={"2026-01": Decimal(1)}, by=org.admin
        )
    kpi = make_kpi(org)
    Kpi.objects.filter(pk=kpi.pk).update(is_active=False)
    kpi.refresh_from_db()
    with pytest.raises(ValidationError, match="retired"):
        manual_values_submit(kpi=kpi, values={"2026-01": Decimal(1)}, by=org.admin)
    assert entries(kpi) == []


@pytest.mark.parametrize("who", ["admin", "manager", "member"])
def test_the_owner_the_teams_manager_and_admins_may_enter(org: Organisation, who: str) -> None:
    kpi = make_kpi(org)  # owned by the member
    manual_values_submit(kpi=kpi, values={"2026-01": Decimal(84)}, by=getattr(org, who))
    assert entries(kpi) == [("2026-01", Decimal(84), "approved")]


def test_viewers_other_teams_and_members_who_do_not_own_it_may_not_enter(
    org: Organisation,
) -> None:
    kpi = make_kpi(org, owner=org.manager)
    for person in (org.viewer, org.other_manager, org.member):
        with pytest.raises(NotAllowed):
            manual_values_submit(kpi=kpi, values={"2026-01": Decimal(84)}, by=person)
    # Owning a KPI does not let a viewer enter its values.
    viewer_owned = make_kpi(org, key="viewer_owned", owner=org.viewer)
    with pytest.raises(NotAllowed):
        manual_values_submit(kpi=viewer_owned, values={"2026-01": Decimal(84)}, by=org.viewer)
    assert ManualValue.objects.count() == 0


def test_with_approval_a_managers_values_wait_for_the_owner(org: Organisation) -> None:
    kpi = make_kpi(org, approval=True)  # owned by the member; nora manages the team
    rows = audit_rows()
    created = manual_values_submit(
        kpi=kpi, values={"2026-01": Decimal(84), "2026-02": Decimal(70)}, by=org.manager
    )
    assert [entry.status for entry in created] == ["pending", "pending"]
    assert [(entry.decided_by, entry.decided_at) for entry in created] == [(None, None)] * 2
    assert results(kpi) == {}
    assert audit_rows() == rows + 1

    approved = manual_value_decide(
        kpi=kpi, entry_ids=[created[0].pk], approve=True, by=org.member, note="Checked"
    )
    assert [(entry.status, entry.decided_by, entry.decision_note) for entry in approved] == [
        ("approved", org.member, "Checked")
    ]
    rejected = manual_value_decide(
        kpi=kpi, entry_ids=[created[1].pk], approve=False, by=org.member, note="Wrong month"
    )
    assert rejected[0].status == "rejected"
    assert entries(kpi) == [
        ("2026-01", Decimal(84), "approved"),
        ("2026-02", Decimal(70), "rejected"),
    ]
    assert results(kpi) == {"2026-01": (Decimal(84), Decimal(80), "green")}
    assert audit_rows() == rows + 3
    actions = list(AuditEntry.objects.order_by("-pk").values_list("action", flat=True)[:3])
    assert actions == ["manual_values.reject", "manual_values.approve", "manual_values.submit"]


def test_the_owners_and_admins_own_values_count_at_once(org: Organisation) -> None:
    kpi = make_kpi(org, approval=True)
    manual_values_submit(kpi=kpi, values={"2026-01": Decimal(84)}, by=org.member)
    manual_values_submit(kpi=kpi, values={"2026-02": Decimal(85)}, by=org.admin)
    assert entries(kpi) == [
        ("2026-01", Decimal(84), "approved"),
        ("2026-02", Decimal(85), "approved"),
    ]
    assert set(results(kpi)) == {"2026-01", "2026-02"}


def test_only_the_owner_or_an_admin_decides(org: Organisation) -> None:
    kpi = make_kpi(org, approval=True)
    (entry,) = manual_values_submit(kpi=kpi, values={"2026-01": Decimal(84)}, by=org.manager)
    for person in (org.manager, org.viewer, org.other_manager):
        with pytest.raises(NotAllowed):
            manual_value_decide(kpi=kpi, entry_ids=[entry.pk], approve=True, by=person)
    manual_value_decide(kpi=kpi, entry_ids=[entry.pk], approve=True, by=org.admin)
    assert entries(kpi) == [("2026-01", Decimal(84), "approved")]


def test_nobody_but_the_owner_approves_their_own_entry(org: Organisation) -> None:
    kpi = make_kpi(org, approval=True)
    (entry,) = manual_values_submit(kpi=kpi, values={"2026-01": Decimal(84)}, by=org.manager)
    # Nora entered it, then became an admin: she still may not approve her own entry.
    User.objects.filter(pk=org.manager.pk).update(role="admin")
    org.manager.refresh_from_db()
    with pytest.raises(NotAllowed):
        manual_value_decide(kpi=kpi, entry_ids=[entry.pk], approve=True, by=org.manager)
    # Once she owns the KPI, she may.
    Kpi.objects.filter(pk=kpi.pk).update(owner=org.manager)
    kpi.refresh_from_db()
    manual_value_decide(kpi=kpi, entry_ids=[entry.pk], approve=True, by=org.manager)
    assert entries(kpi) == [("2026-01", Decimal(84), "approved")]


def test_a_decided_entry_cannot_be_decided_again(org: Organisation) -> None:
    kpi = make_kpi(org, approval=True)
    (entry,) = manual_values_submit(kpi=kpi, values={"2026-01": Decimal(84)}, by=org.manager)
    manual_value_decide(kpi=kpi, entry_ids=[entry.pk], approve=False, by=org.member)
    rows = audit_rows()
    with pytest.raises(ConflictError, match="no longer waiting"):
        manual_value_decide(kpi=kpi, entry_ids=[entry.pk], approve=True, by=org.member)
    assert entries(kpi) == [("2026-01", Decimal(84), "rejected")]
    assert audit_rows() == rows


def test_a_new_value_supersedes_the_old_and_keeps_the_history(org: Organisation) -> None:
    kpi = make_kpi(org, approval=True)
    manual_values_submit(kpi=kpi, values={"2026-02": Decimal(70)}, by=org.member)
    (first,) = manual_values_submit(kpi=kpi, values={"2026-02": Decimal(75)}, by=org.manager)
    # Waiting for approval: 70 still counts.
    assert results(kpi)["2026-02"][0] == Decimal(70)
    (second,) = manual_values_submit(kpi=kpi, values={"2026-02": Decimal(76)}, by=org.manager)
    assert entries(kpi) == [
        ("2026-02", Decimal(70), "approved"),
        ("2026-02", Decimal(75), "superseded"),
        ("2026-02", Decimal(76), "pending"),
    ]
    manual_value_decide(kpi=kpi, entry_ids=[second.pk], approve=True, by=org.member)
    assert entries(kpi) == [
        ("2026-02", Decimal(70), "superseded"),
        ("2026-02", Decimal(75), "superseded"),
        ("2026-02", Decimal(76), "approved"),
    ]
    assert results(kpi) == {"2026-02": (Decimal(76), Decimal(80), "amber")}
    history = manual_history(kpi)
    assert [(entry.value, entry.entered_by) for entry in history] == [
        (Decimal(76), org.manager),
        (Decimal(75), org.manager),
        (Decimal(70), org.member),
    ]
    with pytest.raises(ConflictError):
        manual_value_decide(kpi=kpi, entry_ids=[first.pk], approve=True, by=org.member)


def test_an_unchanged_resubmission_changes_nothing(org: Organisation) -> None:
    kpi = make_kpi(org)
    manual_values_submit(kpi=kpi, values={"2026-01": Decimal(84), "2026-02": None}, by=org.member)
    before = (entries(kpi), audit_rows(), list(Result.objects.values_list("pk", "computed_at")))
    again = manual_values_submit(
        kpi=kpi, values={"2026-01": Decimal("84.000"), "2026-02": None}, by=org.manager
    )
    assert again == []
    after = (entries(kpi), audit_rows(), list(Result.objects.values_list("pk", "computed_at")))
    assert after == before


def test_resubmitting_the_pending_value_changes_nothing(org: Organisation) -> None:
    kpi = make_kpi(org, approval=True)
    manual_values_submit(kpi=kpi, values={"2026-01": Decimal(84)}, by=org.manager)
    assert manual_values_submit(kpi=kpi, values={"2026-01": Decimal(84)}, by=org.manager) == []
    assert entries(kpi) == [("2026-01", Decimal(84), "pending")]


def test_an_empty_value_withdraws_the_periods_value(org: Organisation) -> None:
    kpi = make_kpi(org)
    manual_values_submit(kpi=kpi, values={"2026-01": Decimal(84)}, by=org.member)
    manual_values_submit(kpi=kpi, values={"2026-01": None}, by=org.member, comment="Not surveyed")
    assert entries(kpi) == [
        ("2026-01", Decimal(84), "superseded"),
        ("2026-01", None, "approved"),
    ]
    assert results(kpi) == {}


def test_one_audit_row_per_submit_however_many_periods(org: Organisation) -> None:
    kpi = make_kpi(org)
    manual_values_submit(kpi=kpi, values={"2026-01": Decimal(84)}, by=org.member)
    rows = audit_rows()
    manual_values_submit(
        kpi=kpi,
        values={"2025-12": Decimal(1), "2026-01": Decimal(2), "2026-02": Decimal(3)},
        by=org.manager,
        comment="Survey",
    )
    assert audit_rows() == rows + 1
    entry = AuditEntry.objects.order_by("-pk").first()
    assert entry is not None
    assert (entry.action, entry.actor_label, entry.object_id) == (
        "manual_values.submit",
        "nora@example.com",
        str(kpi.pk),
    )
    assert entry.after is not None
    assert [(item["period"], item["value"]) for item in entry.after["entries"]] == [
        ("2025-12", "1"),
        ("2026-01", "2"),
        ("2026-02", "3"),
    ]
    assert entry.before is not None
    assert [item["value"] for item in entry.before["superseded"]] == ["84.0000000000"]
    assert entry.reason == "Survey"


def test_a_value_entered_meanwhile_by_someone_else_is_a_conflict(org: Organisation) -> None:
    kpi = make_kpi(org)
    (mine,) = manual_values_submit(kpi=kpi, values={"2026-01": Decimal(84)}, by=org.member)
    manual_values_submit(kpi=kpi, values={"2026-01": Decimal(85)}, by=org.manager)
    with pytest.raises(ConflictError):
        manual_values_submit(
            kpi=kpi,
            values={"2026-01": Decimal(86), "2026-02": Decimal(1)},
            by=org.member,
            seen={"2026-01": mine.pk, "2026-02": None},
        )
    assert [value for _, value, _ in entries(kpi)] == [Decimal(84), Decimal(85)]


def test_cells_left_as_they_were_read_yield_to_a_newer_value(org: Organisation) -> None:
    kpi = make_kpi(org)
    (mine,) = manual_values_submit(kpi=kpi, values={"2026-01": Decimal(84)}, by=org.member)
    # Meanwhile Nora corrects January and fills February.
    manual_values_submit(
        kpi=kpi, values={"2026-01": Decimal(85), "2026-02": Decimal(70)}, by=org.manager
    )
    # A grid read before that sends January and February as they were, and a new March.
    created = manual_values_submit(
        kpi=kpi,
        values={"2026-01": Decimal(84), "2026-02": None, "2026-03": Decimal(91)},
        by=org.member,
        seen={"2026-01": mine.pk, "2026-02": None, "2026-03": None},
    )
    assert [(entry.period, entry.value) for entry in created] == [("2026-03", Decimal(91))]
    assert {period: value for period, (value, _, _) in results(kpi).items()} == {
        "2026-01": Decimal(85),
        "2026-02": Decimal(70),
        "2026-03": Decimal(91),
    }


def test_a_new_target_moves_the_manual_results(org: Organisation) -> None:
    kpi = make_kpi(org)
    manual_values_submit(kpi=kpi, values={"2026-02": Decimal(84)}, by=org.member)
    assert results(kpi)["2026-02"][2] == "green"
    target_revise(kpi=kpi, by=org.admin, effective_from="2026-02", value=100, reason="Stretch")
    assert results_refresh_kpi(key=kpi.key, by=org.admin) == []
    assert results(kpi)["2026-02"] == (Decimal(84), Decimal(100), "red")


def test_a_formula_recompute_leaves_manual_results_alone(org: Organisation) -> None:
    kpi = make_kpi(org)
    manual_values_submit(kpi=kpi, values={"2026-02": Decimal(84)}, by=org.member)
    results_recompute(by=None)
    assert results(kpi) == {"2026-02": (Decimal(84), Decimal(80), "green")}


def test_the_grid_shows_twelve_periods_up_to_the_current_one(org: Organisation) -> None:
    kpi = make_kpi(org, approval=True)
    manual_values_submit(kpi=kpi, values={"2026-01": Decimal(84)}, by=org.member)
    manual_values_submit(kpi=kpi, values={"2026-01": Decimal(88)}, by=org.manager)
    window = grid_window(kpi)
    assert [period.label for period in window.periods][:3] == ["2026-03", "2026-02", "2026-01"]
    assert len(window.periods) == 12
    assert window.periods[-1].label == "2025-04"
    assert (window.earlier, window.later) == ("2024-04", None)
    rows = {row.period.label: row for row in manual_grid(kpi, window.periods)}
    january = rows["2026-01"]
    assert january.approved is not None
    assert january.pending is not None
    assert (january.approved.value, january.pending.value) == (Decimal(84), Decimal(88))
    assert january.latest == january.pending
    assert january.result is not None
    assert january.result.status == Status.GREEN.value
    assert (rows["2026-03"].target, rows["2025-12"].target) == (Decimal(90), None)

    earlier = grid_window(kpi, "2024-04")
    assert [earlier.periods[0].label, earlier.periods[-1].label] == ["2025-03", "2024-04"]
    assert (earlier.earlier, earlier.later) == ("2023-04", "")


def test_approving_one_of_two_pending_values_is_all_or_nothing(org: Organisation) -> None:
    kpi = make_kpi(org, approval=True)
    first, second = manual_values_submit(
        kpi=kpi, values={"2026-01": Decimal(84), "2026-02": Decimal(85)}, by=org.manager
    )
    manual_value_decide(kpi=kpi, entry_ids=[second.pk], approve=False, by=org.member)
    with pytest.raises(ConflictError):
        manual_value_decide(kpi=kpi, entry_ids=[first.pk, second.pk], approve=True, by=org.member)
    assert entries(kpi) == [
        ("2026-01", Decimal(84), "pending"),
        ("2026-02", Decimal(85), "rejected"),
    ]
    assert results(kpi) == {}
    assert ManualStatus.PENDING.label
