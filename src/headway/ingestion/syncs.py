"""Sources and their syncs: set one up, run it, schedule it.

A sync asks the source's kind for the rows changed since its cursor, writes them to an
all-text Parquet file and imports that file with `import_file`: so a synced batch has the
guarantees of an upload (checked as a whole, all or nothing, upserted by key, schema drift
reported and held for a person's decision). The cursor moves only after the import
succeeded; a sync that dies in between fetches the same rows again next time, and since
the import upserts by key, that changes nothing twice.
"""

from __future__ import annotations

import datetime
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from headway.accounts.models import User
from headway.accounts.permissions import can_create_anything, is_admin
from headway.audit.errors import NotAllowed, check_version
from headway.audit.services import audit_record, snapshot
from headway.engine.problems import HeadwayError, Problem
from headway.ingestion.credentials import SecretsUnreadable, decrypt_secrets, encrypt_secrets
from headway.ingestion.models import ImportRun, ImportStatus, Source
from headway.ingestion.services import _abandon_stale_runs, _dataset_lock, _run_finish, import_file
from headway.ingestion.sources import KINDS, kind_named
from headway.ingestion.sources.base import FetchContext, RowSink, SourceError, config_problems
from headway.ingestion.warehouse import rows_to_parquet
from headway.jobs.models import Job
from headway.jobs.services import job_enqueue
from headway.kpis.models import Dataset
from headway.lib.http import SafeHttpClient

logger = logging.getLogger("headway.ingestion")

SYNC_JOB = "ingestion.sync"
REFRESH_JOB = "results.refresh"
SYNCED_FILE = "synced.parquet"
# Fields of a source that a snapshot for the audit log may show (never the credentials).
SHOWN_FIELDS = ("dataset", "kind", "name", "config", "every_minutes", "is_active")


def fetch_context(source: Source) -> FetchContext:
    """The context a real sync runs in: the safe HTTP client with the installation's allow
    list, and the settings' timeouts."""
    client = SafeHttpClient(
        allow=list(settings.HEADWAY_HTTP_ALLOW),
        timeout=float(settings.HEADWAY_HTTP_TIMEOUT_SECONDS),
        user_agent="Headway (+https://github.com/headway-kpi)",
    )
    return FetchContext(
        http=client,
        source_name=source.name,
        statement_timeout=float(settings.HEADWAY_SQL_TIMEOUT_SECONDS),
    )


def _check_kind(kind: str, config: dict[str, Any], secrets: dict[str, Any] | None) -> None:
    """Refuses an unknown kind and every problem of the configuration, and of the
    credentials unless they are kept as stored (None)."""
    if kind not in KINDS or not KINDS[kind].syncable:
        choices = ", ".join(sorted(name for name, item in KINDS.items() if item.syncable))
        raise HeadwayError(
            Problem(f"no kind of source is named {kind!r}; use {choices}", key="kind")
        )
    found = kind_named(kind)
    problems = config_problems(found.config_model, config)
    if secrets is not None:
        problems += config_problems(found.secrets_model, secrets)
    if problems:
        raise HeadwayError([Problem(problem, key="config") for problem in problems])


def _check_schedule(every_minutes: int | None) -> None:
    if every_minutes is not None and not 5 <= every_minutes <= 60 * 24 * 31:
        raise HeadwayError(
            Problem(
                "a schedule runs every 5 minutes at the most often, every 31 days at the least",
                key="every_minutes",
            )
        )


def _shown(source: Source) -> dict[str, Any]:
    return snapshot(source, SHOWN_FIELDS)


def source_create(
    *,
    dataset: Dataset,
    kind: str,
    name: str,
    config: dict[str, Any],
    secrets: dict[str, Any],
    every_minutes: int | None,
    by: User | None,
) -> Source:
    """Sets up a source for a dataset (admins only); its first sync is queued at once."""
    if by is not None and not is_admin(by):
        raise NotAllowed("only admins may set up sources: they hold credentials to company systems")
    _check_kind(kind, config, secrets)
    _check_schedule(every_minutes)
    if not name.strip():
        raise HeadwayError(Problem("a source needs a name", key="name"))
    if Source.objects.filter(dataset=dataset).exists():
        raise HeadwayError(
            Problem(f"the dataset {dataset.key} already has a source", key="dataset")
        )
    with transaction.atomic():
        source = Source.objects.create(
            dataset=dataset,
            kind=kind,
            name=name.strip()[:200],
            config=config,
            secrets=encrypt_secrets(secrets),
            every_minutes=every_minutes,
            next_sync_at=timezone.now() if every_minutes else None,
            created_by=by,
        )
        audit_record(actor=by, action="source.create", target=source, after=_shown(source))
    return source


