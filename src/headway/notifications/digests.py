"""E-mail digests: what a person's bell gathered since their last digest, in one mail.

Each person chooses a daily digest (the default), a weekly one, or none. A digest holds the
notifications not read yet and not mailed yet; a person with nothing new gets no mail, so
"daily" means at most one mail a day, sent at the first check after the day has passed.

Two workers may check at the same moment. A digest is claimed before it is sent, by a
conditional UPDATE of the person's `last_digest_at` ("... where last_digest_at is older
than a day"), which only one of them can win; the winner marks the notifications mailed in
the same transaction. A mail that cannot be sent (the mail server down) gives the claim
back, so the next check tries again.
"""

from __future__ import annotations

import datetime
import logging
import time
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from headway.accounts.models import Organization, User
from headway.notifications.models import Digest, Notification, NotificationSettings
from headway.notifications.services import language_of

logger = logging.getLogger("headway.notifications")

# How long after the last digest the next one may go, per choice.
INTERVALS: dict[str, datetime.timedelta] = {
    Digest.DAILY: datetime.timedelta(days=1),
    Digest.WEEKLY: datetime.timedelta(days=7),
}

# A digest lists at most this many notifications; the rest are counted, and on the site.
MOST_LISTED = 30

# The web pages the mail links to (the web layer is above this one: paths, not reverse()).
PAGE_PATH = "/me/notifications/"


def open_path(notification: Notification) -> str:
    """The link that marks a notification read and then opens what it is about."""
    return f"{PAGE_PATH}{notification.pk}/open/"


@dataclass(frozen=True)
class Claimed:
    """A digest one worker won the right to send: the person's notifications, now marked
    mailed, and the `last_digest_at` it replaced (to give the claim back on failure)."""

    person: User
    settings: NotificationSettings
    notifications: list[Notification]
    previous: datetime.datetime | None
    now: datetime.datetime


def due_settings(now: datetime.datetime) -> list[NotificationSettings]:
    """The settings of the active people with an e-mail address and something unread and
    not yet mailed, whose digest is due at `now` (people without settings yet get them,
    with the default, a daily digest)."""
    waiting = set(
        Notification.objects.filter(
            read_at__isnull=True,
            mailed_at__isnull=True,
            person__is_active=True,
        )
        .exclude(person__email="")
        .values_list("person_id", flat=True)
    )
    if not waiting:
        return []
    found = {
        row.person_id: row
        for row in NotificationSettings.objects.filter(person_id__in=waiting).select_related(
            "person"
        )
    }
    for person in User.objects.filter(pk__in=waiting - set(found)):
        found[person.pk], _created = NotificationSettings.objects.get_or_create(person=person)
    due = []
    for row in found.values():
        interval = INTERVALS.get(row.digest)
        if interval is None:
            continue  # no e-mail
        if row.last_digest_at is None or row.last_digest_at <= now - interval:
            due.append(row)
    return sorted(due, key=lambda row: row.person_id)


def claim_digest(row: NotificationSettings, now: datetime.datetime) -> Claimed | None:
    """Claims the person's digest at `now`, or None when it is not due (any more): another
    worker claimed it, the person changed their choice, or nothing is left to send."""
    interval = INTERVALS.get(row.digest)
    if interval is None:
        return None
    with transaction.atomic():
        current = (
            NotificationSettings.objects.filter(pk=row.pk, digest=row.digest)
            .values_list("last_digest_at", flat=True)
            .first()
        )
        won = (
            NotificationSettings.objects.filter(pk=row.pk, digest=row.digest)
            .filter(Q(last_digest_at__isnull=True) | Q(last_digest_at__lte=now - interval))
            .update(last_digest_at=now)
        )
        if not won:
            return None
        notifications = list(
            Notification.objects.select_for_update()
            .filter(person_id=row.person_id, read_at__isnull=True, mailed_at__isnull=True)
            .order_by("created_at", "pk")
        )
        if not notifications:
            transaction.set_rollback(True)
            return None
        Notification.objects.filter(
            pk__in=[notification.pk for notification in notifications], mailed_at__isnull=True
        ).update(mailed_at=now)
    actors = {
        user.pk: user
        for user in User.objects.filter(
            pk__in={item.actor_id for item in notifications if item.actor_id}
        )
    }
    for item in notifications:
        item.mailed_at = now
        if item.actor_id:
            item.actor = actors.get(item.actor_id)
    return Claimed(row.person, row, notifications, current, now)


def _release(claimed: Claimed) -> None:
    """Gives a claim back after the mail failed, unless something newer took its place."""
    with transaction.atomic():
        NotificationSettings.objects.filter(
            pk=claimed.settings.pk, last_digest_at=claimed.now
        ).update(last_digest_at=claimed.previous)
        Notification.objects.filter(
            pk__in=[item.pk for item in claimed.notifications], mailed_at=claimed.now
        ).update(mailed_at=None)


def _zone() -> datetime.tzinfo:
    try:
        return zoneinfo.ZoneInfo(Organization.current().timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return datetime.UTC


def _site() -> str:
    return str(getattr(settings, "HEADWAY_SITE_URL", "") or "").rstrip("/")


def digest_message(claimed: Claimed) -> tuple[str, str]:
    """The subject and text of a digest, in the person's language."""
    items = claimed.notifications
    site = _site()
    zone = _zone()
    with translation.override(language_of(claimed.person)):
        subject = ngettext(
            "Headway: %(count)s new notification",
            "Headway: %(count)s new notifications",
            len(items),
        ) % {"count": len(items)}
        if claimed.previous is None:
            opening = _("What is new for you in Headway:")
        else:
            opening = _("What is new for you in Headway since the last e-mail:")
        lines = [opening, ""]
        for item in items[:MOST_LISTED]:
            lines.append(f"- {item.text}")
            when = item.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
            lines.append(f"  {when} · {item.actor}" if item.actor else f"  {when}")
            if site and item.url:
                lines.append(f"  {site}{open_path(item)}")
            lines.append("")
        hidden = len(items) - MOST_LISTED
        if hidden > 0:
            lines += [
                ngettext(
                    "… and %(count)s more notification.",
                    "… and %(count)s more notifications.",
                    hidden,
                )
                % {"count": hidden},
                "",
            ]
        if site:
            lines.append(
                _("All your notifications, and how often this e-mail comes: %(url)s")
                % {"url": f"{site}{PAGE_PATH}"}
            )
        else:
            lines.append(
                _(
                    "Your notifications, and how often this e-mail comes, are on your "
                    "notifications page in Headway."
                )
            )
        return subject, "\n".join(lines)


def send_digest(row: NotificationSettings, now: datetime.datetime) -> bool:
    """Claims and mails one person's digest; True when a mail went out."""
    claimed = claim_digest(row, now)
    if claimed is None:
        return False
    subject, body = digest_message(claimed)
    try:
        send_mail(subject, body, None, [claimed.person.email])
    except OSError as error:
        logger.warning("the digest to %s failed: %s", claimed.person.email, error)
        _release(claimed)
        return False
    return True


def send_digests(now: datetime.datetime) -> int:
    """Mails every digest due at `now`, one mail per person; returns how many were sent."""
    return sum(1 for row in due_settings(now) if send_digest(row, now))


# The worker calls schedulers every few seconds; digests are looked at most this often.
CHECK_EVERY = 600
_last_check = float("-inf")


def run_digests(now: datetime.datetime) -> None:
    """The worker's scheduler: sends the digests that are due, every ten minutes."""
    global _last_check
    if time.monotonic() - _last_check < CHECK_EVERY:
        return
    _last_check = time.monotonic()
    send_digests(now)
