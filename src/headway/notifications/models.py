"""In-app notifications and how each person wants them e-mailed.

Low in the layers (just above accounts) so that every part of Headway may notify: results
(a KPI turned red), reviews (a meeting needs your comment), participation (mentions,
replies, proposals). The text is written in the recipient's language when it is made.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    MENTION = "mention", _("Mentions of me")
    REPLY = "reply", _("Replies to me")
    PROPOSAL = "proposal", _("My proposals")
    REVIEW = "review", _("Reviews that need me")
    KPI_RED = "kpi_red", _("My KPIs off track")
    WORKSHOP = "workshop", _("Workshops")


class Notification(models.Model):
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    text = models.CharField(_("text"), max_length=500)
    url = models.CharField(_("link"), max_length=500, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Makes a notification once only (e.g. "kpi_red:conversion:2026-03").
    dedupe_key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    mailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["person", "read_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "dedupe_key"],
                condition=~models.Q(dedupe_key=""),
                name="one_notification_per_key",
            )
        ]

    def __str__(self) -> str:
        return self.text


class Digest(models.TextChoices):
    NONE = "none", _("No e-mail")
    DAILY = "daily", _("A daily e-mail")
    WEEKLY = "weekly", _("A weekly e-mail")


class NotificationSettings(models.Model):
    """How a person wants notifications e-mailed (the bell shows them all either way)."""

    person = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    digest = models.CharField(
        _("e-mail digest"), max_length=10, choices=Digest.choices, default=Digest.DAILY
    )
    last_digest_at = models.DateTimeField(_("last digest"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("notification settings")