def source_update(
    *,
    source: Source,
    version: int,
    by: User | None,
    name: str,
    config: dict[str, Any],
    every_minutes: int | None,
    is_active: bool,
    secrets: dict[str, Any] | None = None,
) -> Source:
    """Changes a source (admins only). `secrets=None` keeps the stored credentials; a
    changed configuration starts from scratch (the cursor is cleared)."""
    if by is not None and not is_admin(by):
        raise NotAllowed("only admins may change sources")
    with transaction.atomic():
        source = Source.objects.select_for_update().get(pk=source.pk)
        check_version(f"source {source.name}", version, source.version)
        before = _shown(source)
        _check_kind(source.kind, config, secrets)
        if secrets is not None:
            source.secrets = encrypt_secrets(secrets)
        _check_schedule(every_minutes)
        if not name.strip():
            raise HeadwayError(Problem("a source needs a name", key="name"))
        source.name = name.strip()[:200]
        if config != source.config:
            source.config = config
            source.cursor = ""
        if every_minutes != source.every_minutes:
            source.every_minutes = every_minutes
            source.next_sync_at = timezone.now() if every_minutes else None
        source.is_active = is_active
        source.version += 1
        source.save()
        after = _shown(source)
        if secrets is not None:
            after["credentials"] = "changed"
        audit_record(actor=by, action="source.update", target=source, before=before, after=after)
    return source


def source_sync_request(
    *, source: Source, by: User | None, accept_schema_change: bool = False
) -> Job | None:
    """Queues a sync now (admins and team managers; accepting a schema change: admins).
    None when a sync of the source is already queued or running."""
    if by is not None and not can_create_anything(by):
        raise NotAllowed("only admins and team managers may start a sync")
    if accept_schema_change and by is not None and not is_admin(by):
        raise NotAllowed("only admins may accept a change of a dataset's schema")
    with transaction.atomic():
        if accept_schema_change:
            Source.objects.filter(pk=source.pk).update(accept_schema_change=True)
        job = job_enqueue(
            kind=SYNC_JOB, payload={"source": source.pk}, dedupe_key=f"sync:{source.pk}", by=by
        )
        audit_record(
            actor=by,
            action="source.sync_requested",
            target=source,
            after={"accept_schema_change": accept_schema_change, "queued": job is not None},
        )
    return job


def _record_run(
    source: Source, by: User | None, *, error: str, started: datetime.datetime
) -> ImportRun:
    """A sync that imported nothing (no new rows, or the source failed), in the history."""
    dataset = source.dataset
    with _dataset_lock(dataset):
        _abandon_stale_runs(dataset, by)
        with transaction.atomic():
            run = ImportRun.objects.create(
                dataset=dataset,
                started_at=started,
                source=source.kind,
                file_name=source.name[:500],
                sha256="",
                by=by,
            )
            audit_record(actor=by, action="import.start", target=run, after=snapshot(run))
            _run_finish(
                run,
                by=by,
                status=ImportStatus.FAILED if error else ImportStatus.SUCCEEDED,
                error=error,
            )
    return run


def latest_sync_job(source: Source) -> Job | None:
    """The source's latest sync job (queued, running or done), or None."""
    return Job.objects.filter(kind=SYNC_JOB, dedupe_key=f"sync:{source.pk}").order_by("-pk").first()


@dataclass(frozen=True)
class Synced:
    """What a sync came to: its import run (failed, with the reason, when the source or
    the import failed), and whether trying again later may help."""

    run: ImportRun
    retry: bool = False
    # Whether the data changed (so the KPIs that read it are due a recompute).
    changed: bool = False


