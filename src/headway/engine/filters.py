"""Measure filters: a small, vetted subset of SQL boolean expressions.

sqlglot parses the text; only the node types the workspace spec lists are accepted, so
a filter can never call a function, read another table or run a second statement. The
validated tree is rendered back to SQL with every column name quoted.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

MAX_FILTER_LENGTH = 2000
MAX_FILTER_DEPTH = 40
# Unicode categories of control, format (zero-width, bidi), surrogate, private-use and
# unassigned characters.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


class ColumnNeed(enum.StrEnum):
    """What a measure or filter needs a column's values to be."""

    ANY = "any"
    NUMBER = "number"
    BOOLEAN = "boolean"
    TIME = "time"
    TEXT = "text"


class FilterError(ValueError):
    """A filter that is not allowed or cannot be parsed; the text is a sentence for people."""


@dataclass(frozen=True)
class LiteralComparison:
    """A column compared with a literal: the literal must fit the column's final type."""

    column: str
    literal: str
    is_string: bool


@dataclass(frozen=True)
class Filter:
    """A parsed, vetted filter."""

    text: str
    expression: exp.Expr
    columns: tuple[str, ...]
    needs: dict[str, ColumnNeed] = field(default_factory=dict)
    comparisons: tuple[LiteralComparison, ...] = ()

    def sql(self, dialect: str = "duckdb") -> str:
        # Comments are dropped: nothing of the user's text but names and literals reaches SQL.
        return self.expression.sql(dialect=dialect, identify=True, comments=False)


_COMPARISONS = (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE)
_COMPARISON_WORDS = {
    exp.EQ: "=",
    exp.NEQ: "!=",
    exp.LT: "<",
    exp.LTE: "<=",
    exp.GT: ">",
    exp.GTE: ">=",
}


def _describe(node: exp.Expr) -> str:
    if isinstance(node, exp.Func | exp.Anonymous):
        name = node.sql_name() if not isinstance(node, exp.Anonymous) else node.name
        return f"a function call ({name.lower()}(...))"
    if isinstance(node, exp.Subquery | exp.Select | exp.Query):
        return "a subquery"
    if isinstance(node, exp.Like | exp.ILike):
        return "LIKE"
    if isinstance(node, exp.Between):
        return "BETWEEN"
    if isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Div | exp.Mod | exp.DPipe):
        return "arithmetic"
    if isinstance(node, exp.Binary):
        return f"the operator {node.key.upper()}"
    return f"{node.key.upper()}"


