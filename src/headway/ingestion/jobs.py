"""What the worker does for ingestion: run queued syncs, queue due ones, report staleness."""

from __future__ import annotations

import datetime

from headway.ingestion.freshness import notify_stale
from headway.ingestion.models import ImportStatus, Source
from headway.ingestion.syncs import schedule_due_syncs, source_sync
from headway.jobs.worker import JobContext, JobFailed


def run_sync(context: JobContext) -> None:
    source = Source.objects.filter(pk=context.job.payload.get("source")).first()
    if source is None:
        raise JobFailed("the source no longer exists")
    if not source.is_active:
        return
    synced = source_sync(source=source, by=context.job.requested_by, keep_alive=context.renew)
    if synced.run.status != ImportStatus.SUCCEEDED:
        raise JobFailed(synced.run.error or "the sync failed", retry=synced.retry)


def schedule_syncs(now: datetime.datetime) -> None:
    schedule_due_syncs(now)


def report_stale(now: datetime.datetime) -> None:
    notify_stale(now)
