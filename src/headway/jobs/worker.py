"""The worker loop: runs the schedules, claims due jobs and hands each to its handler.

Apps register what they do in their `AppConfig.ready()`: a handler per job kind
(`register_handler("ingestion.sync", "headway.ingestion.jobs.run_sync")`) and schedulers
that queue due work. This module knows none of them, so the layers stay as they are: the
jobs app sits low, and ingestion, results and reports plug in from above. Handlers are
named by dotted path and imported when first used, so that every other command does not
pay for importing database drivers and connectors at start-up.
"""

from __future__ import annotations

import datetime
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

from django.db import close_old_connections, connection
from django.utils import timezone
from django.utils.module_loading import import_string

from headway.jobs.models import Job
from headway.jobs.services import DEFAULT_LEASE_SECONDS, job_claim, job_finish, job_renew

logger = logging.getLogger("headway.worker")


class JobFailed(Exception):
    """A job that could not do its work, in a sentence; `retry` when trying later may help
    (a server down, a rate limit), not when it cannot (a wrong password)."""

    def __init__(self, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass
class JobContext:
    """Given to a handler: `renew()` keeps the job's lease during long work."""

    job: Job
    worker: str
    lease_seconds: int

    def renew(self) -> None:
        job_renew(self.job, worker=self.worker, lease_seconds=self.lease_seconds)


Handler = Callable[[JobContext], None]
Scheduler = Callable[[datetime.datetime], None]

# Dotted paths of the functions, by job kind and by schedule name.
HANDLERS: dict[str, str] = {}
SCHEDULERS: dict[str, str] = {}


def register_handler(kind: str, handler: str) -> None:
    HANDLERS[kind] = handler


def register_scheduler(name: str, scheduler: str) -> None:
    SCHEDULERS[name] = scheduler


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Worker:
    """One worker process. `tick()` does one round; `run()` loops until stopped."""

    name: str = field(default_factory=worker_name)
    kinds: tuple[str, ...] = ()
    lease_seconds: int = DEFAULT_LEASE_SECONDS
    poll_seconds: float = 5.0
    schedule_seconds: float = 30.0
    ran: int = 0
    failed: int = 0
    _stopping: bool = False
    _last_schedule: float = float("-inf")

    def run_schedulers(self, now: datetime.datetime | None = None) -> None:
        now = now or timezone.now()
        for name, path in SCHEDULERS.items():
            try:
                scheduler: Scheduler = import_string(path)
                scheduler(now)
            except Exception:
                # One broken schedule must not stop the others, nor the jobs.
                logger.exception("scheduler %s failed", name)
        self._last_schedule = time.monotonic()

    def tick(self) -> bool:
        """Runs due schedules (at most every `schedule_seconds`) and one job; True when a
        job ran."""
        if not connection.in_atomic_block:
            # A long-running process must drop connections the server closed; inside a
            # transaction (a test's), the connection is the caller's to keep.
            close_old_connections()
        if time.monotonic() - self._last_schedule >= self.schedule_seconds:
            self.run_schedulers()
        job = job_claim(worker=self.name, kinds=self.kinds, lease_seconds=self.lease_seconds)
        if job is None:
            return False
        self.run_job(job)
        return True

    def run_job(self, job: Job) -> Job:
        path = HANDLERS.get(job.kind)
        began = time.monotonic()
        if path is None:
            logger.error("job %s: no handler for kind %r", job.pk, job.kind)
            self.failed += 1
            return job_finish(job, worker=self.name, error=f"no worker handles {job.kind!r} jobs")
        logger.info("job %s (%s) started, attempt %s", job.pk, job.kind, job.attempts)
        try:
            handler: Handler = import_string(path)
            handler(JobContext(job=job, worker=self.name, lease_seconds=self.lease_seconds))
        except JobFailed as error:
            self.failed += 1
            logger.warning("job %s (%s) failed: %s", job.pk, job.kind, error)
            return job_finish(job, worker=self.name, error=str(error), retry=error.retry)
        except Exception as error:
            self.failed += 1
            logger.exception("job %s (%s) failed", job.pk, job.kind)
            return job_finish(
                job,
                worker=self.name,
                error=f"an internal error stopped it ({type(error).__name__})",
                retry=True,
            )
        self.ran += 1
        logger.info("job %s (%s) done in %.1f s", job.pk, job.kind, time.monotonic() - began)
        return job_finish(job, worker=self.name)

    def stop(self, *_: object) -> None:
        """Finish the job at hand, then stop (SIGTERM and SIGINT call this)."""
        self._stopping = True

    def run(self, *, until_idle: bool = False) -> None:
        """Loops until stopped; with `until_idle`, stops once no job is due."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            while not self._stopping:
                if self.tick():
                    continue
                if until_idle:
                    break
                deadline = time.monotonic() + self.poll_seconds
                while not self._stopping and time.monotonic() < deadline:
                    time.sleep(min(0.2, self.poll_seconds))
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        logger.info("signal %s: stopping after the current job", signum)
        self.stop()
