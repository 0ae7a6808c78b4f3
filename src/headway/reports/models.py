"""Who receives the monthly report, and the reports as they were sent."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from headway.accounts.choices import Language
from headway.accounts.models import Team


class ReportSubscription(models.Model):
    """A person receives the company's report (no team) or a team's, in a language."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_subscriptions"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="report_subscriptions"
    )
    language = models.CharField(_("language"), max_length=10, choices=Language.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("report subscription")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "team"], name="one_subscription_per_team_report"
            ),
            models.UniqueConstraint(
                fields=["user"], condition=Q(team__isnull=True), name="one_company_subscription"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ← {self.team or 'company'} ({self.language})"


class SentReport(models.Model):
    """A report as it was made and sent: kept unchanged, whatever the results become."""

    period = models.CharField(_("period"), max_length=10)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="sent_reports"
    )
    language = models.CharField(_("language"), max_length=10, choices=Language.choices)
    made_at = models.DateTimeField(_("made at"))
    html = models.TextField()
    pdf = models.BinaryField()
    xlsx = models.BinaryField()
    recipients = models.JSONField(_("sent to"), default=list, blank=True)
    failed = models.JSONField(_("not delivered to"), default=list, blank=True)

    class Meta:
        ordering = ["-period", "team", "language"]
        verbose_name = _("sent report")
        constraints = [
            models.UniqueConstraint(
                fields=["period", "team", "language"], name="one_sent_report_per_scope"
            ),
            models.UniqueConstraint(
                fields=["period", "language"],
                condition=Q(team__isnull=True),
                name="one_sent_company_report",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.period} {self.team or 'company'} ({self.language})"
