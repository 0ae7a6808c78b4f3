"""Team events (from proposals and workshops) in Slack and Microsoft Teams: to the team's
channels and the organisation's, in the organisation's language, in each one's payload;
a channel that fails is logged and skipped, never the caller's problem."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from headway.accounts.models import Organization
from headway.participation.webhooks import post_team_event
from headway.results.alerts import alert_channel_create
from headway.results.models import AlertChannel
from tests.app.conftest import Organisation
from tests.app.test_alerts import Hooks

pytestmark = pytest.mark.django_db


def channels(org: Organisation, hooks: Hooks) -> None:
    alert_channel_create(
        kind="slack", label="North", url=f"{hooks.url}/north", team_id=org.north.pk, by=org.admin
    )
    alert_channel_create(
        kind="teams", label="Company", url=f"{hooks.url}/company", team_id=None, by=org.admin
    )
    alert_channel_create(
        kind="slack", label="South", url=f"{hooks.url}/south", team_id=org.south.pk, by=org.admin
    )


def test_an_event_goes_to_the_teams_channels_and_the_companys_in_their_payloads(
    org: Organisation, hooks: Hooks
) -> None:
    channels(org, hooks)

    posted = post_team_event(
        team=org.north, text_en="Mark proposed a new target", text_zh="Mark 提議新的目標"
    )

    assert posted.delivered == ["teams:Company", "slack:North"]
    assert posted.failed == []
    bodies = dict(hooks.bodies)
    assert sorted(bodies) == ["/company", "/north"]
    assert bodies["/north"] == {"text": "Mark proposed a new target"}
    assert bodies["/company"] == {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": "Mark proposed a new target",
        "text": "Mark proposed a new target",
    }


def test_an_event_is_written_in_the_organisations_language_with_a_link(
    org: Organisation, hooks: Hooks, settings: Any
) -> None:
    settings.HEADWAY_SITE_URL = "https://headway.example.com"
    organization = Organization.current()
    organization.language = "zh-hant"
    organization.save()
    channels(org, hooks)

    post_team_event(
        team=org.south, text_en="A workshop is planned", text_zh="已安排工作坊", url="/me/"
    )

    bodies = dict(hooks.bodies)
    assert bodies["/south"]["text"] == "已安排工作坊\nhttps://headway.example.com/me/"


def test_an_event_of_no_team_goes_to_the_companys_channels_only(
    org: Organisation, hooks: Hooks
) -> None:
    channels(org, hooks)

    posted = post_team_event(team=None, text_en="Everyone", text_zh="大家")

    assert posted.delivered == ["teams:Company"]
    assert [path for path, _body in hooks.bodies] == ["/company"]


def test_channels_switched_off_are_left_out(org: Organisation, hooks: Hooks) -> None:
    channels(org, hooks)
    AlertChannel.objects.filter(label="Company").update(is_active=False)

    posted = post_team_event(team=org.north, text_en="Hello", text_zh="你好")

    assert posted.delivered == ["slack:North"]


def test_a_channel_that_fails_is_logged_and_the_others_still_get_the_event(
    org: Organisation, hooks: Hooks, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    channels(org, hooks)
    refusing = Hooks()
    refusing.status = 500
    alert_channel_create(
        kind="slack", label="Broken", url=f"{refusing.url}/x", team_id=None, by=org.admin
    )
    alert_channel_create(
        kind="slack", label="Gone", url="http://127.0.0.1:9/nobody", team_id=None, by=org.admin
    )
    try:
        with caplog.at_level(logging.WARNING, logger="headway.participation"):
            posted = post_team_event(team=org.north, text_en="Still here", text_zh="仍在")
    finally:
        refusing.server.shutdown()

    assert posted.delivered == ["teams:Company", "slack:North"]
    assert posted.failed == ["slack:Broken", "slack:Gone"]
    assert "slack:Broken" in caplog.text
    assert "slack:Gone" in caplog.text


def test_a_channel_that_became_an_internal_address_is_refused_quietly(
    org: Organisation, hooks: Hooks, settings: Any
) -> None:
    channels(org, hooks)
    settings.HEADWAY_HTTP_ALLOW = []  # 127.0.0.1 is no longer allowed

    posted = post_team_event(team=org.north, text_en="Hello", text_zh="你好")

    assert posted.delivered == []
    assert posted.failed == ["teams:Company", "slack:North"]
    assert hooks.bodies == []
