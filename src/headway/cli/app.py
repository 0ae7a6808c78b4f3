"""Commands that work on the application: apply, export, recompute, demo, serve, manage."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from headway.cli.main import _fail, cli, reports_errors


def setup_django(mode: str | None = None, data_dir: Path | None = None) -> None:
    """Configures Django for a command (settings come from the environment)."""
    if mode is not None:
        os.environ["HEADWAY_MODE"] = mode
    if data_dir is not None:
        os.environ["HEADWAY_DATA_DIR"] = str(data_dir.resolve())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "headway.site.settings")
    from django.conf import settings

    Path(settings.DATA_DIR).mkdir(parents=True, exist_ok=True)
    import django

    django.setup()


def migrate(verbosity: int = 0) -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=verbosity, interactive=False)


def _actor(email: str | None) -> object:
    if email is None:
        return None
    from headway.accounts.models import User
    from headway.engine.problems import HeadwayError

    user = User.objects.filter(email=email).first()
    if user is None:
        raise HeadwayError(f"--as {email}: no such person")
    return user


@cli.command()
@click.argument("workspace", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask before removing anything.")
@click.option("--as", "actor", metavar="EMAIL", help="Record the changes as this person.")
@reports_errors
def apply(workspace: Path, dry_run: bool, yes: bool, actor: str | None) -> None:
    """Load a workspace file into the app database, by keys (idempotent)."""
    setup_django()
    migrate()
    from headway.engine.workspace import load_workspace
    from headway.kpis.workspace_io import apply_plan, plan_apply

    loaded = load_workspace(workspace)
    plan = plan_apply(loaded)
    for change in plan.changes:
        colour = {"+": "green", "~": "yellow", "-": "red"}[change.sign]
        click.secho(str(change), fg=colour)
    for note in plan.notes:
        click.echo(f"note: {note}")
    if not plan.changes:
        click.echo("Nothing to change: the database already matches the workspace.")
        return
    counts = {sign: sum(1 for c in plan.changes if c.sign == sign) for sign in "+~-"}
    summary = f"{counts['+']} to create, {counts['~']} to change, {counts['-']} to remove"
    if dry_run:
        click.echo(f"Dry run: {summary}; nothing was changed.")
        return
    if plan.removals and not yes:
        if not sys.stdin.isatty():
            _fail(
                f"{summary}. Removing needs confirmation: run again with --yes to remove "
                f"{len(plan.removals)} item(s).",
                2,
            )
        click.confirm(f"{summary}. Remove {len(plan.removals)} item(s)?", abort=True)
    apply_plan(plan, by=_actor(actor))  # type: ignore[arg-type]
    click.echo(f"Applied: {summary}.")


@cli.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@reports_errors
def export(file: Path | None) -> None:
    """Write the app database as a workspace file (to FILE or standard output)."""
    setup_django()
    migrate()
    from ruamel.yaml import YAML

    from headway.kpis.workspace_io import workspace_data

    base = (file.parent if file else Path.cwd()).resolve()
    data = workspace_data(base_dir=base)
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.allow_unicode = True
    if file is None:
        yaml.dump(data, sys.stdout)
    else:
        with file.open("w", encoding="utf-8") as handle:
            yaml.dump(data, handle)
        click.echo(f"Wrote {file}", err=True)


@cli.command()
@click.option("--kpi", "kpis", multiple=True, metavar="KEY", help="Only this KPI (repeatable).")
@click.option("--from", "start", metavar="PERIOD")
@click.option("--to", "end", metavar="PERIOD")
@click.option("--as", "actor", metavar="EMAIL", help="Record the recompute as this person.")
@reports_errors
def recompute(kpis: tuple[str, ...], start: str | None, end: str | None, actor: str | None) -> None:
    """Compute the KPIs of the app database and store the results."""
    setup_django()
    migrate()
    from headway.accounts.models import Organization
    from headway.engine.problems import HeadwayError, Problem
    from headway.lib.periods import PeriodLabelError, parse_period_label
    from headway.results.services import results_recompute

    fiscal = Organization.current().fiscal_year_start
    try:
        first = parse_period_label(start, fiscal) if start else None
        last = parse_period_label(end, fiscal) if end else None
    except PeriodLabelError as error:
        raise HeadwayError(Problem(str(error))) from None
    summary = results_recompute(by=_actor(actor), kpi_keys=kpis, start=first, end=last)  # type: ignore[arg-type]
    click.echo(
        f"Computed {summary.results} results for {summary.kpis} KPIs in {summary.seconds:.1f} s."
    )


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def manage(args: tuple[str, ...]) -> None:
    """Run one of Django's management commands (migrate, createsuperuser, check, ...)."""
    setup_django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["headway manage", *args])


