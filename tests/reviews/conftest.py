"""A review of the small test organisation (tests/app/conftest.py): a cycle for 2026-Q1,
a meeting chaired by the admin with the north team's manager and member."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.utils import timezone

from headway.results.services import results_recompute
from headway.reviews.models import Meeting, ReviewCycle
from headway.reviews.services import cycle_create, meeting_create
from tests.app.conftest import Organisation, build_organisation

TODAY = datetime.date(2026, 4, 10)


@pytest.fixture
def org(db: None, tmp_path: Path) -> Organisation:
    organisation = build_organisation(tmp_path)
    results_recompute(by=None)
    return organisation


@pytest.fixture
def cycle(org: Organisation) -> ReviewCycle:
    return cycle_create(by=org.admin, period="2026-Q1")


@pytest.fixture
def meeting(org: Organisation, cycle: ReviewCycle) -> Meeting:
    return meeting_create(
        by=org.admin,
        cycle=cycle,
        title="2026-Q1 review",
        scheduled_at=timezone.make_aware(datetime.datetime(2026, 4, 15, 10, 0)),
        chair=org.admin,
        participants=[org.manager, org.member, org.other_manager],
    )
