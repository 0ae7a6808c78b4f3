"""Services: who may write what, every write audited, nothing overwritten."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from headway.audit.errors import ConflictError, NotAllowed
from headway.audit.models import AuditEntry
from headway.goals.models import Goal
from headway.goals.services import goal_update
from headway.kpis.models import Kpi, TargetVersion
from headway.kpis.services import kpi_create, kpi_update, target_revise
from tests.app.conftest import Organisation


def conversion() -> Kpi:
    return Kpi.objects.get(key="conversion")


def test_a_manager_edits_a_kpi_of_their_team_and_it_is_audited(org: Organisation) -> None:
    rows = AuditEntry.objects.count()
    kpi = kpi_update(kpi=conversion(), by=org.manager, name="Lead conversion")
    assert kpi.name == "Lead conversion"
    assert kpi.version == 2
    entry = AuditEntry.objects.order_by("-pk").first()
    assert entry is not None
    assert AuditEntry.objects.count() == rows + 1
    assert (entry.action, entry.actor_label) == ("kpi.update", "nora@example.com")
    assert entry.before is not None
    assert entry.before["name"] == "Conversion"
    assert entry.after is not None
    assert entry.after["name"] == "Lead conversion"


def test_a_manager_cannot_edit_another_teams_kpi(org: Organisation) -> None:
    with pytest.raises(NotAllowed):
        kpi_update(kpi=Kpi.objects.get(key="revenue"), by=org.manager, name="Mine now")


@pytest.mark.parametrize("who", ["member", "viewer"])
def test_members_and_viewers_cannot_edit_kpis_or_targets(org: Organisation, who: str) -> None:
    person = getattr(org, who)
    with pytest.raises(NotAllowed):
        kpi_update(kpi=conversion(), by=person, name="x")
    with pytest.raises(NotAllowed):
        target_revise(kpi=conversion(), by=person, effective_from="2026-07", value=1, reason="x")
    assert conversion().name == "Conversion"


def test_an_edit_from_a_stale_version_is_a_conflict(org: Organisation) -> None:
    kpi_update(kpi=conversion(), by=org.manager, expected_version=1, name="First")
    with pytest.raises(ConflictError):
        kpi_update(kpi=conversion(), by=org.admin, expected_version=1, name="Second")
    assert conversion().name == "First"


def test_a_target_revision_needs_a_reason(org: Organisation) -> None:
    with pytest.raises(ValidationError):
        target_revise(
            kpi=conversion(), by=org.manager, effective_from="2026-07", value=1, reason=" "
        )


def test_a_target_revision_appends_a_version_and_keeps_the_old(org: Organisation) -> None:
    before = list(TargetVersion.objects.order_by("pk").values_list("pk", "value"))
    target = target_revise(
        kpi=conversion(),
        by=org.manager,
        effective_from="2026-Q3",
        value="0.4",
        reason="Out of reach",
    )
    assert (target.effective_from, target.effective_start.isoformat()) == ("2026-Q3", "2026-07-01")
    assert target.value == Decimal("0.4")
    after = list(TargetVersion.objects.order_by("pk").values_list("pk", "value"))
    assert after == [*before, (target.pk, Decimal("0.4"))]


def test_a_bad_period_label_is_refused(org: Organisation) -> None:
    with pytest.raises(ValidationError):
        target_revise(kpi=conversion(), by=org.admin, effective_from="2026-13", value=1, reason="x")


def test_a_kpi_with_an_unknown_measure_is_refused_and_nothing_is_created(
    org: Organisation,
) -> None:
    with pytest.raises(ValidationError, match="unknown measure 'wins'"):
        kpi_create(
            by=org.admin,
            key="win_rate",
            name="Win rate",
            formula="wins / leads",
            unit="percent",
            grain="month",
        )
    with pytest.raises(ValidationError, match="function calls are not allowed"):
        kpi_create(
            by=org.admin,
            key="evil",
            name="Evil",
            formula="__import__('os')",
            unit="number",
            grain="month",
        )
    assert not Kpi.objects.filter(key__in=["win_rate", "evil"]).exists()


def test_a_manager_creates_kpis_only_for_their_teams(org: Organisation) -> None:
    kpi = kpi_create(
        by=org.manager,
        key="north_leads",
        name="North leads",
        formula="leads",
        unit="count",
        grain="month",
        team=org.north,
        goals=[(Goal.objects.get(key="convert"), Decimal("0.5"))],
    )
    assert list(kpi.goal_links.values_list("goal__key", "weight")) == [("convert", Decimal("0.5"))]
    with pytest.raises(NotAllowed):
        kpi_create(
            by=org.manager,
            key="south_leads",
            name="South leads",
            formula="leads",
            unit="count",
            grain="month",
            team=org.south,
        )


def test_a_goal_cannot_be_put_inside_itself(org: Organisation) -> None:
    grow = Goal.objects.get(key="grow")
    with pytest.raises(ValidationError):
        goal_update(goal=grow, by=org.admin, parent=Goal.objects.get(key="convert"))
