"""Coverage-guided fuzzing of the formula and filter parsers with atheris (libFuzzer).

Each input is split by its first byte: even feeds the formula parser, odd the measure
filter parser, the rest of the bytes as text. Either parser may refuse the text with its
own error (FormulaError, FilterError, both ValueErrors with a sentence for people);
anything else it raises is a crash, and an accepted text must give a tree that denotes
nothing but arithmetic over measure names (formulas) or comparisons of columns with
literals (filters). The slowest input is recorded: the goal is that none takes a second.

    uv run python bench/fuzz_formula.py -runs=100000              # a bounded run
    uv run python bench/fuzz_formula.py -runs=2000 -seed=1 CORPUS/  # seeded from files

libFuzzer's own options apply (-runs, -seed, -max_len, -timeout, a corpus folder).
With HEADWAY_FUZZ_STATS=path, the count of inputs and the slowest and mean parse times
are written there as JSON while it runs (bench/security_inputs.py reads them).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time

import atheris
import duckdb
from sqlglot import exp

with atheris.instrument_imports(include=["headway.engine.formula", "headway.engine.filters"]):
    from headway.engine import filters, formula

_DUCKDB = duckdb.connect(":memory:")
# SELECT_NODE's parts besides the WHERE clause are the same for every filter.
_DUCKDB_CLASSES = {"CONJUNCTION", "COMPARISON", "OPERATOR", "COLUMN_REF", "CONSTANT", "CAST"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STATS = os.environ.get("HEADWAY_FUZZ_STATS")
_FILTER_NODES = (
    exp.And,
    exp.Or,
    exp.Not,
    exp.Paren,
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Boolean,
    exp.Null,
    exp.Neg,
    exp.EQ,
    exp.NEQ,
    exp.LT,
    exp.LTE,
    exp.GT,
    exp.GTE,
    exp.In,
    exp.Is,
)


class Stats:
    """Inputs tried and parse times, per parser."""

    def __init__(self) -> None:
        self.count = {"formula": 0, "filter": 0}
        self.total = {"formula": 0.0, "filter": 0.0}
        self.slowest = {"formula": 0.0, "filter": 0.0}
        self.slowest_input = {"formula": "", "filter": ""}

    def add(self, kind: str, seconds: float, text: str) -> None:
        self.count[kind] += 1
        self.total[kind] += seconds
        slower = seconds > self.slowest[kind]
        if slower:
            self.slowest[kind] = seconds
            self.slowest_input[kind] = text[:200]
        if _STATS and (slower or sum(self.count.values()) % 250 == 0):
            self.write(_STATS)

    def write(self, path: str) -> None:
        data = {
            kind: {
                "inputs": self.count[kind],
                "max_seconds": self.slowest[kind],
                "mean_seconds": self.total[kind] / self.count[kind] if self.count[kind] else 0,
                "slowest_input": self.slowest_input[kind],
            }
            for kind in self.count
        }
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(data, handle)


STATS = Stats()


def check_formula(tree: formula.Node) -> None:
    """An accepted formula names measures by plain identifiers and evaluates to a number
    (or None) by asking only for measure values."""
    for name in formula.measure_names(tree):
        if not _NAME.fullmatch(name) or name == formula.PREV:
            raise AssertionError(f"odd measure name {name!r}")
    asked: list[str] = []

    def value_of(name: str, offset: int) -> int:
        asked.append(name)
        return 1

    value = formula.evaluate(tree, value_of)
    if value is not None and not isinstance(value, int | float):
        raise AssertionError(f"a formula gave {type(value).__name__}")
    if not set(asked) <= set(formula.measure_names(tree)):
        raise AssertionError("the evaluator asked for a name the formula does not hold")


def check_filter(parsed: filters.Filter) -> None:
    """An accepted filter holds only comparisons, IN, IS NULL, AND/OR/NOT, columns and
    literals, and its SQL reads back as the same tree."""
    for node in parsed.expression.walk():
        if not isinstance(node, _FILTER_NODES):
            raise AssertionError(f"a filter kept a {type(node).__name__} node")
    sql = parsed.sql()
    again = filters.parse_filter(sql)
    if again.sql() != sql:
        raise AssertionError("the filter's SQL does not read back the same")
    # DuckDB's own parser must read the same columns and nothing that could run.
    row = _DUCKDB.execute("SELECT json_serialize_sql(?)", ["SELECT 1 FROM t WHERE " + sql])
    document = json.loads((row.fetchone() or ("{}",))[0])
    if document.get("error") is not False:
        raise AssertionError(f"DuckDB cannot read the filter's SQL {sql!r}: {document}")
    classes = set(re.findall(r'"class":"([A-Z_]+)"', json.dumps(document, separators=(",", ":"))))
    if not classes <= _DUCKDB_CLASSES:
        raise AssertionError(f"DuckDB reads {sorted(classes - _DUCKDB_CLASSES)} in {sql!r}")


def test_one_input(data: bytes) -> None:
    if not data:
        return
    kind = "formula" if data[0] % 2 == 0 else "filter"
    text = atheris.FuzzedDataProvider(data[1:]).ConsumeUnicodeNoSurrogates(len(data))
    started = time.perf_counter()
    tree: formula.Node | None = None
    parsed: filters.Filter | None = None
    try:
        if kind == "formula":
            tree = formula.parse_formula(text)
        else:
            parsed = filters.parse_filter(text)
    except (formula.FormulaError, filters.FilterError):
        pass
    STATS.add(kind, time.perf_counter() - started, text)  # the parse alone, not the checks
    if tree is not None:
        check_formula(tree)
    if parsed is not None:
        check_filter(parsed)


def main() -> None:
    # First calls import and set up sqlglot's dialect: not a parse time worth recording.
    formula.parse_formula("a + prev(b)")
    filters.parse_filter("a = 1 and b in ('x', 'y')")
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