def _example_dir() -> Path:
    """The bundled tea-shop example, from a source checkout or an installed package."""
    import headway

    package = Path(headway.__file__).resolve().parent
    for candidate in (
        package / "examples" / "tea-shop",
        package.parents[1] / "examples" / "tea-shop",
    ):
        if (candidate / "headway.yaml").exists():
            return candidate
    raise click.ClickException("the bundled example (examples/tea-shop) was not found")


DEMO_PEOPLE = (
    ("david@tea-shop.example", "admin"),
    ("mei@tea-shop.example", "manager"),
    ("leo@tea-shop.example", "member"),
    ("amy@tea-shop.example", "member"),
)


def _seed_manual_kpi() -> None:
    """A KPI that no data computes, entered by hand each month: the stores' mystery-shopper
    score, owned by the sales manager, with half a year of values (the demo of manual entry)."""
    from decimal import Decimal

    from headway.accounts.models import Organization, Team, User
    from headway.goals.models import Goal
    from headway.kpis.choices import EntryKind
    from headway.kpis.services import kpi_create, target_revise
    from headway.lib.periods import Grain, period_containing
    from headway.results.manual import manual_values_submit
    from headway.web.queries import organization_today

    owner = User.objects.filter(email="mei@tea-shop.example").first()
    team = Team.objects.filter(key="sales").first()
    goal = Goal.objects.filter(key="customer-happiness").first()
    if owner is None or team is None:
        return
    kpi = kpi_create(
        by=owner,
        key="mystery_shopper",
        name="神秘客評分 (Mystery shopper score)",
        description="每月由外部神秘客評核各門市的服務、清潔與出餐速度，滿分 100。",
        formula="",
        entry=EntryKind.MANUAL,
        manual_approval=True,
        unit="score",
        grain="month",
        team=team,
        owner=owner,
        goals=[(goal, Decimal(1))] if goal is not None else [],
    )
    organization = Organization.current()
    current = period_containing(
        Grain.MONTH, organization_today(organization), organization.fiscal_year_start
    )
    months = [current.shift(offset - 6) for offset in range(6)]
    target_revise(
        kpi=kpi,
        by=owner,
        effective_from=months[0].label,
        value=Decimal(85),
        reason="顧客體驗目標：門市評分 85 分以上",
    )
    scores = ["82", "84", "83.5", "86", "87", "85.5"]
    manual_values_submit(
        kpi=kpi,
        by=owner,
        values={month.label: Decimal(score) for month, score in zip(months, scores, strict=True)},
        comment="神秘客報告",
    )


def _seed_review() -> None:
    """The review of the last complete quarter, planned for next week and chaired by the
    CEO with the managers and a salesperson: the demo of the review cycle."""
    import datetime
    import zoneinfo

    from headway.accounts.models import Organization, User
    from headway.lib.periods import Grain, period_containing
    from headway.reviews.services import cycle_create, meeting_create
    from headway.web.queries import organization_today

    people = {user.email: user for user in User.objects.filter(email__endswith="@tea-shop.example")}
    chair = people.get("david@tea-shop.example")
    if chair is None:
        return
    organization = Organization.current()
    today = organization_today(organization)
    quarter = period_containing(Grain.QUARTER, today, organization.fiscal_year_start).shift(-1)
    cycle = cycle_create(by=chair, period=quarter.label, title=f"{quarter.label} 季度檢討 (review)")
    day = today + datetime.timedelta(days=7)
    meeting_create(
        by=chair,
        cycle=cycle,
        title=f"{quarter.label} 經營會議 (Quarterly business review)",
        scheduled_at=datetime.datetime(
            day.year, day.month, day.day, 10, tzinfo=zoneinfo.ZoneInfo(organization.timezone)
        ),
        location="台北總部 3F 會議室",
        chair=chair,
        participants=[
            people[email]
            for email in (
                "mei@tea-shop.example",
                "grace@tea-shop.example",
                "tina@tea-shop.example",
                "leo@tea-shop.example",
            )
            if email in people
        ],
        comments_due=day - datetime.timedelta(days=2),
    )


