"""The `headway` command line.

Exit status: 0 on success, 2 on bad input (with a message naming what is wrong), 1 only
for a bug. Heavy modules are imported inside the commands so start-up stays quick.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from headway.engine.compute import ComputeRequest
    from headway.engine.workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, code: int) -> None:
    click.echo(message, err=True)
    sys.exit(code)


def reports_errors(command: F) -> F:
    """Turns bad input into exit status 2 with the problems, and bugs into status 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from headway.engine.problems import HeadwayError

        try:
            return command(*args, **kwargs)
        except HeadwayError as error:
            lines = [f"error: {problem}" for problem in error.problems]
            _fail("\n".join(lines), 2)
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except OverflowError:
            _fail("error: the periods asked for are outside the calendar (years 1 to 9999)", 2)
        except BrokenPipeError:
            sys.exit(0)
        except Exception as error:  # a bug: say so without a wall of traceback
            if os.environ.get("HEADWAY_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}:
                traceback.print_exc()
            _fail(
                f"headway: internal error ({type(error).__name__}: {error}). This is a bug; "
                "set HEADWAY_DEBUG=1 to see the traceback and please report it.",
                1,
            )
        return None

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="headway")
def cli() -> None:
    """Headway: KPIs computed from real data, with targets, reviews and participation."""


workspace_argument = click.argument("workspace", type=click.Path(dir_okay=False, path_type=Path))


warehouse_option = click.option(
    "--warehouse",
    metavar="URL",
    help="Run the scans here instead of the workspace's warehouse: duckdb, "
    "postgresql://user@host/db?schema=NAME, spark://local[2], spark://HOST:7077, sc://HOST:15002.",
)


def _load(workspace: Path, warehouse: str | None = None) -> Workspace:
    from headway.engine.workspace import load_workspace

    loaded = load_workspace(workspace)
    if warehouse is not None:
        from headway.engine.backends import WarehouseUrlError, parse_url
        from headway.engine.problems import HeadwayError, Problem

        try:
            parse_url(warehouse)
        except WarehouseUrlError as error:
            raise HeadwayError(Problem(f"--warehouse: {error}")) from None
        loaded.model = loaded.model.model_copy(update={"warehouse": warehouse})
    return loaded


def _request(
    loaded: Workspace,
    start: str | None,
    end: str | None,
    kpis: tuple[str, ...],
    by: str | None,
) -> ComputeRequest:
    from headway.engine.compute import ComputeRequest
    from headway.engine.problems import HeadwayError, Problem
    from headway.lib.periods import PeriodLabelError, parse_period_label

    problems = []
    periods = {}
    for option, label in (("--from", start), ("--to", end)):
        if label is None:
            continue
        try:
            periods[option] = parse_period_label(label, loaded.fiscal_year_start)
        except PeriodLabelError as error:
            problems.append(Problem(f"{option}: {error}"))
    if problems:
        raise HeadwayError(problems)
    first = periods.get("--from")
    last = periods.get("--to")
    if first is not None and last is not None and first.start > last.last_day:
        raise HeadwayError(f"--from {first.label} is after --to {last.label}")
    return ComputeRequest(kpis=kpis, start=first, end=last, by=by)


@cli.command()
@workspace_argument
@reports_errors
def validate(workspace: Path) -> None:
    """Check a workspace file and its data; print what it defines."""
    from headway.engine.compute import Engine

    loaded = _load(workspace)
    with Engine(loaded) as engine:
        datasets = engine.load()
    model = loaded.model
    click.echo(
        f"{workspace}: valid. {len(model.goals)} goals, {len(model.kpis)} KPIs, "
        f"{len(model.measures)} measures, {len(datasets)} datasets."
    )


@cli.command()
@workspace_argument
@click.option("--from", "start", metavar="PERIOD", help="First period (any grain's label).")
@click.option("--to", "end", metavar="PERIOD", help="Last period (any grain's label).")
@click.option("--kpi", "kpis", multiple=True, metavar="KEY", help="Only this KPI (repeatable).")
@click.option("--by", metavar="DIMENSION", help="Break every KPI down by this dimension.")
@warehouse_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@reports_errors
def compute(
    workspace: Path,
    start: str | None,
    end: str | None,
    kpis: tuple[str, ...],
    by: str | None,
    warehouse: str | None,
    output_format: str,
) -> None:
    """Compute KPIs per period (and group) from a workspace file and its data."""
    from headway.cli import output
    from headway.engine.checked import CheckedFiles
    from headway.engine.compute import Engine

    loaded = _load(workspace, warehouse)
    request = _request(loaded, start, end, kpis, by)
    with Engine(loaded, CheckedFiles.default()) as engine:
        result = engine.compute(request)
    if output_format == "csv":
        output.write_csv(result.rows, by, sys.stdout)
    elif output_format == "json":
        output.write_json(result.rows, by, sys.stdout)
    else:
        from headway.cli.table import print_table

        print_table(loaded, result.rows, by)


@cli.command()
@workspace_argument
@click.option("--kpi", "kpi", required=True, metavar="KEY", help="The KPI to explain.")
@click.option("--period", metavar="PERIOD", help="The period (default: the latest with data).")
@click.option("--by", metavar="DIMENSION", help="Also show the value per group.")
@warehouse_option
@reports_errors
def explain(
    workspace: Path, kpi: str, period: str | None, by: str | None, warehouse: str | None
) -> None:
    """Explain one KPI: its definition, period bounds, SQL and the numbers behind it."""
    from headway.cli.explaining import explain_kpi

    loaded = _load(workspace, warehouse)
    click.echo(explain_kpi(loaded, kpi, period, by))


def main() -> None:
    cli()


# The application's commands register themselves on `cli`; importing them is cheap
# (they import Django only when run).
from headway.cli import app as _app  # noqa: E402, F401
from headway.cli import backup as _backup  # noqa: E402, F401
from headway.cli import report as _report  # noqa: E402, F401
from headway.cli import worker as _worker  # noqa: E402, F401
