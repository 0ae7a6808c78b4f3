"""`headway apply` and `headway export`: by keys, idempotent, targets appended."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from headway.audit.models import AuditEntry
from headway.engine.workspace import load_workspace, workspace_from_data
from headway.kpis.models import Kpi, TargetVersion
from headway.kpis.workspace_io import apply_plan, plan_apply, workspace_data
from tests.app.conftest import WORKSPACE, Organisation, write_workspace
from tests.conftest import run_headway


def test_applying_the_same_workspace_again_changes_nothing(org: Organisation) -> None:
    plan = plan_apply(load_workspace(org.workspace))
    assert plan.changes == []


def test_a_changed_target_becomes_a_new_version_and_the_old_one_stays(
    org: Organisation,
) -> None:
    changed = WORKSPACE.replace(
        "      - {from: 2026-01, value: 0.5}",
        "      - {from: 2026-01, value: 0.45, reason: Lowered at the Q1 review}",
    )
    path = write_workspace(org.folder, changed)
    plan = plan_apply(load_workspace(path))
    assert [str(change) for change in plan.changes] == [
        "+ target of conversion 2026-01: 0.5 → 0.45"
    ]
    before = TargetVersion.objects.count()
    apply_plan(plan, by=org.admin)
    assert TargetVersion.objects.count() == before + 1
    values = list(
        TargetVersion.objects.filter(kpi__key="conversion", where_dimension="")
        .order_by("pk")
        .values_list("value", "reason", "decided_by__email")
    )
    assert values == [
        (Decimal("0.5"), "", None),
        (Decimal("0.45"), "Lowered at the Q1 review", "admin@example.com"),
    ]
    assert plan_apply(load_workspace(path)).changes == []


def test_a_kpi_left_out_of_the_file_is_retired_not_deleted(org: Organisation) -> None:
    without_revenue = WORKSPACE.split("  - key: revenue")[0]
    plan = plan_apply(load_workspace(write_workspace(org.folder, without_revenue)))
    assert [str(change) for change in plan.removals] == [
        "- KPI revenue: Revenue (retired; its history is kept)"
    ]
    apply_plan(plan, by=org.admin)
    revenue = Kpi.objects.get(key="revenue")
    assert not revenue.is_active
    assert revenue.targets.count() == 1


def test_an_export_applied_again_changes_nothing(org: Organisation, tmp_path: Path) -> None:
    export = tmp_path / "export" / "headway.yaml"
    export.parent.mkdir()
    data = workspace_data(base_dir=export.parent)
    workspace = workspace_from_data(data, export)
    assert plan_apply(workspace).changes == []


def test_a_failed_apply_changes_nothing(org: Organisation) -> None:
    changed = WORKSPACE.replace("name: Conversion", "name: Conversion rate")
    plan = plan_apply(load_workspace(write_workspace(org.folder, changed)))
    audit_rows = AuditEntry.objects.count()

    def explode(by: object) -> None:
        raise RuntimeError("disk full")

    plan.steps.append(explode)
    with pytest.raises(RuntimeError):
        apply_plan(plan, by=org.admin)
    assert Kpi.objects.get(key="conversion").name == "Conversion"
    assert AuditEntry.objects.count() == audit_rows


def test_apply_on_the_command_line_asks_before_removing(
    org: Organisation, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.conf import settings

    monkeypatch.setenv("HEADWAY_DATA_DIR", str(settings.DATA_DIR))
    without_revenue = WORKSPACE.split("  - key: revenue")[0]
    path = write_workspace(org.folder, without_revenue)
    dry = run_headway("apply", path, "--dry-run")
    assert dry.exit_code == 0, dry
    assert "- KPI revenue" in dry.stdout
    assert "Dry run" in dry.stdout
    refused = run_headway("apply", path)
    assert refused.exit_code == 2
    assert "--yes" in refused.stderr
    assert Kpi.objects.get(key="revenue").is_active
    done = run_headway("apply", path, "--yes")
    assert done.exit_code == 0, done
    assert not Kpi.objects.get(key="revenue").is_active


def test_a_files_own_history_of_one_period_is_kept_in_order(org: Organisation) -> None:
    revised = WORKSPACE.replace(
        "      - {from: 2026-01, value: 0.5}",
        "      - {from: 2026-01, value: 0.5}\n"
        "      - {from: 2026-01, value: 0.45, reason: Revised in January}",
    )
    path = write_workspace(org.folder, revised)
    apply_plan(plan_apply(load_workspace(path)), by=org.admin)
    values = list(
        TargetVersion.objects.filter(kpi__key="conversion", where_dimension="")
        .order_by("pk")
        .values_list("value", flat=True)
    )
    assert values == [Decimal("0.5"), Decimal("0.45")]
    assert plan_apply(load_workspace(path)).changes == []
    exported = workspace_data(base_dir=org.folder)
    entries = [t for t in exported["kpis"][0]["targets"] if "where" not in t]
    assert [t["value"] for t in entries] == [0.5, 0.45]


def test_import_on_the_command_line_loads_a_file_and_names_bad_rows(
    org: Organisation, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from django.conf import settings

    monkeypatch.setenv("HEADWAY_DATA_DIR", str(settings.DATA_DIR))
    good = tmp_path / "more-leads.csv"
    good.write_text(
        "lead_id,created_at,team\n1,2026-01-05 10:00:00,north\n9,2026-03-01 08:00:00,south\n",
        encoding="utf-8",
    )
    run = run_headway("import", "leads", good)
    assert run.exit_code == 0, run
    # The warehouse table starts with its first import (the workspace's CSV is not in it).
    assert "Imported more-leads.csv into leads: 2 added" in run.stdout
    # The KPIs that read leads were recomputed from the warehouse table.
    from headway.results.models import Result

    march = Result.objects.get(kpi__key="conversion", period="2026-03", group_dimension="")
    assert march.measures["leads"] == 1
    bad = tmp_path / "bad-leads.csv"
    bad.write_text("lead_id,created_at,team\n10,someday,north\n", encoding="utf-8")
    refused = run_headway("import", "leads", bad)
    assert refused.exit_code == 2
    assert "bad-leads.csv:2: created_at" in refused.stderr


def test_apply_leaves_an_imported_dataset_on_its_warehouse_table(
    org: Organisation, tmp_path: Path
) -> None:
    from headway.ingestion.services import import_file
    from headway.kpis.models import Dataset

    leads = Dataset.objects.get(key="leads")
    import_file(dataset=leads, path=org.folder / "leads.csv", by=org.admin)
    leads.refresh_from_db()
    imported = leads.file
    assert imported.endswith("leads.parquet")
    plan = plan_apply(load_workspace(org.workspace))
    assert plan.changes == []
    assert any("reads its imported table" in note for note in plan.notes)
    apply_plan(plan, by=org.admin)
    leads.refresh_from_db()
    assert leads.file == imported