# The numbers DuckDB reads as numbers: sqlglot's reader also takes shapes such as 1e400.5.
_NUMBER = re.compile(r"(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _check_number(literal: exp.Literal) -> None:
    if not _NUMBER.fullmatch(str(literal.this)):
        raise FilterError(f"{literal.this} is not a number: numbers look like 12, 0.5 or 1e3")


class _Checker:
    def __init__(self) -> None:
        self.columns: list[str] = []
        self.needs: dict[str, ColumnNeed] = {}
        self.comparisons: list[LiteralComparison] = []

    def need(self, column: str, need: ColumnNeed) -> None:
        if column not in self.columns:
            self.columns.append(column)
        current = self.needs.get(column, ColumnNeed.ANY)
        if need is ColumnNeed.ANY or current is need:
            self.needs.setdefault(column, current)
            return
        if current is ColumnNeed.ANY:
            self.needs[column] = need
            return
        raise FilterError(f"the column {column} is used both as a {current} and as a {need}")

    def column_name(self, node: exp.Expr) -> str:
        assert isinstance(node, exp.Column)
        if node.table or node.args.get("db") or node.args.get("catalog"):
            raise FilterError(
                f"{node.sql()} refers to another table: a filter may only use the columns "
                "of its own dataset"
            )
        if not isinstance(node.this, exp.Identifier):
            raise FilterError(f"{node.sql()} is not a column name")
        if not node.this.name:
            raise FilterError('"" is not a column name: a column name cannot be empty')
        return str(node.this.name)

    def condition(self, node: exp.Expr, depth: int) -> None:
        """A node in a boolean position."""
        if depth > MAX_FILTER_DEPTH:
            raise FilterError("the filter is nested too deeply")
        if isinstance(node, exp.And | exp.Or):
            self.condition(node.left, depth + 1)
            self.condition(node.right, depth + 1)
        elif isinstance(node, (exp.Not, exp.Paren)):
            self.condition(node.this, depth + 1)
        elif isinstance(node, exp.Column):
            self.need(self.column_name(node), ColumnNeed.BOOLEAN)
        elif isinstance(node, exp.Boolean):
            pass
        elif isinstance(node, _COMPARISONS):
            self.comparison(node)
        elif isinstance(node, exp.In):
            self.in_list(node)
        elif isinstance(node, exp.Is):
            self.is_null(node)
        else:
            raise FilterError(f"{_describe(node)} is not allowed in a filter")

    def operand(self, node: exp.Expr) -> exp.Expr:
        """A comparison side: a column or a literal, with parentheses and signs unwrapped."""
        while isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, exp.Neg):
            inner = node.this
            if isinstance(inner, exp.Literal) and not inner.is_string:
                _check_number(inner)
                return node
            raise FilterError("a minus sign is only allowed in front of a number")
        if isinstance(node, exp.Literal) and not node.is_string:
            _check_number(node)
        if isinstance(node, exp.Column | exp.Literal | exp.Boolean):
            return node
        if isinstance(node, exp.Null):
            raise FilterError("compare with null using 'is null' or 'is not null'")
        raise FilterError(f"{_describe(node)} is not allowed in a filter")

    def literal_need(self, column: str, literal: exp.Expr) -> None:
        if isinstance(literal, exp.Boolean):
            self.need(column, ColumnNeed.BOOLEAN)
        elif isinstance(literal, exp.Neg) or (
            isinstance(literal, exp.Literal) and not literal.is_string
        ):
            self.need(column, ColumnNeed.NUMBER)
        else:
            assert isinstance(literal, exp.Literal)
            self.need(column, ColumnNeed.ANY)
            self.comparisons.append(
                LiteralComparison(column=column, literal=literal.this, is_string=True)
            )

    def comparison(self, node: exp.Binary) -> None:
        left = self.operand(node.left)
        right = self.operand(node.right)
        if isinstance(left, exp.Column) and isinstance(right, exp.Column):
            # Two columns of a CSV file have no type to agree on ('9' > '10' as text),
            # and the spec's comparisons are between a column and a literal.
            raise FilterError(
                f"'{node.sql()}' compares two columns: compare a column with a literal value"
            )
        if isinstance(left, exp.Column):
            self.literal_need(self.column_name(left), right)
        elif isinstance(right, exp.Column):
            self.literal_need(self.column_name(right), left)
        else:
            raise FilterError(
                f"'{node.sql()}' compares two literals: one side of "
                f"{_COMPARISON_WORDS[type(node)]} must be a column"
            )

    def in_list(self, node: exp.In) -> None:
        for key in ("query", "unnest", "field"):
            if node.args.get(key) is not None:
                raise FilterError("IN may only list literal values, such as in ('web', 'ads')")
        subject = self.operand(node.this)
        if not isinstance(subject, exp.Column):
            raise FilterError("the left side of IN must be a column")
        column = self.column_name(subject)
        values = node.expressions
        if not values:
            raise FilterError("IN needs at least one value")
        for value in values:
            literal = self.operand(value)
            if isinstance(literal, exp.Column):
                raise FilterError("IN may only list literal values, such as in ('web', 'ads')")
            self.literal_need(column, literal)

    def is_null(self, node: exp.Is) -> None:
        if not isinstance(node.expression, exp.Null):
            raise FilterError("IS may only be followed by null or not null")
        subject = self.operand(node.this)
        if not isinstance(subject, exp.Column):
            raise FilterError("the left side of IS NULL must be a column")
        self.need(self.column_name(subject), ColumnNeed.ANY)


def parse_filter(text: str) -> Filter:
    """Parses and vets a filter; raises FilterError with a sentence naming what is wrong."""
    stripped = text.strip()
    if not stripped:
        raise FilterError("the filter is empty")
    if len(stripped) > MAX_FILTER_LENGTH:
        raise FilterError(f"the filter is longer than {MAX_FILTER_LENGTH} characters")
    for character in stripped:
        # DuckDB stops reading SQL at a NUL (the rest of the query is cut off), and
        # invisible characters make a filter read differently from what it does.
        if character not in "\t\n\r" and unicodedata.category(character) in _INVISIBLE:
            raise FilterError(
                "the filter contains an invisible or control character "
                f"(U+{ord(character):04X}); type it again without it"
            )
    try:
        parsed = sqlglot.parse(stripped, read="duckdb")
    except (ParseError, TokenError) as error:
        raise FilterError(f"the filter is not a valid expression: {_first_line(error)}") from None
    except RecursionError:
        raise FilterError("the filter is nested too deeply") from None
    except Exception as error:  # sqlglot raises other kinds on odd text, e.g. "=->" or "{:1}"
        raise FilterError(
            f"the filter is not a valid expression ({type(error).__name__})"
        ) from None
    statements = [statement for statement in parsed if statement is not None]
    if len(statements) != 1:
        raise FilterError("a filter is one expression, not several statements")
    expression = statements[0]
    checker = _Checker()
    try:
        checker.condition(expression, 0)
    except RecursionError:
        raise FilterError("the filter is nested too deeply") from None
    return Filter(
        text=stripped,
        expression=expression,
        columns=tuple(checker.columns),
        needs=dict(checker.needs),
        comparisons=tuple(checker.comparisons),
    )


def _first_line(error: Exception) -> str:
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    return message[:300]
