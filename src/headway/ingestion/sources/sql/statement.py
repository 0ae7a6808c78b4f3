"""The statement a fetch runs, built as a sqlglot tree around the table or vetted query.

A table becomes `SELECT * FROM "schema"."table"`; a query becomes the subquery of
`SELECT * FROM (<query>) AS headway_rows`. With a cursor column the statement reads
`WHERE <cursor column> > <cursor> ORDER BY <cursor column>`, and it always ends with
`LIMIT <row cap + 1>`, so the server stops after one row more than a sync may take (that
row is what tells "too many" from "exactly the cap").

No text of the person's is ever pasted into SQL: names are identifier nodes, the query is
the vetted tree, and the cursor value is bound as a parameter by the driver.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from sqlglot import exp

from headway.ingestion.sources.sql.config import SqlConfig, parse_column, parse_table
from headway.ingestion.sources.sql.vetting import render, vet_query

__all__ = ["ROWS_ALIAS", "Statement", "build_statement"]

ROWS_ALIAS = "headway_rows"
_INTEGER = re.compile(r"-?[0-9]{1,18}")


@dataclass(frozen=True)
class Statement:
    """SQL text for the driver, its parameters (the cursor, if any) and the name of the
    result column that holds the cursor."""

    sql: str
    params: tuple[object, ...]
    cursor_column: str | None


def _cursor_parameter(cursor: str, dialect: str) -> object:
    """The cursor as bound: text on PostgreSQL (sent untyped, so the server reads it as
    the column's type); on MySQL an integer when it is one, since MySQL compares an integer
    column with text as floating point numbers."""
    if dialect == "mysql" and _INTEGER.fullmatch(cursor):
        return int(cursor)
    return cursor


def build_statement(
    config: SqlConfig, *, cursor: str | None, limit: int, order: bool = True
) -> Statement:
    """The statement that reads the rows after `cursor` (all rows when None), at most
    `limit` of them, in the order of the cursor column (unless `order` is False, for a
    check that reads no rows). Raises SourceError if the query does not pass vetting."""
    dialect = config.dialect
    column: exp.Identifier | None = (
        parse_column(config.cursor_column, dialect) if config.cursor_column else None
    )
    select = exp.Select().select(exp.Star())
    if config.query is not None:
        query = vet_query(config.query, dialect)
        alias = exp.TableAlias(this=exp.Identifier(this=ROWS_ALIAS, quoted=True))
        select = select.from_(exp.Subquery(this=query, alias=alias), copy=False)
        qualifier: exp.Identifier | None = exp.Identifier(this=ROWS_ALIAS, quoted=True)
    else:
        assert config.table is not None
        select = select.from_(parse_table(config.table, dialect), copy=False)
        qualifier = None
    params: tuple[object, ...] = ()
    sentinel = None
    if column is not None:
        reference = exp.Column(this=column.copy(), table=qualifier)
        if cursor is not None:
            # A marker no text of the query contains stands where the driver's placeholder
            # goes, so that the placeholder is added to the rendered text, not to the tree.
            base = render(select, dialect)
            sentinel = f"headway_cursor_{secrets.token_hex(8)}"
            while sentinel in base:  # pragma: no cover - 64 random bits
                sentinel = f"headway_cursor_{secrets.token_hex(8)}"
            select = select.where(exp.GT(this=reference, expression=exp.var(sentinel)), copy=False)
            params = (_cursor_parameter(cursor, dialect),)
        # Each database's own order for nulls (first on MySQL, last on PostgreSQL), so that
        # sqlglot does not emulate another one with an expression no index serves.
        if order:
            ordered = exp.Ordered(this=reference.copy(), nulls_first=dialect == "mysql")
            select = select.order_by(ordered, copy=False)
    select = select.limit(limit, copy=False)
    sql = render(select, dialect)
    if sentinel is not None:
        # Both drivers read %s as the placeholder when there are parameters, and %% as %.
        sql = sql.replace("%", "%%").replace(sentinel, "%s")
    return Statement(
        sql=sql, params=params, cursor_column=column.name if column is not None else None
    )
