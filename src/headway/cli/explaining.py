"""`headway explain` as text."""

from __future__ import annotations

from headway.cli.output import number_text
from headway.engine.explain import explain
from headway.engine.workspace import Workspace


def explain_kpi(workspace: Workspace, key: str, period: str | None, by: str | None) -> str:
    facts = explain(workspace, key, period, by)
    lines = [f"{facts.kpi_name} ({facts.kpi_key}), {facts.period.label}", ""]
    lines += ["What it is", f"  {facts.definition}", f"  Formula: {facts.formula}", ""]
    lines.append("Measures")
    for measure, words in facts.measures:
        lines.append(f"  {measure.name}: {words}")
    lines += [
        "",
        "Period",
        f"  {facts.period.label}: from {facts.local_start} up to (not including) "
        f"{facts.local_end}, local time in {facts.timezone}",
        "",
        "Measure values behind the number",
    ]
    for item in facts.inputs:
        back = f" ({item.periods_back} period(s) earlier)" if item.periods_back else ""
        lines.append(f"  {item.measure} in {item.period.label}{back} = {number_text(item.value)}")
    lines += ["", "Result"]
    for row in facts.rows:
        group = f" [{row.group}]" if row.group is not None else ""
        lines.append(
            f"  {row.period.label}{group}: value {number_text(row.value) or 'null'}, "
            f"target {number_text(row.target) or 'none'}, "
            f"attainment {number_text(row.attainment) or 'null'}, status {row.status.value}"
        )
    if facts.target_from is not None:
        reason = f": {facts.target_reason}" if facts.target_reason else ""
        lines.append(f"  The target applies from {facts.target_from}{reason}")
    lines += ["", "SQL sent to DuckDB"]
    for sql in facts.sql:
        lines += ["  " + line for line in sql.splitlines()]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
