"""The small organisation of tests/app/conftest.py, recomputed, for proposals, votes,
comments and workshops; and a colleague of mark's in team north.

The people, by role:
    org.admin           admin@example.com   an admin
    org.manager         nora@example.com    the manager of north, owner of `conversion`
    org.member          mark@example.com    a member of north
    org.viewer          vera@example.com    a viewer in north
    org.other_manager   sam@example.com     the manager of south, owner of `revenue`
    colleague           mia@example.com     another member of north
"""

from __future__ import annotations

from pathlib import Path

import pytest

from headway.accounts.models import Membership, User
from headway.audit.models import AuditEntry
from headway.results.services import results_recompute
from tests.app.conftest import Organisation, build_organisation


@pytest.fixture
def org(db: None, tmp_path: Path) -> Organisation:
    organisation = build_organisation(tmp_path)
    results_recompute(by=None)
    return organisation


@pytest.fixture
def colleague(org: Organisation) -> User:
    person = User.objects.create_user(
        email="mia@example.com", display_name="Mia Member", role="member"
    )
    Membership.objects.create(user=person, team=org.north)
    return person


def audit_rows(prefix: str = "participation.") -> list[AuditEntry]:
    """The audit rows whose action starts with `prefix`, oldest first."""
    return list(AuditEntry.objects.filter(action__startswith=prefix).order_by("pk"))
