"""What the worker does for results: recompute what a sync's new data touched, and alert
the owners of KPIs that turned red or are forecast to miss."""

from __future__ import annotations

import datetime
import time

from headway.ingestion.freshness import kpi_datasets
from headway.ingestion.models import ImportRun
from headway.jobs.worker import JobContext, JobFailed
from headway.results.alerts import forecast_chance, send_alerts
from headway.results.services import results_refresh_dataset


def refresh_dataset(context: JobContext) -> None:
    """Recomputes the KPIs reading the dataset, from the earliest period the import
    touched (everything when it does not say, e.g. after a schema change)."""
    payload = context.job.payload
    run = ImportRun.objects.filter(pk=payload.get("import_run")).first()
    touched_from = run.touched_from if run is not None else None
    touched_to = run.touched_to if run is not None else None
    problems = results_refresh_dataset(
        dataset_key=str(payload.get("dataset", "")),
        by=context.job.requested_by,
        touched_from=touched_from,
        touched_to=touched_to,
    )
    if problems:
        raise JobFailed("; ".join(problems))
    dataset = str(payload.get("dataset", ""))
    keys = [key for key, read in kpi_datasets().items() if dataset in read]
    if keys:
        send_alerts(kpi_keys=keys, chance=forecast_chance)


# The red check runs at most this often (seconds); forecasts only after a recompute.
RED_CHECK_EVERY = 600
_last_red_check = float("-inf")


def check_red(now: datetime.datetime) -> None:
    """Alerts the owners of KPIs whose latest period is red (a target revised on the web
    can turn a KPI red without new data)."""
    global _last_red_check
    if time.monotonic() - _last_red_check < RED_CHECK_EVERY:
        return
    _last_red_check = time.monotonic()
    send_alerts()