def source_sync(
    *,
    source: Source,
    by: User | None,
    context: FetchContext | None = None,
    keep_alive: Callable[[], None] | None = None,
    accept_schema_change: bool = False,
    queue_refresh: bool = True,
) -> Synced:
    """Fetches what changed since the last sync and imports it.

    With `queue_refresh`, a recompute of what the new rows touched is queued for the
    worker; a caller that recomputes at once passes False."""
    source = Source.objects.select_related("dataset").get(pk=source.pk)
    dataset = source.dataset
    started = timezone.now()
    context = context or fetch_context(source)
    kind = kind_named(source.kind)
    last_alive = time.monotonic()

    def progress(rows: int) -> None:
        nonlocal last_alive
        if keep_alive is not None and time.monotonic() - last_alive > 30:
            keep_alive()
            last_alive = time.monotonic()

    run: ImportRun
    retry = False
    cursor: str | None = None
    with tempfile.TemporaryDirectory(prefix="headway-sync-") as folder:
        try:
            secrets = decrypt_secrets(source.secrets)
            columns = [dataset.key_column] + ([dataset.time_column] if dataset.time_column else [])
            with RowSink(
                Path(folder) / "rows.ndjson",
                max_rows=int(settings.HEADWAY_SYNC_MAX_ROWS),
                progress=progress,
            ) as sink:
                cursor = kind.fetch(source.config, secrets, source.cursor or None, sink, context)
            if sink.rows == 0:
                run = _record_run(source, by, error="", started=started)
            else:
                missing = [name for name in columns if name not in sink.columns]
                if missing:
                    raise SourceError(
                        f"{source.name}: the rows have no column {', '.join(missing)}, which the "
                        f"dataset {dataset.key} needs (map a field of the source to it)"
                    )
                path = Path(folder) / SYNCED_FILE
                rows_to_parquet(sink.path, sink.columns, path)
                run = import_file(
                    dataset=dataset,
                    path=path,
                    by=by,
                    source=source.kind,
                    file_name=source.name,
                    accept_schema_change=accept_schema_change or source.accept_schema_change,
                )
        except SecretsUnreadable as error:
            run = _record_run(source, by, error=f"{source.name}: {error}", started=started)
        except SourceError as error:
            run = _record_run(source, by, error=str(error), started=started)
            retry = error.retry
    now = timezone.now()
    with transaction.atomic():
        fresh = Source.objects.select_for_update().get(pk=source.pk)
        fresh.last_sync_at = now
        if run.status == ImportStatus.SUCCEEDED:
            fresh.last_success_at = now
            fresh.last_error = ""
            fresh.accept_schema_change = False
            if cursor is not None:
                fresh.cursor = cursor
        else:
            fresh.last_error = run.error
        fresh.save(
            update_fields=[
                "last_sync_at",
                "last_success_at",
                "last_error",
                "accept_schema_change",
                "cursor",
            ]
        )
        # An import that a crash cut short may have put its table in place without
        # recording it: the rows are there but their KPIs were never recomputed.
        crashed = ImportRun.objects.filter(
            dataset=dataset, status=ImportStatus.ABANDONED, finished_at__gte=started
        ).exists()
        changed = bool(run.added or run.updated or crashed)
        if queue_refresh and run.status == ImportStatus.SUCCEEDED and changed:
            job_enqueue(
                kind=REFRESH_JOB,
                payload={"dataset": dataset.key, "import_run": run.pk},
                dedupe_key=f"refresh:{dataset.key}:{run.pk}",
                by=by,
            )
    return Synced(run=run, retry=retry, changed=changed and run.status == ImportStatus.SUCCEEDED)


def schedule_due_syncs(now: datetime.datetime) -> int:
    """Queues a sync for every active source whose time has come; returns how many. Two
    workers doing this at once queue each sync once (the next time moves first)."""
    queued = 0
    due = Source.objects.filter(is_active=True, every_minutes__isnull=False, next_sync_at__lte=now)
    for source in due:
        assert source.every_minutes is not None
        following = now + datetime.timedelta(minutes=source.every_minutes)
        moved = Source.objects.filter(pk=source.pk, next_sync_at=source.next_sync_at).update(
            next_sync_at=following
        )
        if moved and job_enqueue(
            kind=SYNC_JOB, payload={"source": source.pk}, dedupe_key=f"sync:{source.pk}"
        ):
            queued += 1
    return queued
