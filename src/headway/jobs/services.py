"""Queueing, claiming and finishing jobs, safely with several workers at once.

A claim is a compare-and-set on the job's row: the UPDATE names the state the worker saw,
so of two workers that saw the same job only one changes the row. On PostgreSQL the
candidates are first read with `FOR UPDATE SKIP LOCKED`, so workers do not queue behind
each other; SQLite has one writer at a time and needs no more than the compare-and-set.

A worker holds a lease on its job and renews it while working. A worker that dies (killed,
machine lost) stops renewing; once the lease is over any worker may claim the job again,
up to `max_attempts` claims. The work itself must be safe to run again (an import is
idempotent and all or nothing), so a job is never half-applied.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from headway.jobs.models import ACTIVE, Job, JobStatus

if TYPE_CHECKING:
    from headway.accounts.models import User

DEFAULT_LEASE_SECONDS = 300


def job_enqueue(
    *,
    kind: str,
    payload: dict[str, Any] | None = None,
    dedupe_key: str = "",
    run_after: datetime.datetime | None = None,
    max_attempts: int = 3,
    by: User | None = None,
) -> Job | None:
    """Queues a job; returns None when a job with the same `dedupe_key` is already queued
    or running (that one will do the work)."""
    if dedupe_key and Job.objects.filter(dedupe_key=dedupe_key, status__in=ACTIVE).exists():
        return None
    try:
        with transaction.atomic():
            return Job.objects.create(
                kind=kind,
                payload=payload or {},
                dedupe_key=dedupe_key,
                run_after=run_after or timezone.now(),
                max_attempts=max(1, max_attempts),
                requested_by=by,
            )
    except IntegrityError:
        # Another process queued the same key between the check and the insert.
        if dedupe_key and Job.objects.filter(dedupe_key=dedupe_key, status__in=ACTIVE).exists():
            return None
        raise


def _claimable(now: datetime.datetime) -> Q:
    return Q(status=JobStatus.QUEUED, run_after__lte=now) | Q(
        status=JobStatus.RUNNING, lease_until__lt=now
    )


def job_claim(
    *,
    worker: str,
    kinds: tuple[str, ...] = (),
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
    now: datetime.datetime | None = None,
) -> Job | None:
    """Claims the oldest due job (of `kinds`, or any), or None when there is none."""
    now = now or timezone.now()
    candidates = Job.objects.filter(_claimable(now)).order_by("run_after", "pk")
    if kinds:
        candidates = candidates.filter(kind__in=kinds)
    lease = now + datetime.timedelta(seconds=lease_seconds)
    skip_locked = connection.features.has_select_for_update_skip_locked
    for _ in range(20):
        with transaction.atomic():
            if skip_locked:
                seen = list(
                    candidates.select_for_update(skip_locked=True).values(
                        "pk", "status", "lease_until", "attempts", "max_attempts"
                    )[:1]
                )
            else:
                seen = list(
                    candidates.values("pk", "status", "lease_until", "attempts", "max_attempts")[:1]
                )
            if not seen:
                return None
            row = seen[0]
            if row["attempts"] >= row["max_attempts"]:
                # A lost job with no attempts left: fail it rather than run it again.
                Job.objects.filter(pk=row["pk"], status=row["status"]).update(
                    status=JobStatus.FAILED,
                    finished_at=now,
                    lease_until=None,
                    error=(
                        "the worker running it stopped before it finished, on each of its "
                        f"{row['attempts']} attempts"
                    ),
                )
                continue
            claimed = Job.objects.filter(
                pk=row["pk"],
                status=row["status"],
                lease_until=row["lease_until"],
                attempts=row["attempts"],
            ).update(
                status=JobStatus.RUNNING,
                claimed_by=worker[:200],
                lease_until=lease,
                attempts=row["attempts"] + 1,
                started_at=now,
            )
            if claimed:
                return Job.objects.get(pk=row["pk"])
    return None


def job_renew(job: Job, *, worker: str, lease_seconds: int = DEFAULT_LEASE_SECONDS) -> bool:
    """Extends the lease of a job this worker holds; False when it no longer holds it."""
    lease = timezone.now() + datetime.timedelta(seconds=lease_seconds)
    renewed = Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, claimed_by=worker).update(
        lease_until=lease
    )
    return bool(renewed)


def job_finish(
    job: Job,
    *,
    worker: str,
    error: str = "",
    retry: bool = False,
    retry_in: datetime.timedelta | None = None,
) -> Job:
    """Records the outcome of a claimed job. A failure with `retry` and attempts left goes
    back to the queue after `retry_in` (by default 1, 2, 4... minutes)."""
    now = timezone.now()
    fields: dict[str, Any]
    if not error:
        fields = {"status": JobStatus.SUCCEEDED, "finished_at": now, "error": ""}
    elif retry and job.attempts < job.max_attempts:
        wait = retry_in or datetime.timedelta(minutes=2 ** max(0, job.attempts - 1))
        fields = {"status": JobStatus.QUEUED, "run_after": now + wait, "error": error}
    else:
        fields = {"status": JobStatus.FAILED, "finished_at": now, "error": error}
    fields["lease_until"] = None
    Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, claimed_by=worker).update(**fields)
    job.refresh_from_db()
    return job
