"""What the worker does for results: recompute what a sync's new data touched."""

from __future__ import annotations

from headway.ingestion.models import ImportRun
from headway.jobs.worker import JobContext, JobFailed
from headway.results.services import results_refresh_dataset


def refresh_dataset(context: JobContext) -> None:
    """Recomputes the KPIs reading the dataset, from the earliest period the import
    touched (everything when it does not say, e.g. after a schema change)."""
    payload = context.job.payload
    run = ImportRun.objects.filter(pk=payload.get("import_run")).first()
    touched_from = run.touched_from if run is not None else None
    problems = results_refresh_dataset(
        dataset_key=str(payload.get("dataset", "")),
        by=context.job.requested_by,
        touched_from=touched_from,
    )
    if problems:
        raise JobFailed("; ".join(problems))
