"""Jobs claimed from the database: once each, retried after a crash, never run twice."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Iterator

import pytest
from django.db import connection
from django.utils import timezone

from headway.jobs import worker as worker_module
from headway.jobs.models import Job, JobStatus
from headway.jobs.services import job_claim, job_enqueue, job_finish
from headway.jobs.worker import JobContext, JobFailed, Worker

pytestmark = pytest.mark.django_db

CALLS: list[int] = []


def record_call(context: JobContext) -> None:
    CALLS.append(context.job.pk)


def fail_for_good(context: JobContext) -> None:
    raise JobFailed("the password is wrong")


def fail_for_now(context: JobContext) -> None:
    raise JobFailed("the server is down", retry=True)


def crash(context: JobContext) -> None:
    raise ZeroDivisionError


@pytest.fixture
def handlers() -> Iterator[None]:
    saved = dict(worker_module.HANDLERS)
    worker_module.HANDLERS.update(
        {
            "test.record": f"{__name__}.record_call",
            "test.fail": f"{__name__}.fail_for_good",
            "test.retry": f"{__name__}.fail_for_now",
            "test.crash": f"{__name__}.crash",
        }
    )
    CALLS.clear()
    yield
    worker_module.HANDLERS.clear()
    worker_module.HANDLERS.update(saved)


def test_a_second_job_with_the_same_key_is_not_queued_while_the_first_waits() -> None:
    first = job_enqueue(kind="test.record", dedupe_key="sync:1")
    second = job_enqueue(kind="test.record", dedupe_key="sync:1")

    assert first is not None
    assert second is None
    assert Job.objects.count() == 1


def test_a_job_with_the_same_key_is_queued_again_once_the_first_is_done() -> None:
    first = job_enqueue(kind="test.record", dedupe_key="sync:1")
    assert first is not None
    claimed = job_claim(worker="w1")
    assert claimed is not None
    job_finish(claimed, worker="w1")

    assert job_enqueue(kind="test.record", dedupe_key="sync:1") is not None


def test_a_job_is_claimed_by_one_worker_only() -> None:
    job_enqueue(kind="test.record")

    first = job_claim(worker="w1")
    second = job_claim(worker="w2")

    assert first is not None
    assert (first.status, first.claimed_by, first.attempts) == (JobStatus.RUNNING, "w1", 1)
    assert second is None


def test_a_job_not_yet_due_is_not_claimed() -> None:
    job_enqueue(kind="test.record", run_after=timezone.now() + datetime.timedelta(minutes=5))

    assert job_claim(worker="w1") is None


def test_a_job_whose_worker_died_is_claimed_again_after_its_lease() -> None:
    job_enqueue(kind="test.record")
    claimed = job_claim(worker="dead", lease_seconds=60)
    assert claimed is not None

    later = timezone.now() + datetime.timedelta(seconds=61)
    again = job_claim(worker="alive", now=later)

    assert again is not None
    assert (again.pk, again.claimed_by, again.attempts) == (claimed.pk, "alive", 2)
    # The dead worker can no longer record an outcome for it.
    job_finish(claimed, worker="dead", error="too late")
    again.refresh_from_db()
    assert again.status == JobStatus.RUNNING


def test_a_job_whose_worker_died_on_every_attempt_fails_with_the_reason() -> None:
    job_enqueue(kind="test.record", max_attempts=2)
    moment = timezone.now()
    for attempt in range(2):
        moment += datetime.timedelta(seconds=301)
        assert job_claim(worker=f"dead{attempt}", now=moment) is not None

    assert job_claim(worker="alive", now=moment + datetime.timedelta(seconds=301)) is None
    job = Job.objects.get()
    assert job.status == JobStatus.FAILED
    assert "stopped before it finished" in job.error


def test_the_worker_runs_each_due_job_once_and_records_success(handlers: None) -> None:
    jobs = [job_enqueue(kind="test.record") for _ in range(3)]
    running = Worker(name="w1", schedule_seconds=3600)

    running.run(until_idle=True)

    assert sorted(CALLS) == sorted(job.pk for job in jobs if job is not None)
    assert set(Job.objects.values_list("status", flat=True)) == {JobStatus.SUCCEEDED}


def test_a_job_that_cannot_succeed_fails_at_once_with_its_reason(handlers: None) -> None:
    job_enqueue(kind="test.fail", max_attempts=3)

    Worker(name="w1", schedule_seconds=3600).run(until_idle=True)

    job = Job.objects.get()
    assert (job.status, job.error, job.attempts) == (
        JobStatus.FAILED,
        "the password is wrong",
        1,
    )


def test_a_job_that_may_succeed_later_goes_back_to_the_queue_with_a_delay(
    handlers: None,
) -> None:
    job_enqueue(kind="test.retry", max_attempts=3)

    Worker(name="w1", schedule_seconds=3600).run(until_idle=True)

    job = Job.objects.get()
    assert job.status == JobStatus.QUEUED
    assert job.run_after > timezone.now()
    assert job.error == "the server is down"


def test_an_internal_error_is_recorded_without_a_traceback(handlers: None) -> None:
    job_enqueue(kind="test.crash", max_attempts=1)

    Worker(name="w1", schedule_seconds=3600).run(until_idle=True)

    job = Job.objects.get()
    assert job.status == JobStatus.FAILED
    assert job.error == "an internal error stopped it (ZeroDivisionError)"


def test_a_job_of_an_unknown_kind_fails_saying_so(handlers: None) -> None:
    job_enqueue(kind="test.nobody")

    Worker(name="w1", schedule_seconds=3600).run(until_idle=True)

    assert Job.objects.get().error == "no worker handles 'test.nobody' jobs"


@pytest.mark.django_db(transaction=True)
def test_workers_in_parallel_claim_every_job_exactly_once() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("runs on PostgreSQL (scripts/test runs tests/jobs there too)")
    for _ in range(40):
        job_enqueue(kind="test.record")
    claims: dict[str, list[int]] = {}

    def work(name: str) -> None:
        mine = claims.setdefault(name, [])
        try:
            while (job := job_claim(worker=name)) is not None:
                mine.append(job.pk)
        finally:
            connection.close()

    errors: list[BaseException] = []

    def guarded(name: str) -> None:
        try:
            work(name)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    claimed = [pk for pks in claims.values() for pk in pks]
    assert sorted(claimed) == sorted(Job.objects.values_list("pk", flat=True))
