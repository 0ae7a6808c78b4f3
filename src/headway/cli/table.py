"""`headway compute --format table`: one readable table per KPI, coloured on a terminal only."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from headway.engine.compute import Number, ResultRow
from headway.engine.model import Direction, Status, Unit
from headway.engine.workspace import Workspace

# A status is a mark and a word, never colour alone.
STATUS_MARKS = {
    Status.GREEN: "● green",
    Status.AMBER: "▲ amber",
    Status.RED: "■ red",
    Status.NONE: "○ none",
}


def format_value(value: Number | None, unit: Unit, currency: str) -> str:
    if value is None:
        return "—"
    match unit:
        case Unit.PERCENT:
            return f"{value * 100:.1f}%"
        case Unit.CURRENCY:
            return f"{value:,.0f} {currency}"
        case Unit.COUNT:
            return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
        case Unit.SCORE:
            return f"{value:.2f}"
        case Unit.NUMBER:
            return f"{value:,.4g}"


def print_table(workspace: Workspace, rows: Sequence[ResultRow], by: str | None) -> None:
    console = Console()
    if not console.is_terminal:
        # Piped output is plain text; do not squeeze it into an imaginary 80 columns.
        console = Console(width=160, no_color=True, highlight=False)
    currency = workspace.model.organization.currency
    for key, kpi_rows in groupby(rows, key=lambda row: row.kpi):
        kpi = workspace.kpis[key].spec
        better = "higher is better" if kpi.direction is Direction.UP else "lower is better"
        table = Table(
            title=Text(f"{kpi.name} [{kpi.key}] · {kpi.grain.value} · {better}"),
            title_justify="left",
            box=box.SIMPLE_HEAVY,
            show_edge=False,
            min_width=72,
        )
        table.add_column("period")
        if by:
            table.add_column(by)
        for name in ("value", "target", "attainment"):
            table.add_column(name, justify="right")
        table.add_column("status", no_wrap=True)
        for row in kpi_rows:
            attainment = "—" if row.attainment is None else f"{row.attainment * 100:.0f}%"
            cells: list[str | Text] = [row.period.label]
            if by:
                cells.append(row.group if row.group is not None else "(empty)")
            cells += [
                format_value(row.value, kpi.unit, currency),
                format_value(row.target, kpi.unit, currency),
                attainment,
                Text(STATUS_MARKS[row.status], style=row.status.colour),
            ]
            table.add_row(*cells)
        console.print(table, markup=False)
        console.print()
