"""A job: one piece of background work (a sync, a recompute), claimed by one worker."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)


class Job(models.Model):
    """Work for a worker. A worker claims it by setting `claimed_by` and a lease; a worker
    that dies lets the lease run out, and the job is claimed again (up to `max_attempts`)."""

    kind = models.CharField(_("kind"), max_length=50)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    # At most one queued or running job per key (e.g. "sync:12"), so that two workers
    # scheduling the same sync, or a person pressing "sync now" twice, queue it once.
    dedupe_key = models.CharField(_("de-duplication key"), max_length=200, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    max_attempts = models.PositiveIntegerField(_("most attempts"), default=3)
    run_after = models.DateTimeField(_("run after"))
    claimed_by = models.CharField(_("claimed by"), max_length=200, blank=True)
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("job")
        indexes = [models.Index(fields=["status", "run_after"], name="job_status_run_after")]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key"],
                condition=Q(status__in=["queued", "running"]) & ~Q(dedupe_key=""),
                name="one_active_job_per_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"
