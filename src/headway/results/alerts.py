"""Alerts: a KPI's owner is told when the KPI turns red, or when it is forecast to miss its
target with more than a 70% chance; by e-mail, in the bell of the site (a notification),
and through the Slack or Microsoft Teams incoming webhooks of the KPI's team and of the
whole organisation.

At most one alert per KPI and period: the alert's row (unique on KPI and period) is
written before anything is sent, so two workers checking at once send it once. A failed
delivery (the mail server down, a webhook refused) is recorded on the row, not retried:
the next period brings the next alert, and the KPI page shows the status anyway.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from headway.accounts.models import Organization, User
from headway.audit.services import audit_record
from headway.ingestion.credentials import decrypt_secrets, encrypt_secrets
from headway.kpis.choices import EntryKind
from headway.kpis.models import Kpi
from headway.lib import paths
from headway.lib.http import HttpError, SafeHttpClient
from headway.notifications.models import Kind
from headway.notifications.services import notify
from headway.results.choices import Status
from headway.results.manual import organization_today
from headway.results.models import AlertChannel, AlertSent, Result

logger = logging.getLogger("headway.results")

# Alert when the chance of meeting the target is below this (a miss is more than 70% likely).
MEETING_CHANCE_BELOW = 0.30

MissChance = Callable[[Kpi, str], float | None]
"""The probability that a KPI meets its target in a period (None: no forecast)."""


@dataclass(frozen=True)
class Due:
    kpi: Kpi
    result: Result
    reason: str
    chance: float | None = None


def forecast_chance(kpi: Kpi, period: str) -> float | None:
    """The analysis's probability of meeting the target (it imports statsforecast)."""
    from headway.results.analysis import analyse_kpi

    analysis = analyse_kpi(kpi, period)
    return analysis.forecast.probability if analysis.forecast is not None else None


def alert_channel_create(
    *, kind: str, label: str, url: str, team_id: int | None, by: User | None
) -> AlertChannel:
    """Adds a webhook for alerts (admins); the URL is checked against the outbound rules
    now (a public https address, or one allowed in HEADWAY_HTTP_ALLOW) and kept encrypted."""
    from headway.accounts.permissions import is_admin
    from headway.audit.errors import NotAllowed

    if by is not None and not is_admin(by):
        raise NotAllowed("only admins may add alert channels")
    SafeHttpClient(allow=list(settings.HEADWAY_HTTP_ALLOW)).check_url(url)
    with transaction.atomic():
        channel = AlertChannel.objects.create(
            kind=kind, label=label, team_id=team_id, url_encrypted=encrypt_secrets({"url": url})
        )
        audit_record(
            actor=by,
            action="alert_channel.create",
            target=channel,
            after={"kind": kind, "label": label, "team": team_id},
        )
    return channel


def _latest_results(kpis: list[Kpi], today: datetime.date) -> dict[int, Result]:
    latest: dict[int, Result] = {}
    for result in Result.objects.filter(
        kpi__in=kpis, group_dimension="", period_start__lte=today
    ).order_by("kpi_id", "period_start"):
        latest[result.kpi_id] = result
    return latest


def due_alerts(
    *, kpi_keys: Iterable[str] | None = None, chance: MissChance | None = None
) -> list[Due]:
    """The alerts due now: each active KPI's latest period (up to today) that is red, or,
    with `chance`, forecast to be met with less than a 30% chance; not yet alerted."""
    kpis = Kpi.objects.filter(is_active=True).select_related("owner", "team")
    if kpi_keys is not None:
        kpis = kpis.filter(key__in=list(kpi_keys))
    listed = list(kpis)
    latest = _latest_results(listed, organization_today())
    sent = set(AlertSent.objects.filter(kpi__in=listed).values_list("kpi_id", "period"))
    due = []
    for kpi in listed:
        result = latest.get(kpi.pk)
        if result is None or (kpi.pk, result.period) in sent:
            continue
        if result.status == Status.RED:
            due.append(Due(kpi, result, AlertSent.Reason.RED))
        elif chance is not None and kpi.entry == EntryKind.FORMULA and result.target is not None:
            probability = chance(kpi, result.period)
            if probability is not None and probability < MEETING_CHANCE_BELOW:
                due.append(Due(kpi, result, AlertSent.Reason.FORECAST, probability))
    return due


def _language(person: User | None, organization: Organization) -> str:
    if person is not None and person.language:
        return person.language
    return organization.language or settings.LANGUAGE_CODE


