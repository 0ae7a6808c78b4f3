"""`headway compute --format table`: a readable table, coloured on a terminal only."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from headway.engine.compute import Number, ResultRow
from headway.engine.model import Status, Unit
from headway.engine.workspace import Workspace

STATUS_MARKS = {
    Status.GREEN: "● on track",
    Status.AMBER: "▲ at risk",
    Status.RED: "■ off track",
    Status.NONE: "○ no target",
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
    currency = workspace.model.organization.currency
    table = Table(box=box.SIMPLE_HEAVY, show_edge=False)
    table.add_column("KPI", no_wrap=True, overflow="ellipsis", max_width=28)
    table.add_column("period")
    if by:
        table.add_column(by)
    for name in ("value", "target", "attainment"):
        table.add_column(name, justify="right")
    table.add_column("status")
    for row in rows:
        kpi = workspace.kpis[row.kpi].spec
        attainment = "—" if row.attainment is None else f"{row.attainment * 100:.0f}%"
        cells: list[str | Text] = [kpi.name, row.period.label]
        if by:
            cells.append(row.group if row.group is not None else "(none)")
        cells += [
            format_value(row.value, kpi.unit, currency),
            format_value(row.target, kpi.unit, currency),
            attainment,
            Text(STATUS_MARKS[row.status], style=row.status.colour),
        ]
        table.add_row(*cells)
    Console().print(table)
