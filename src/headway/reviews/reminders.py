"""What the worker does for reviews: open the cycle of each period ahead of time, and
remind KPI owners to comment on their KPIs before a meeting (once per meeting)."""

from __future__ import annotations

import datetime
import logging
import time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from headway.accounts.models import Organization, User
from headway.audit.services import audit_record
from headway.kpis.models import Kpi
from headway.results.manual import organization_today
from headway.reviews.models import Meeting, ReminderSent
from headway.reviews.selectors import due_reminders, missing_comments
from headway.reviews.services import ensure_cycle

logger = logging.getLogger("headway.reviews")

# The worker calls schedulers every few seconds; these look at most this often (seconds).
CHECK_EVERY = 600
_last_check = float("-inf")


def _language(person: User) -> str:
    return person.language or Organization.current().language or settings.LANGUAGE_CODE


def _message(person: User, meeting: Meeting, kpis: list[Kpi]) -> tuple[str, str]:
    with translation.override(_language(person)):
        when = meeting.scheduled_at.astimezone(ZoneInfo(Organization.current().timezone))
        subject = _("Headway: please comment on your KPIs before %(meeting)s") % {
            "meeting": meeting.title
        }
        lines = [
            _("%(meeting)s meets on %(when)s. Before it, please comment on these KPIs:")
            % {"meeting": meeting.title, "when": when.strftime("%Y-%m-%d %H:%M")},
            "",
            *[f"- {kpi.name} ({kpi.key})" for kpi in kpis],
            "",
            _("Your comment is shown in the pre-read pack next to each KPI's numbers."),
        ]
        site = getattr(settings, "HEADWAY_SITE_URL", "")
        if site:
            lines += ["", f"{site.rstrip('/')}/reviews/meetings/{meeting.pk}/"]
        return subject, "\n".join(lines)


def send_comment_reminders(today: datetime.date | None = None) -> int:
    """E-mails each owner with KPIs still uncommented on a meeting whose reminder day has
    come; returns how many people were reminded."""
    today = today or organization_today()
    reminded = 0
    for meeting in due_reminders(today):
        by_owner: dict[int, tuple[User, list[Kpi]]] = {}
        for missing in missing_comments(meeting):
            owner = missing.owner
            if owner is None or not owner.is_active or not owner.email:
                continue
            by_owner.setdefault(owner.pk, (owner, []))[1].append(missing.kpi)
        for owner, kpis in by_owner.values():
            try:
                with transaction.atomic():
                    ReminderSent.objects.create(
                        meeting=meeting, person=owner, sent_at=datetime.datetime.now(datetime.UTC)
                    )
                    audit_record(
                        actor=None,
                        action="review.reminder.send",
                        target=meeting,
                        after={"person": owner.email, "kpis": [kpi.key for kpi in kpis]},
                    )
            except IntegrityError:
                continue  # reminded before (or by another worker just now)
            subject, body = _message(owner, meeting, kpis)
            try:
                send_mail(subject, body, None, [owner.email])
            except OSError:
                logger.exception("could not remind %s about %s", owner.email, meeting.title)
            reminded += 1
    return reminded


def run_review_schedule(now: datetime.datetime) -> None:
    """The worker's scheduler: opens cycles and sends reminders, every ten minutes."""
    global _last_check
    if time.monotonic() - _last_check < CHECK_EVERY:
        return
    _last_check = time.monotonic()
    today = organization_today()
    ensure_cycle(today)
    send_comment_reminders(today)
