"""Team events in Slack and Microsoft Teams: a proposal accepted, a workshop planned...

They go to the same incoming webhooks as the KPI alerts (`results.models.AlertChannel`):
those of the team and those of the whole organisation (no team), in the organisation's
language, with the same SSRF-safe client and the same payloads. Posting is a courtesy: a
channel that fails is logged and skipped, and nothing is raised to the caller, so a
refused webhook never undoes a proposal or a workshop. Call it once the write has
committed (`transaction.on_commit`), since it waits for each channel to answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Q

from headway.accounts.models import Organization, Team
from headway.lib.http import SafeHttpClient
from headway.results.alerts import post_to_channel
from headway.results.models import AlertChannel

logger = logging.getLogger("headway.participation")

# A webhook answers in well under a second; a person may be waiting for the page.
TIMEOUT_SECONDS = 10


@dataclass
class Posted:
    """Where an event went ("slack:Sales") and where it could not go."""

    delivered: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def team_channels(team: Team | None) -> list[AlertChannel]:
    """The active channels of the team (none: only the organisation's) and of the whole
    organisation."""
    scope = Q(team__isnull=True)
    if team is not None:
        scope |= Q(team=team)
    return list(AlertChannel.objects.filter(scope, is_active=True).order_by("label", "pk"))


def event_text(*, text_en: str, text_zh: str, url: str = "") -> str:
    """The text in the organisation's language, with a link to the site when it has an
    address (HEADWAY_SITE_URL) and `url` is a path on it."""
    language = Organization.current().language or settings.LANGUAGE_CODE
    text = text_zh if language.lower().startswith("zh") and text_zh else text_en
    site = str(getattr(settings, "HEADWAY_SITE_URL", "") or "").rstrip("/")
    if site and url.startswith("/") and not url.startswith("//"):
        text = f"{text}\n{site}{url}"
    return text


def post_team_event(
    *,
    team: Team | None,
    text_en: str,
    text_zh: str,
    url: str = "",
    client: SafeHttpClient | None = None,
) -> Posted:
    """Posts an event to the team's and the organisation's Slack and Teams channels."""
    posted = Posted()
    try:
        channels = team_channels(team)
        if not channels:
            return posted
        text = event_text(text_en=text_en, text_zh=text_zh, url=url)
        client = client or SafeHttpClient(
            allow=list(settings.HEADWAY_HTTP_ALLOW), timeout=TIMEOUT_SECONDS
        )
    except Exception:
        logger.exception("could not prepare a team event for %s", team)
        return posted
    for channel in channels:
        name = f"{channel.kind}:{channel.label}"
        try:
            post_to_channel(client, channel, text)
        except Exception as error:  # a courtesy: never the caller's problem
            logger.warning("the team event to %s failed: %s", name, error)
            posted.failed.append(name)
        else:
            posted.delivered.append(name)
    return posted
