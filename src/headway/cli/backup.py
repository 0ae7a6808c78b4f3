"""`headway backup` and `headway restore`: the app database and the warehouse in one file."""

from __future__ import annotations

from pathlib import Path

import click

from headway.cli.app import setup_django
from headway.cli.main import cli, reports_errors


def _size(count: int) -> str:
    amount = float(count)
    for unit in ("bytes", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:,.0f} {unit}" if unit == "bytes" else f"{amount:,.1f} {unit}"
        amount /= 1024
    return f"{count} bytes"


@cli.command()
@click.argument("destination", type=click.Path(path_type=Path))
@click.option(
    "--wait",
    "wait_seconds",
    default=300.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for running imports to finish.",
)
@reports_errors
def backup(destination: Path, wait_seconds: float) -> None:
    """Write a consistent backup of the app database and the warehouse to DESTINATION.

    DESTINATION is a new .tar file, or a folder to write headway-backup-<time>.tar in.
    The backup waits for running imports; imports that start while it copies are told
    to try again. The backup holds the key of the sources' credentials: keep it safe."""
    setup_django()
    from headway.ops.backup import VENDOR_NAMES, backup_create

    made = backup_create(destination=destination, wait_seconds=wait_seconds)
    click.echo(
        f"Backed up the {VENDOR_NAMES[made.vendor]} database ({made.tables} tables, "
        f"{made.rows:,} rows) and {made.files} warehouse files "
        f"({_size(made.warehouse_bytes)}) to {made.path} ({_size(made.archive_bytes)})."
    )
    if made.secrets:
        click.echo(
            f"warning: the backup holds secrets ({', '.join(made.secrets)}: the key of the "
            "sources' credentials): keep it as safe as the credentials themselves.",
            err=True,
        )
    for warning in made.warnings:
        click.echo(f"warning: {warning}", err=True)


@cli.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database and warehouse that hold data.")
@click.option("--check", is_flag=True, help="Only check the backup; change nothing.")
@reports_errors
def restore(source: Path, force: bool, check: bool) -> None:
    """Restore a backup made by `headway backup` into the app database and warehouse here.

    Checks every file and table against the backup's manifest; refuses a target that
    holds data unless --force; migrates a backup made by an older Headway. Stop Headway
    (web and workers) while it runs."""
    setup_django()
    from headway.ops.backup import VENDOR_NAMES, backup_restore, backup_verify

    if check:
        found = backup_verify(source=source)
        checked = (
            "every file's and every table's checksum matches"
            if found.vendor == "sqlite"
            else "every file's checksum matches (its tables are compared as it is restored)"
        )
        click.echo(
            f"{found.source}: a sound backup of {found.created_at} "
            f"({VENDOR_NAMES[found.vendor]}, {found.tables} tables, {found.rows:,} rows, "
            f"{found.files} warehouse files); {checked}."
        )
        return
    done = backup_restore(source=source, force=force)
    click.echo(
        f"Restored {done.source} ({done.created_at}): {done.tables} tables with {done.rows:,} "
        f"rows and {done.files} warehouse files, every checksum matching the manifest."
    )
    if done.replaced:
        click.echo("The data that was here before was replaced (--force).")
    if done.migrated:
        click.echo(f"Migrated the database to this Headway: {len(done.migrated)} migrations.")
    if done.relocated:
        click.echo(f"Pointed {len(done.relocated)} datasets at the warehouse here.")
    if done.secrets:
        click.echo(f"Restored {', '.join(done.secrets)} into the data folder.")
    for warning in done.warnings:
        click.echo(f"warning: {warning}", err=True)
