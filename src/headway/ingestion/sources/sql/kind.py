"""The SQL database kind: `fetch` and `test_connection` over the parts of this package."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from headway.ingestion.sources.base import (
    FetchContext,
    KindConfig,
    RowSink,
    SourceError,
    SourceKind,
    cell_text,
    config_problems,
)
from headway.ingestion.sources.sql.config import Endpoint, SqlConfig, SqlSecrets
from headway.ingestion.sources.sql.execute import run_read_only
from headway.ingestion.sources.sql.statement import build_statement

__all__ = ["SqlKind", "test_connection"]


def _load(
    config: Mapping[str, Any], secrets: Mapping[str, Any], context: FetchContext
) -> tuple[SqlConfig, Endpoint]:
    problems = config_problems(SqlConfig, config) + config_problems(SqlSecrets, secrets)
    if problems:
        raise SourceError(
            f"{context.source_name}: the source's settings are not valid: {'; '.join(problems)}"
        )
    settings = SqlConfig.model_validate(dict(config))
    password = SqlSecrets.model_validate(dict(secrets)).password.get_secret_value()
    return settings, Endpoint(target=settings.target, password=password, tls=settings.tls)


def _timeout(settings: SqlConfig, context: FetchContext) -> float:
    return float(settings.timeout_seconds or context.statement_timeout)


class _Reader:
    """Receives the result: checks its columns, writes rows, keeps the cursor's last value."""

    def __init__(
        self,
        source_name: str,
        cursor_column: str | None,
        max_rows: int,
        sink: RowSink | None,
    ) -> None:
        self.source_name = source_name
        self.cursor_column = cursor_column
        self.max_rows = max_rows
        self.sink = sink
        self.names: list[str] = []
        self.cursor_index: int | None = None
        self.last: object = None
        self.rows = 0

    def columns(self, names: list[str]) -> None:
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise SourceError(
                    f"{self.source_name}: the query returns more than one column named "
                    f"{name!r}; give each column its own name (... AS another_name)"
                )
            seen.add(name)
        self.names = names
        if self.cursor_column is not None:
            self.cursor_index = _find(names, self.cursor_column)
            if self.cursor_index is None:
                raise SourceError(
                    f"{self.source_name}: the cursor column {self.cursor_column!r} is not "
                    f"among the columns of the result ({', '.join(names)})"
                )

    def row(self, values: Sequence[object]) -> None:
        if self.rows >= self.max_rows:
            raise SourceError(
                f"{self.source_name}: the query returned more than {self.max_rows:,} rows, "
                "the most this source takes in one sync (max_rows); narrow it (a filter, a "
                "cursor column) or raise max_rows"
            )
        self.rows += 1
        if self.sink is not None:
            self.sink.write(dict(zip(self.names, values, strict=True)))
        if self.cursor_index is not None:
            value = values[self.cursor_index]
            if value is not None:
                # Rows come ordered by the cursor column: the last value is the greatest,
                # in the database's own ordering.
                self.last = value

    def cursor(self, previous: str | None) -> str | None:
        if self.cursor_index is None:
            return None
        return cell_text(self.last) if self.last is not None else previous


def _find(names: list[str], wanted: str) -> int | None:
    if wanted in names:
        return names.index(wanted)
    folded = [index for index, name in enumerate(names) if name.casefold() == wanted.casefold()]
    return folded[0] if len(folded) == 1 else None


def test_connection(
    config: Mapping[str, Any], secrets: Mapping[str, Any], context: FetchContext
) -> None:
    """Connects, runs the source's statement with LIMIT 0 (vetted, read-only, with the
    time limit) and checks its columns; SourceError says what is wrong. For the "test
    connection" button: nothing is written anywhere."""
    settings, endpoint = _load(config, secrets, context)
    try:
        # No ORDER BY: a missing cursor column is then told by the check of the columns
        # below, in a sentence of ours, rather than by the server's error.
        statement = build_statement(settings, cursor=None, limit=0, order=False)
    except SourceError as error:
        raise SourceError(f"{context.source_name}: {error}") from None
    reader = _Reader(context.source_name, statement.cursor_column, max_rows=0, sink=None)
    run_read_only(
        endpoint,
        statement.sql,
        statement.params,
        timeout=_timeout(settings, context),
        source_name=context.source_name,
        on_columns=reader.columns,
        on_row=reader.row,
    )


test_connection.__test__ = False  # type: ignore[attr-defined]  # not a test for pytest


class SqlKind(SourceKind):
    """A table or one SELECT of a PostgreSQL, MySQL or MariaDB database."""

    name = "sql"
    label = "SQL database"
    description = (
        "Rows of a table or of one SELECT in PostgreSQL, MySQL or MariaDB, read in a "
        "read-only session with a time limit; incremental with a cursor column."
    )
    config_model: ClassVar[type[KindConfig]] = SqlConfig
    secrets_model: ClassVar[type[KindConfig]] = SqlSecrets
    incremental = True

    def fetch(
        self,
        config: Mapping[str, Any],
        secrets: Mapping[str, Any],
        cursor: str | None,
        sink: RowSink,
        context: FetchContext,
    ) -> str | None:
        settings, endpoint = _load(config, secrets, context)
        try:
            # One row more than either cap: the sink or the reader refuses it.
            limit = min(settings.max_rows, sink.max_rows) + 1
            statement = build_statement(settings, cursor=cursor, limit=limit)
        except SourceError as error:
            raise SourceError(f"{context.source_name}: {error}") from None
        reader = _Reader(context.source_name, statement.cursor_column, settings.max_rows, sink)
        run_read_only(
            endpoint,
            statement.sql,
            statement.params,
            timeout=_timeout(settings, context),
            source_name=context.source_name,
            on_columns=reader.columns,
            on_row=reader.row,
        )
        return reader.cursor(cursor)

    def test_connection(
        self, config: Mapping[str, Any], secrets: Mapping[str, Any], context: FetchContext
    ) -> None:
        """See the module's `test_connection`."""
        test_connection(config, secrets, context)
