"""Proposals are posted to their team's Slack or Teams channel, in the organisation's
language, once the change is committed."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from headway.kpis.models import Kpi
from headway.participation.proposals import proposal_accept, proposal_create
from headway.results.alerts import alert_channel_create
from tests.app.conftest import Organisation
from tests.app.test_alerts import Hooks

pytestmark = pytest.mark.django_db


@pytest.fixture
def hooks(settings: Any) -> Iterator[Hooks]:
    settings.HEADWAY_HTTP_ALLOW = ["127.0.0.1"]
    receiver = Hooks()
    yield receiver
    receiver.server.shutdown()


def test_a_proposal_and_its_acceptance_reach_the_teams_channel_but_not_other_teams(
    org: Organisation, hooks: Hooks, django_capture_on_commit_callbacks: Any
) -> None:
    alert_channel_create(
        kind="slack", label="North", url=f"{hooks.url}/north", team_id=org.north.pk, by=org.admin
    )
    alert_channel_create(
        kind="slack", label="South", url=f"{hooks.url}/south", team_id=org.south.pk, by=org.admin
    )
    with django_capture_on_commit_callbacks(execute=True):
        proposal = proposal_create(
            by=org.member,
            kind="target_change",
            title="A reachable conversion target",
            why="Half of the leads are not ours",
            kpi=Kpi.objects.get(key="conversion"),
            target_value=Decimal("0.3"),
            effective_from="2026-05",
        )
    with django_capture_on_commit_callbacks(execute=True):
        proposal_accept(proposal=proposal, by=org.manager)
    assert [path for path, _ in hooks.bodies] == ["/north", "/north"]
    texts = [body["text"] for _, body in hooks.bodies]
    assert "A reachable conversion target" in texts[0]
    assert "proposed" in texts[0]
    assert "A reachable conversion target" in texts[1]
