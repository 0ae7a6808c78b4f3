"""Imports into the warehouse: their history, their rejected rows and each table's schema."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from headway.kpis.models import Dataset


class ImportStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    # The process stopped (killed, crashed, power cut) before the import finished; the
    # next import of the dataset finds it and marks it so. The table is either the old
    # or the new one, never a mix (see docs/ingestion.md).
    ABANDONED = "abandoned", _("Abandoned")


class ImportRun(models.Model):
    """One import of one file into one dataset's table: who, when, what came of it."""

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="import_runs")
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.RUNNING
    )
    source = models.CharField(_("source"), max_length=50, default="upload")
    file_name = models.CharField(_("file name"), max_length=500)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    file_bytes = models.BigIntegerField(_("file size"), default=0)
    rows_in_file = models.PositiveIntegerField(_("rows in file"), default=0)
    added = models.PositiveIntegerField(_("added"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    schema_changes = models.JSONField(_("schema changes"), default=list, blank=True)
    # The earliest and latest time of the rows the import added, changed or replaced:
    # the periods to recompute. Both empty with rows changed: recompute everything.
    touched_from = models.DateTimeField(_("earliest time touched"), null=True, blank=True)
    touched_to = models.DateTimeField(_("latest time touched"), null=True, blank=True)
    # Rows read so far, for the live status of a long import.
    progress = models.CharField(_("progress"), max_length=200, blank=True)
    error = models.TextField(_("error"), blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-started_at", "-pk"]
        verbose_name = _("import")
        indexes = [models.Index(fields=["dataset", "status"], name="import_dataset_status")]

    def __str__(self) -> str:
        return f"{self.dataset.key} ← {self.file_name} ({self.status})"

    @property
    def duration(self) -> datetime.timedelta | None:
        if self.finished_at is None:
            return None
        return self.finished_at - self.started_at


class RejectedRow(models.Model):
    """A value an import refused, where it is in the file and why (at most 1,000 a run)."""

    import_run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="rejects")
    line = models.PositiveIntegerField(_("line or row"), null=True, blank=True)
    column = models.CharField(_("column"), max_length=200)
    value = models.TextField(_("value"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=500)

    class Meta:
        ordering = ["import_run", "line", "pk"]
        verbose_name = _("rejected row")

    def __str__(self) -> str:
        return f"{self.line}: {self.column}: {self.reason}"


class DatasetSchema(models.Model):
    """The columns and types of a dataset's warehouse table, set by its first import and
    changed only by an import that accepts a schema change."""

    dataset = models.OneToOneField(Dataset, on_delete=models.CASCADE, related_name="schema")
    columns = models.JSONField(_("columns"), default=list)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    import_run = models.ForeignKey(
        ImportRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("dataset schema")

    def __str__(self) -> str:
        return f"schema of {self.dataset.key}"


class Source(models.Model):
    """Where a dataset's rows come from when the worker syncs them: a SQL database, a CRM
    or a REST API (the kinds in ingestion/sources/). Credentials are kept encrypted in
    `secrets` and are never shown again; `cursor` is where the last sync stopped."""

    dataset = models.OneToOneField(
        Dataset, verbose_name=_("dataset"), on_delete=models.PROTECT, related_name="source"
    )
    kind = models.CharField(_("kind"), max_length=30)
    name = models.CharField(_("name"), max_length=200)
    config = models.JSONField(_("configuration"), default=dict, blank=True)
    secrets = models.TextField(_("credentials (encrypted)"), blank=True)
    # Minutes between two syncs; empty: synced only when someone asks.
    every_minutes = models.PositiveIntegerField(_("sync every (minutes)"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    cursor = models.TextField(_("cursor"), blank=True)
    next_sync_at = models.DateTimeField(_("next sync"), null=True, blank=True)
    last_sync_at = models.DateTimeField(_("last sync"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("last successful sync"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    # A person's decision to take the schema change the last sync reported, on the next.
    accept_schema_change = models.BooleanField(_("accept the schema change"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["name"]
        verbose_name = _("source")

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class StaleNotice(models.Model):
    """That the owners were told a dataset's data is too old: once per refresh, so one
    late dataset is one message, not one per worker round."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="stale_notices")
    # The refresh the data was stuck at (None: never imported).
    refreshed_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField()
    recipients = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-notified_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["dataset", "refreshed_at"], name="one_stale_notice_per_refresh"
            )
        ]

    def __str__(self) -> str:
        return f"{self.dataset.key} stale since {self.refreshed_at}"
