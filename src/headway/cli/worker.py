"""Commands for background work: the worker, and a sync run by hand."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, cast

import click

from headway.cli.app import _actor, migrate, setup_django
from headway.cli.main import cli, reports_errors

if TYPE_CHECKING:
    from headway.accounts.models import User


@cli.command()
@click.option("--once", is_flag=True, help="Run the schedules and every due job, then stop.")
@click.option("--poll", default=5.0, show_default=True, help="Seconds between looks for jobs.")
@click.option("--kind", "kinds", multiple=True, metavar="KIND", help="Only jobs of this kind.")
@reports_errors
def worker(once: bool, poll: float, kinds: tuple[str, ...]) -> None:
    """Run due syncs on their schedules, recompute what changed, report stale data.

    Several workers may run at once (on one machine or several): each job is claimed by
    one of them. SIGTERM lets the job at hand finish first."""
    setup_django()
    migrate()
    from headway.jobs.worker import Worker

    logging.getLogger("headway").setLevel(logging.INFO)
    running = Worker(kinds=kinds, poll_seconds=poll)
    click.echo(f"Worker {running.name} started.", err=True)
    running.run(until_idle=once)
    click.echo(
        f"Worker {running.name} stopped: {running.ran} jobs done, {running.failed} failed.",
        err=True,
    )


@cli.command()
@click.argument("dataset")
@click.option("--accept-schema-change", is_flag=True, help="Take new, missing or retyped columns.")
@click.option("--as", "actor", metavar="EMAIL", help="Record the sync as this person.")
@reports_errors
def sync(dataset: str, accept_schema_change: bool, actor: str | None) -> None:
    """Sync DATASET from its source now, then recompute the KPIs that read it."""
    setup_django()
    migrate()
    from headway.engine.problems import HeadwayError
    from headway.ingestion.models import ImportStatus, Source
    from headway.ingestion.syncs import source_sync
    from headway.results.services import results_refresh_dataset

    source = Source.objects.filter(dataset__key=dataset).select_related("dataset").first()
    if source is None:
        raise HeadwayError(f"the dataset {dataset!r} has no source to sync from")
    by = cast("User | None", _actor(actor))
    synced = source_sync(
        source=source,
        by=by,
        accept_schema_change=accept_schema_change,
        queue_refresh=False,
    )
    run = synced.run
    if run.status != ImportStatus.SUCCEEDED:
        for reject in run.rejects.all()[:20]:
            click.echo(f"{reject.line}: {reject.column}: {reject.reason}", err=True)
        raise HeadwayError(run.error or "the sync failed")
    click.echo(
        f"Synced {source.name} into {dataset}: {run.rows_in_file} rows, {run.added} added, "
        f"{run.updated} updated, {run.unchanged} unchanged."
    )
    if synced.changed:
        for problem in results_refresh_dataset(
            dataset_key=dataset,
            by=by,
            touched_from=run.touched_from,
            touched_to=run.touched_to,
        ):
            click.echo(f"warning: the KPIs were not recomputed: {problem}", err=True)
