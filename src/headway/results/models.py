"""Computed values of KPIs, with the inputs and freshness that explain them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from headway.kpis.models import Kpi
from headway.results.choices import ManualStatus, Status


class Result(models.Model):
    """A KPI's value for one period and group (the total when group is empty)."""

    kpi = models.ForeignKey(Kpi, on_delete=models.CASCADE, related_name="results")
    period = models.CharField(_("period"), max_length=10)
    period_start = models.DateField(_("period start"))
    group_dimension = models.CharField(_("dimension"), max_length=200, blank=True)
    group_value = models.CharField(_("group"), max_length=200, blank=True)
    value = models.DecimalField(_("value"), max_digits=30, decimal_places=10, null=True)
    target = models.DecimalField(_("target"), max_digits=30, decimal_places=10, null=True)
    attainment = models.DecimalField(_("attainment"), max_digits=30, decimal_places=10, null=True)
    status = models.CharField(_("status"), max_length=5, choices=Status.choices)
    measures = models.JSONField(_("measure values"), default=dict)
    computed_at = models.DateTimeField(_("computed at"))
    data_as_of = models.DateTimeField(_("data as of"), null=True)

    class Meta:
        ordering = ["kpi", "period_start", "group_dimension", "group_value"]
        constraints = [
            models.UniqueConstraint(
                fields=["kpi", "period_start", "group_dimension", "group_value"],
                name="one_result_per_period_and_group",
            )
        ]
        indexes = [models.Index(fields=["kpi", "group_dimension", "period_start"])]

    def __str__(self) -> str:
        return f"{self.kpi.key} {self.period} {self.group_value or 'total'}"


class ManualValue(models.Model):
    """A value of a KPI entered by hand for one period (the organisation's total).

    Entries are never overwritten: a new entry for the same period supersedes the one
    before it, which stays, marked superseded, so that who entered what and when can be
    shown. Per KPI and period at most one entry is approved (the value that counts, and
    the one the period's Result is made from) and at most one is waiting for approval.
    Only the status and the decision fields of an entry ever change.
    """

    kpi = models.ForeignKey(Kpi, on_delete=models.PROTECT, related_name="manual_values")
    period = models.CharField(_("period"), max_length=10)
    period_start = models.DateField(_("period start"))
    # Empty: the period has no value (an earlier value was withdrawn).
    value = models.DecimalField(_("value"), max_digits=30, decimal_places=10, null=True)
    comment = models.TextField(_("comment"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=ManualStatus.choices)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("entered by"),
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    entered_at = models.DateTimeField(_("entered at"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)

    class Meta:
        ordering = ["kpi", "period_start", "pk"]
        verbose_name = _("value entered by hand")
        verbose_name_plural = _("values entered by hand")
        constraints = [
            models.UniqueConstraint(
                fields=["kpi", "period_start"],
                condition=models.Q(status="approved"),
                name="one_approved_manual_value_per_period",
            ),
            models.UniqueConstraint(
                fields=["kpi", "period_start"],
                condition=models.Q(status="pending"),
                name="one_pending_manual_value_per_period",
            ),
        ]
        indexes = [models.Index(fields=["kpi", "status", "period_start"])]

    def __str__(self) -> str:
        return f"{self.kpi.key} {self.period}: {self.value} ({self.status})"


class AlertChannel(models.Model):
    """Where alerts go besides the KPI owner's e-mail: a Slack or Microsoft Teams incoming
    webhook, for one team's KPIs or (no team) for every KPI. The URL is a secret (anyone
    holding it may post), so it is kept encrypted like sources' credentials."""

    class Kind(models.TextChoices):
        SLACK = "slack", "Slack"
        TEAMS = "teams", "Microsoft Teams"

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    label = models.CharField(_("name"), max_length=200)
    team = models.ForeignKey(
        "accounts.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_channels",
    )
    url_encrypted = models.TextField(_("webhook URL (encrypted)"))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["label"]
        verbose_name = _("alert channel")

    def __str__(self) -> str:
        return f"{self.label} ({self.kind})"


class AlertSent(models.Model):
    """That a KPI's owner was alerted for a period: at most one alert per KPI and period."""

    class Reason(models.TextChoices):
        RED = "red", _("Off track")
        FORECAST = "forecast", _("Forecast to miss")

    kpi = models.ForeignKey(Kpi, on_delete=models.CASCADE, related_name="alerts")
    period = models.CharField(_("period"), max_length=10)
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices)
    message = models.TextField(_("message"))
    sent_at = models.DateTimeField(_("sent at"))
    delivered = models.JSONField(_("delivered to"), default=list, blank=True)
    failed = models.JSONField(_("not delivered to"), default=list, blank=True)

    class Meta:
        ordering = ["-sent_at"]
        verbose_name = _("alert")
        constraints = [
            models.UniqueConstraint(fields=["kpi", "period"], name="one_alert_per_kpi_and_period")
        ]

    def __str__(self) -> str:
        return f"{self.kpi.key} {self.period}: {self.reason}"


class PeriodLock(models.Model):
    """A closed period: while a lock is active (not reopened), the Results and the values
    entered by hand of every KPI period lying inside the locked days stay as they are.

    Locks are never deleted or edited: a reopen fills in the reopen fields (who, when,
    why), and locking the period again makes a new lock, so the history of closing and
    reopening stays. Only the reopen fields of a lock ever change.
    """

    period = models.CharField(_("period"), max_length=10)
    grain = models.CharField(_("grain"), max_length=10)
    start = models.DateField(_("first day"))
    end = models.DateField(_("last day"))
    reason = models.TextField(_("reason"), blank=True)
    locked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("locked by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    locked_at = models.DateTimeField(_("locked at"))
    reopened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reopened by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reopened_at = models.DateTimeField(_("reopened at"), null=True, blank=True)
    reopen_reason = models.TextField(_("reason for reopening"), blank=True)

    class Meta:
        ordering = ["-start", "-locked_at", "-pk"]
        verbose_name = _("period lock")
        verbose_name_plural = _("period locks")
        constraints = [
            # At most one active lock of the same days; a reopened one may be locked again.
            models.UniqueConstraint(
                fields=["start", "end"],
                condition=models.Q(reopened_at__isnull=True),
                name="one_active_lock_per_span",
            ),
        ]
        indexes = [models.Index(fields=["reopened_at", "start"])]

    def __str__(self) -> str:
        state = "locked" if self.is_active else "reopened"
        return f"{self.period} ({state})"

    @property
    def is_active(self) -> bool:
        return self.reopened_at is None