def _gunicorn(bind: str, workers: int, environment: dict[str, str]) -> None:
    import subprocess

    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "headway.site.wsgi:application",
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--access-logfile",
        "-",
        "--forwarded-allow-ips",
        environment.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        # The application (and the forecast model, see headway.site.wsgi) is loaded once in
        # the master and shared by the forked workers, so no worker starts cold.
        "--preload",
    ]
    environment = dict(environment, HEADWAY_WARM_FORECAST="1")
    try:
        # The command is fixed here; only the bind address and worker count vary.
        completed = subprocess.run(command, env=environment, check=False)  # noqa: S603
    except KeyboardInterrupt:
        return
    if completed.returncode not in (0, -2, 130):
        sys.exit(completed.returncode)


@cli.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--port", default=8000, show_default=True)
@click.option("--no-serve", is_flag=True, help="Set everything up, print the logins, and stop.")
@reports_errors
def demo(directory: Path | None, port: int, no_serve: bool) -> None:
    """Set up a fresh demo (the tea-shop example) and serve it on http://127.0.0.1:PORT."""
    import secrets
    import shutil

    folder = (directory or Path(".headway-demo")).resolve()
    for name in ("headway.sqlite3", "headway.sqlite3-wal", "headway.sqlite3-shm"):
        (folder / name).unlink(missing_ok=True)
    warehouse = folder / "warehouse"
    if warehouse.exists():
        shutil.rmtree(warehouse)
    example = warehouse / "tea-shop"
    shutil.copytree(_example_dir(), example, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    # The demo always has its own SQLite database, whatever DATABASE_URL says.
    database_url = f"sqlite:///{folder / 'headway.sqlite3'}"
    os.environ["DATABASE_URL"] = database_url
    setup_django(mode="demo", data_dir=folder)
    click.echo(f"Setting up the demo in {folder} ...")
    migrate()
    from django.db import transaction

    from headway.accounts.models import User
    from headway.accounts.services import password_changed
    from headway.engine.workspace import load_workspace
    from headway.kpis.workspace_io import apply_plan, plan_apply
    from headway.results.services import results_recompute

    apply_plan(plan_apply(load_workspace(example / "headway.yaml")), by=None)
    summary = results_recompute(by=None)
    click.echo(f"Computed {summary.results} results for {summary.kpis} KPIs.")
    _seed_manual_kpi()
    _seed_review()
    logins = []
    for email, role in DEMO_PEOPLE:
        person = User.objects.filter(email=email).first()
        if person is None:
            continue
        password = secrets.token_urlsafe(9)
        with transaction.atomic():
            person.set_password(password)
            person.is_staff = role == "admin"
            person.save()
            password_changed(person=person, by=None, how="demo")
        logins.append((email, role, password))
    url = f"http://127.0.0.1:{port}/"
    click.echo("\nSign in with one of these demo people (passwords are new for every demo):")
    for email, role, password in logins:
        click.echo(f"  {role:8} {email:28} {password}")
    if no_serve:
        return
    click.echo(f"\nServing Headway on {url} (Ctrl+C to stop)")
    environment = dict(
        os.environ, HEADWAY_MODE="demo", HEADWAY_DATA_DIR=str(folder), DATABASE_URL=database_url
    )
    _gunicorn(f"127.0.0.1:{port}", 2, environment)


@cli.command()
@click.option("--bind", default="0.0.0.0:8000", show_default=True)
@click.option("--workers", default=2, show_default=True)
@reports_errors
def serve(bind: str, workers: int) -> None:
    """Run Headway in production: gunicorn, static files by WhiteNoise, settings from env."""
    from headway.lib.secrets import strong_secret

    mode = os.environ.get("HEADWAY_MODE", "production")
    if mode != "demo":
        # Serving is production unless it is the demo, whatever else HEADWAY_MODE says.
        mode = "production"
    if mode == "production" and not strong_secret(os.environ.get("SECRET_KEY", "")):
        _fail(
            "error: SECRET_KEY must be set to a random string of at least 50 characters "
            "(python -c 'import secrets; print(secrets.token_urlsafe(64))')",
            2,
        )
    setup_django(mode=mode)
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    environment = dict(os.environ, HEADWAY_MODE=mode)
    _gunicorn(bind, workers, environment)


@cli.command(name="import")
@click.argument("dataset")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--accept-schema-change", is_flag=True, help="Apply new, missing or retyped columns.")
@click.option("--preview", is_flag=True, help="Show rows, schema and problems; write nothing.")
@click.option(
    "--rejected",
    "rejected_csv",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the rejected rows to this CSV file.",
)
@click.option("--as", "actor", metavar="EMAIL", help="Record the import as this person.")
@reports_errors
def import_(
    dataset: str,
    file: Path,
    accept_schema_change: bool,
    preview: bool,
    rejected_csv: Path | None,
    actor: str | None,
) -> None:
    """Import a CSV, XLSX or Parquet FILE into DATASET's table (all or nothing, by key)."""
    setup_django()
    migrate()
    from headway.engine.problems import HeadwayError
    from headway.ingestion.models import ImportStatus
    from headway.ingestion.services import import_file, preview_file, rejected_rows_csv
    from headway.kpis.models import Dataset

    found = Dataset.objects.filter(key=dataset).first()
    if found is None:
        raise HeadwayError(f"no dataset {dataset!r}")
    if preview:
        shown = preview_file(dataset=found, path=file)
        for error in shown.errors:
            click.echo(f"error: {error}", err=True)
        for column in shown.columns:
            click.echo(f"{column.name}: {column.type}")
        for change in shown.drift:
            click.echo(f"schema change: {change}")
        for row in shown.rows:
            click.echo(", ".join(f"{name}={value}" for name, value in row.items()))
        for bad in shown.bad:
            click.echo(f"{file.name}:{bad.line}: {bad.column}: {bad.reason}")
        click.echo(f"{shown.rows_in_file} rows, {shown.bad_rows} bad. Nothing was written.")
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from headway.ingestion.services import IMPORT_PHASES

    # A bar of the import's phases on standard error (plain lines when it is not a
    # terminal), so the summary on standard output stays clean for scripts.
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(f"Importing {file.name}", total=IMPORT_PHASES)

        def progress(number: int, words: str) -> None:
            bar.update(task, completed=number - 1, description=f"{file.name}: {words}")

        run = import_file(
            dataset=found,
            path=file,
            by=_actor(actor),  # type: ignore[arg-type]
            source="cli",
            accept_schema_change=accept_schema_change,
            progress=progress,
        )
        bar.update(task, completed=IMPORT_PHASES)
    if run.status == ImportStatus.SUCCEEDED:
        click.echo(
            f"Imported {file.name} into {dataset}: {run.added} added, {run.updated} updated, "
            f"{run.unchanged} unchanged."
        )
        from headway.results.services import results_refresh_dataset

        for problem in results_refresh_dataset(
            dataset_key=dataset,
            by=run.by,
            touched_from=run.touched_from,
            touched_to=run.touched_to,
        ):
            click.echo(f"warning: the KPIs that use {dataset} were not recomputed: {problem}")
        return
    if rejected_csv is not None and run.rejected:
        rejected_csv.write_text(rejected_rows_csv(run), encoding="utf-8")
    lines = [f"error: {run.error}"]
    lines += [
        f"{file.name}:{reject.line}: {reject.column}: {reject.reason}"
        for reject in run.rejects.all()[:20]
    ]
    _fail("\n".join(lines), 2)
