"""Reading docs/permission-matrix.yaml: every cell (URL or operation, method, caller,
scope) with its expected outcome. See docs/permission-matrix.md for the notation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

MATRIX_FILE = Path(__file__).resolve().parents[2] / "docs" / "permission-matrix.yaml"
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")


@dataclass(frozen=True)
class Cell:
    """One thing one caller does to one object, and what must happen."""

    target: str  # a web URL name or an API operationId
    method: str
    caller: str
    scope: str | None
    expected: str

    def __str__(self) -> str:
        where = f" on {self.scope}" if self.scope else ""
        return f"{self.method} {self.target} by {self.caller}{where}"


def load() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(MATRIX_FILE.read_text(encoding="utf-8"))
    return data


def _pick(value: Any, method: str, scope: str | None, where: str) -> str:
    """An outcome, or a map by method or by scope that leads to one."""
    while isinstance(value, dict):
        if method in value:
            value = value[method]
        elif scope is not None and scope in value:
            value = value[scope]
        else:
            raise ValueError(f"{where}: no outcome for {method} on scope {scope!r} in {value}")
    return str(value)


def _lookup(tables: list[dict[str, Any]], groups: dict[str, list[str]], caller: str) -> Any:
    """The caller's entry in the first table that names the caller or one of its groups
    (the caller itself first, then its smallest group)."""
    by_size = sorted(groups.items(), key=lambda item: len(item[1]))
    for table in tables:
        if caller in table:
            return table[caller]
        for group, members in by_size:
            if caller in members and group in table:
                return table[group]
    return None


def cells(section: str) -> dict[str, list[Cell]]:
    """Every cell of the `ui` or the `api` section, by URL name or operationId."""
    matrix = load()
    groups: dict[str, list[str]] = matrix["groups"]
    callers = list(matrix["callers"])
    part = matrix[section]
    entries = part["urls"] if section == "ui" else part["operations"]
    found: dict[str, list[Cell]] = {}
    for target, entry in entries.items():
        entry = entry or {}
        write = bool(entry.get("write"))
        if section == "api":
            methods = ["WRITE" if write else "GET"]
        else:
            methods = entry.get("methods", ["GET"])
        scopes = entry.get("scopes") or [None]
        tables = [entry.get("expect") or {}]
        if write:
            tables.append(part.get("write_default") or {})
        tables.append(part["default"])
        rows = []
        for method in methods:
            for caller in callers:
                for scope in scopes:
                    if scope == "own" and caller == "anonymous":
                        continue  # nobody to own anything
                    value = _lookup(tables, groups, caller)
                    if value is None:
                        raise ValueError(f"{section}.{target}: nothing says what {caller} gets")
                    expected = _pick(value, method, scope, f"{section}.{target}.{caller}")
                    rows.append(Cell(target, method, caller, scope, expected))
        found[target] = rows
    return found
