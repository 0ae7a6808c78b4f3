"""`headway report`: the monthly report of a period as an HTML, PDF or Excel file."""

from __future__ import annotations

from pathlib import Path

import click

from headway.cli.app import migrate, setup_django
from headway.cli.main import cli, reports_errors

FORMATS = ("html", "pdf", "xlsx")


@cli.command()
@click.option("--period", required=True, metavar="PERIOD", help="The period, e.g. 2026-03.")
@click.option("--team", metavar="KEY", help="A team's report (with the teams under it).")
@click.option(
    "--language",
    default="en",
    show_default=True,
    metavar="en|zh-Hant",
    help="The report's language.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    help="The file's format (default: from the output file's extension).",
)
@click.option(
    "--output",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="The file to write.",
)
@reports_errors
def report(
    period: str, team: str | None, language: str, output_format: str | None, output: Path
) -> None:
    """Write the monthly report of PERIOD, for the company or a team, to a file."""
    from headway.engine.problems import HeadwayError

    chosen = output_format or output.suffix.lstrip(".").lower()
    if chosen not in FORMATS:
        raise HeadwayError(
            f"--format: say html, pdf or xlsx (the extension of {output.name} does not tell)"
        )
    setup_django()
    migrate()
    from headway.reports.builder import build_report, report_team
    from headway.reports.render import report_html, report_pdf, report_xlsx

    built = build_report(period=period, team=report_team(team), language=language)
    if chosen == "html":
        output.write_text(report_html(built), encoding="utf-8")
    elif chosen == "pdf":
        output.write_bytes(report_pdf(built))
    else:
        output.write_bytes(report_xlsx(built))
    kpis = len(built.cards)
    click.echo(f"Wrote the report of {built.period} ({kpis} KPIs) to {output}.", err=True)
