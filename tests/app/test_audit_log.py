"""The audit log and target versions are append-only, enforced by the database itself."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from headway.audit.models import AuditEntry
from headway.kpis.models import TargetVersion
from tests.app.conftest import Organisation


def test_applying_a_workspace_writes_audit_rows(org: Organisation) -> None:
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"team.create", "person.create", "kpi.create", "target.create"} <= actions


def test_the_database_refuses_to_update_an_audit_row(org: Organisation) -> None:
    entry = AuditEntry.objects.first()
    assert entry is not None
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.filter(pk=entry.pk).update(action="forged")


def test_the_database_refuses_to_delete_an_audit_row(org: Organisation) -> None:
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditentry")
    assert AuditEntry.objects.exists()


def test_the_database_refuses_to_change_a_target_version(org: Organisation) -> None:
    target = TargetVersion.objects.first()
    assert target is not None
    with pytest.raises(DatabaseError), transaction.atomic():
        TargetVersion.objects.filter(pk=target.pk).update(value=0)
    target.refresh_from_db()
    assert target.value != 0


def test_the_database_refuses_to_delete_a_target_version(org: Organisation) -> None:
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM kpis_targetversion")
    assert TargetVersion.objects.exists()


def test_recomputing_an_unknown_kpi_is_bad_input(org: Organisation) -> None:
    from headway.engine.problems import HeadwayError
    from headway.results.services import results_recompute

    with pytest.raises(HeadwayError, match="'nope'"):
        results_recompute(by=None, kpi_keys=("nope",))