def _message(due: Due, language: str) -> tuple[str, str]:
    with translation.override(language):
        values = {"kpi": due.kpi.name, "period": due.result.period}
        if due.reason == AlertSent.Reason.RED:
            subject = _("Headway: %(kpi)s is off track in %(period)s") % values
            body = _(
                "%(kpi)s is off track in %(period)s: %(value)s against a target of %(target)s."
            ) % {
                **values,
                "value": _plain(due.result.value),
                "target": _plain(due.result.target),
            }
        else:
            subject = _("Headway: %(kpi)s is likely to miss its target in %(period)s") % values
            body = _(
                "%(kpi)s is forecast to miss its target in %(period)s: the chance of meeting it "
                "is %(chance)s%%."
            ) % {**values, "chance": round((due.chance or 0) * 100)}
        return subject, body


def _plain(value: object) -> str:
    if value is None:
        return "—"
    text = format(value, "f") if not isinstance(value, str) else value
    return text.rstrip("0").rstrip(".") if "." in text else text


def post_to_channel(client: SafeHttpClient, channel: AlertChannel, text: str) -> None:
    """Posts `text` to a Slack or Teams incoming webhook in the payload each expects;
    raises HttpError when it cannot be delivered (refused, unreachable, unsafe)."""
    url = decrypt_secrets(channel.url_encrypted)["url"]
    if channel.kind == AlertChannel.Kind.SLACK:
        payload: dict[str, object] = {"text": text}
    else:
        # An Office 365 connector card: what Teams' incoming webhooks take.
        payload = {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": text[:150],
            "text": text,
        }
    response = client.post(url, json=payload)
    if not 200 <= response.status < 300:
        raise HttpError(f"the webhook answered {response.status}", url=response.url)


def _notify_owner(due: Due) -> None:
    """The owner's bell shows it too (once per KPI and period, whichever the reason)."""
    if due.kpi.owner is None:
        return
    notify(
        people=[due.kpi.owner],
        kind=Kind.KPI_RED,
        text=lambda: _message(due, translation.get_language() or settings.LANGUAGE_CODE)[1],
        url=paths.kpi_path(due.kpi.key),
        dedupe_key=f"kpi_red:{due.kpi.key}:{due.result.period}",
    )


def send_alerts(
    *,
    kpi_keys: Iterable[str] | None = None,
    chance: MissChance | None = None,
    client: SafeHttpClient | None = None,
) -> list[AlertSent]:
    """Sends the alerts that are due (see due_alerts); returns those sent."""
    organization = Organization.current()
    client = client or SafeHttpClient(allow=list(settings.HEADWAY_HTTP_ALLOW), timeout=15)
    sent = []
    for due in due_alerts(kpi_keys=kpi_keys, chance=chance):
        owner = due.kpi.owner
        subject, body = _message(due, _language(owner, organization))
        try:
            with transaction.atomic():
                alert = AlertSent.objects.create(
                    kpi=due.kpi,
                    period=due.result.period,
                    reason=due.reason,
                    message=body,
                    sent_at=timezone.now(),
                )
                audit_record(
                    actor=None,
                    action="kpi.alert",
                    target=due.kpi,
                    after={"period": due.result.period, "reason": due.reason},
                )
        except IntegrityError:
            continue  # another worker alerted this KPI and period a moment ago
        _notify_owner(due)
        delivered, failed = [], []
        if owner is not None and owner.email and owner.is_active:
            try:
                send_mail(subject, body, None, [owner.email])
                delivered.append(f"mail:{owner.email}")
            except OSError as error:
                logger.warning("alert mail to %s failed: %s", owner.email, error)
                failed.append(f"mail:{owner.email}")
        channels = AlertChannel.objects.filter(is_active=True, team__isnull=True)
        if due.kpi.team_id is not None:
            channels = channels | AlertChannel.objects.filter(is_active=True, team=due.kpi.team_id)
        _, shared = _message(due, _language(None, organization))
        for channel in channels:
            try:
                post_to_channel(client, channel, shared)
                delivered.append(f"{channel.kind}:{channel.label}")
            except HttpError as error:
                logger.warning("alert to %s failed: %s", channel.label, error)
                failed.append(f"{channel.kind}:{channel.label}")
        AlertSent.objects.filter(pk=alert.pk).update(delivered=delivered, failed=failed)
        alert.delivered, alert.failed = delivered, failed
        sent.append(alert)
    return sent
