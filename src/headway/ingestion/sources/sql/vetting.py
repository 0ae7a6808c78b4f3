"""Vetting of a SQL source's query: one SELECT that reads, and nothing else.

`vet_query(sql, dialect)` parses the text with sqlglot in the database's dialect and
refuses, with a sentence that says what and why, anything that is not a single read:

- more than one statement (`SELECT 1; DROP TABLE t`), or a statement that is not a query
  at its root (INSERT, UPDATE, DELETE, MERGE, CREATE, DROP, ALTER, TRUNCATE, COPY, GRANT,
  SET, DO, CALL, EXECUTE, PREPARE, LOAD, ATTACH, PRAGMA, transaction control...). Text that
  sqlglot cannot parse into a tree, including what it keeps as an opaque `Command`, is
  refused: what cannot be checked is not run;
- anywhere in the tree, a node outside the allowlist below: writes hidden in a CTE
  (`WITH x AS (DELETE ... RETURNING *) SELECT ...`), `SELECT ... INTO` (a table, a file,
  variables), row locks (`FOR UPDATE`, `FOR SHARE`, `LOCK IN SHARE MODE`), variable
  assignment (`@x := 1`), parameters and placeholders (`$1`, `%s`, `?`, `@x`: the cursor
  is the only parameter and Headway binds it), MySQL optimizer hints (`/*+ SET_VAR(...) */`
  can lift the time limit);
- MySQL's executable comments (`/*! ... */`, `/*M! ... */`), which the server runs but a
  parser reads as comments;
- calls of functions on the denylist: functions that sleep, read or write the server's
  files, reach other servers, take advisory locks, cancel other sessions, change settings,
  advance sequences, or run SQL given as text (`query_to_xml`, `ts_stat`, `dblink`,
  `crosstab`...);
- control characters and invisible formatting characters (zero-width spaces, bidi
  overrides), which make a query read differently from what it does.

Why an allowlist of node types, and a denylist of functions. The shapes of a query are a
small, closed set (SELECT, set operations, subqueries, joins, CTEs, windows, predicates,
literals, operators), so they are allowed by type and every other type sqlglot knows
(about five hundred, most of them DDL and dialect-specific statements) is refused,
including types added by a future sqlglot. Functions cannot be handled that way: each
database has thousands, analytic queries use many of them, and a function unknown to
sqlglot parses as `Anonymous` with just a name. So any function is allowed except those
named on the denylist (matched after Unicode NFKC normalisation and case folding, by
exact name or prefix, and qualified names like `cron.schedule` by their schema). The
denylist cannot know a company's own functions: that is why the query also runs in a
read-only transaction with a time limit (see `execute`), and why the documentation asks
for a database user that may only read.

What is run is what was checked: the accepted tree is rendered back to SQL (comments
dropped), that text is parsed and vetted again, and rendering it once more must give the
same text. The database therefore never sees the person's original text, only sqlglot's
rendering of a vetted tree, so a difference between how sqlglot and the server read
comments, quotes or escapes cannot smuggle anything past the check.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import unicodedata
from typing import Final

import sqlglot.errors
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.tokenizer_core import Token, TokenType

from headway.ingestion.sources.base import SourceError
from headway.lib.security_log import security_event

__all__ = [
    "DIALECTS",
    "MAX_NESTING",
    "MAX_QUERY_LENGTH",
    "denied_function",
    "render",
    "sqlglot_dialect",
    "vet_query",
]

MAX_QUERY_LENGTH: Final = 100_000
# Parentheses nested deeper than this are refused before parsing (the parser recurses).
MAX_NESTING: Final = 64

# The names a configuration may use for a dialect, to sqlglot's names.
DIALECTS: Final[dict[str, str]] = {
    "postgres": "postgres",
    "postgresql": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
}

# Node types a query may contain, besides functions (any exp.Func but the denied ones),
# operators (exp.Binary but assignment, exp.Unary) and predicates (exp.Predicate).
_ALLOWED_NODES: Final[tuple[type[exp.Expr], ...]] = (
    # The query and its clauses.
    exp.Select,
    exp.Union,
    exp.Intersect,
    exp.Except,
    exp.Subquery,
    exp.With,
    exp.CTE,
    exp.RecursiveWithSearch,
    exp.From,
    exp.Join,
    exp.Lateral,
    exp.Where,
    exp.Group,
    exp.GroupingSets,
    exp.Cube,
    exp.Rollup,
    exp.Having,
    exp.Qualify,
    exp.Order,
    exp.Ordered,
    exp.Limit,
    exp.Offset,
    exp.Fetch,
    exp.LimitOptions,
    exp.Distinct,
    exp.Window,
    exp.WindowSpec,
    exp.Filter,
    exp.WithinGroup,
    exp.IgnoreNulls,
    exp.RespectNulls,
    exp.TableSample,
    exp.IndexTableHint,
    exp.Values,
    exp.Tuple,
    # Names.
    exp.Table,
    exp.TableAlias,
    exp.Alias,
    exp.Aliases,
    exp.Column,
    exp.ColumnDef,
    exp.Identifier,
    exp.Star,
    exp.SessionParameter,
    # Values and types.
    exp.Literal,
    exp.Boolean,
    exp.Null,
    exp.Var,
    exp.Interval,
    exp.IntervalSpan,
    exp.DataType,
    exp.DataTypeParam,
    exp.PseudoType,
    exp.ObjectIdentifier,
    exp.CharacterSet,
    exp.Introducer,
    exp.HexString,
    exp.BitString,
    exp.ByteString,
    exp.RawString,
    exp.UnicodeString,
    exp.National,
    exp.AtTimeZone,
    exp.Bracket,
    exp.Slice,
    exp.JSONPath,
    exp.JSONPathPart,
    exp.JSONKeyValue,
    exp.OnCondition,
    exp.FormatJson,
    # `a -> b` inside a call: sqlglot reads a lambda where PostgreSQL sees a JSON operator.
    exp.Lambda,
)

_ALLOWED: Final = (*_ALLOWED_NODES, exp.Binary, exp.Unary, exp.Predicate)

_HINTS = (
    "optimizer hints (/*+ ... */) are not allowed: they can change settings such as the time limit"
)

# Refused node types with the reason, for types that someone may well try.
_REFUSED_REASONS: Final[tuple[tuple[type[exp.Expr], str], ...]] = (
    (exp.Into, "SELECT ... INTO writes the result into a table, a file or variables"),
    (exp.Lock, "FOR UPDATE / FOR SHARE locks rows; a source only reads"),
    (exp.PropertyEQ, "assigning a variable (:=) is not allowed; a source only reads"),
    (exp.Hint, _HINTS),
    (
        exp.Parameter,
        "parameters and variables ($1, @name) are not allowed; the cursor is the only "
        "parameter and Headway binds it",
    ),
    (
        exp.Placeholder,
        "placeholders (%s, ?, :name) are not allowed; the cursor is the only parameter and "
        "Headway binds it",
    ),
    (exp.Set, "SET changes settings; a source only reads"),
    (exp.Command, "this statement is not a query"),
)

# Functions with side effects, or that read files, reach other servers, wait, lock, or run
# SQL given as text, on PostgreSQL and MySQL/MariaDB (both lists apply to both).
_DENIED_FUNCTIONS: Final = frozenset(
    {
        # PostgreSQL
        "pg_stat_file",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_signal_backend",
        "set_config",
        "pg_reload_conf",
        "nextval",
        "setval",
        "pg_current_xact_id",
        "pg_notify",
        "pg_promote",
        "pg_start_backup",
        "pg_stop_backup",
        "pg_log_backend_memory_contexts",
        "pg_current_logfile",
        "pg_logdir_ls",
        "pg_prewarm",
        "pg_stat_statements_reset",
        "gin_clean_pending_list",
        "loread",
        "lowrite",
        "ts_stat",
        "ts_rewrite",
        # MySQL and MariaDB
        "sleep",
        "benchmark",
        "load_file",
        "get_lock",
        "release_lock",
        "release_all_locks",
        "is_free_lock",
        "is_used_lock",
        "master_pos_wait",
        "source_pos_wait",
        "master_gtid_wait",
        "wait_for_executed_gtid_set",
        "wait_until_sql_thread_after_gtids",
        "next_value_for",
    }
)
_DENIED_PREFIXES: Final = (
    # PostgreSQL
    "pg_sleep",  # pg_sleep, pg_sleep_for, pg_sleep_until
    "pg_read_",  # pg_read_file, pg_read_binary_file
    "pg_ls_",  # pg_ls_dir, pg_ls_logdir, pg_ls_waldir, pg_ls_tmpdir, ...
    "pg_file_",  # adminpack: pg_file_write, pg_file_rename, pg_file_unlink
    "lo_",  # large objects: lo_import, lo_export, lo_create, lo_put, ...
    "dblink",  # dblink, dblink_exec, dblink_connect, ...
    "txid_",  # txid_current assigns a transaction id
    "pg_advisory",
    "pg_try_advisory",
    "query_to_xml",  # query_to_xml, query_to_xmlschema, query_to_xml_and_xmlschema
    "cursor_to_xml",
    "table_to_xml",
    "schema_to_xml",
    "database_to_xml",
    "pg_logical_",
    "pg_replication_",
    "pg_create_",  # replication slots, restore points
    "pg_drop_",
    "pg_copy_",
    "pg_stat_reset",
    "pg_backup_",
    "pg_switch_",
    "pg_wal_replay_",
    "pg_xlog_replay_",
    "pg_rotate_logfile",
    "pg_import_",
    "pg_background",
    "brin_",  # brin_summarize_new_values and friends write to indexes
    "http",  # the pgsql-http extension: http_get, http_post, ...
    # Contrib functions that run SQL given as text, which no check here reads: tablefunc's
    # crosstab, crosstab2..4 and connectby, xml2's xpath_table.
    "crosstab",
    "connectby",
    "xpath_table",
    # MySQL and MariaDB user-defined functions that run programs
    "sys_",  # sys_exec, sys_eval, sys_get, sys_set
    "lib_mysqludf",
)
# Schemas of extensions whose functions act on the server or the network.
_DENIED_SCHEMAS: Final = frozenset({"cron", "net", "dblink"})

_ALLOWED_CONTROL = frozenset("\t\n\r")


def sqlglot_dialect(dialect: str) -> str:
    """sqlglot's name of a dialect given as postgres, postgresql, mysql or mariadb."""
    try:
        return DIALECTS[dialect.lower()]
    except KeyError:
        raise SourceError(
            f"the SQL dialect {dialect!r} is not supported; use postgres or mysql"
        ) from None


def render(expression: exp.Expr, dialect: str) -> str:
    """The SQL text of a tree, in the dialect, without comments and with function names
    as written."""
    return expression.sql(
        dialect=sqlglot_dialect(dialect), comments=False, normalize_functions=False
    )


def _normal_name(name: str) -> str:
    """A function or schema name as compared with the denylist: NFKC, case folded."""
    return unicodedata.normalize("NFKC", name).casefold().strip('"`')


def denied_function(name: str) -> bool:
    """Whether a function of that name (unqualified) is on the denylist."""
    normal = _normal_name(name)
    return normal in _DENIED_FUNCTIONS or normal.startswith(_DENIED_PREFIXES)


def _function_names(node: exp.Func) -> list[str]:
    if isinstance(node, exp.Anonymous):
        return [node.name]
    names = [node.key]
    with contextlib.suppress(NotImplementedError):  # an abstract function class
        names.extend(type(node).sql_names())
    return names


def _function_schema(node: exp.Func) -> str | None:
    """The schema a function call is qualified with (`cron` in `cron.schedule(...)`)."""
    parent = node.parent
    if isinstance(parent, exp.Table) and parent.this is node and parent.db:
        return str(parent.db)  # FROM cron.job_run_details(...)
    if isinstance(parent, exp.Dot) and parent.expression is node:
        qualifier = parent.this
        if isinstance(qualifier, exp.Column | exp.Identifier | exp.Var | exp.Dot):
            parts = qualifier.sql().split(".")
            return parts[-1]
    return None


_STATEMENTS: Final = (
    exp.DML,
    exp.DDL,
    exp.Drop,
    exp.Alter,
    exp.TruncateTable,
    exp.Command,
    exp.Set,
    exp.Pragma,
    exp.Use,
    exp.Grant,
    exp.Revoke,
    exp.Describe,
    exp.Show,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Kill,
    exp.Analyze,
    exp.LoadData,
    exp.Attach,
    exp.Detach,
    exp.Values,
)
_KEYWORDS: Final = {"truncatetable": "TRUNCATE", "describe": "EXPLAIN/DESCRIBE", "loaddata": "LOAD"}


def _describe(node: exp.Expr) -> str:
    """`an INSERT statement`, `a DO statement`, `LAMBDA`: what a refused node is."""
    if isinstance(node, exp.Command):
        words = str(node.this or "").split(maxsplit=1)
        word = words[0].upper() if words else "COMMAND"
    elif isinstance(node, _STATEMENTS):
        word = _KEYWORDS.get(node.key, node.key.upper())
    else:
        return node.key.upper()
    article = "an" if word[0] in "AEIO" or word.startswith("UP") else "a"
    return f"{article} {word} statement"


def _refusal(node: exp.Expr) -> str | None:
    """Why the node is refused, or None if it may stay."""
    if isinstance(node, exp.PropertyEQ):
        return dict(_REFUSED_REASONS)[exp.PropertyEQ]
    if isinstance(node, exp.Func):
        names = _function_names(node)
        for name in names:
            if denied_function(name):
                return (
                    f"the function {_normal_name(names[0])}() is not allowed in a source "
                    "query: it has side effects, waits, or reaches files or other servers"
                )
        schema = _function_schema(node)
        if schema is not None and _normal_name(schema) in _DENIED_SCHEMAS:
            return (
                f"functions of the schema {_normal_name(schema)} are not allowed in a source "
                "query: they act on the server or the network"
            )
        return None
    if isinstance(node, _ALLOWED):
        return None
    for refused, reason in _REFUSED_REASONS:
        if isinstance(node, refused):
            return reason
    if isinstance(node, exp.DML | exp.DDL | exp.Drop | exp.Alter | exp.TruncateTable):
        return f"{_describe(node)} writes; a source query may only read"
    return f"{_describe(node)} is not allowed in a source query"


def _check_characters(sql: str) -> None:
    for character in sql:
        if character in _ALLOWED_CONTROL:
            continue
        category = unicodedata.category(character)
        if category in ("Cc", "Cf", "Cs", "Co", "Cn") or character in "\u2028\u2029":
            raise SourceError(
                f"the query contains an invisible or control character "
                f"(U+{ord(character):04X}); type it again without it"
            )


def _check_tokens(tokens: list[Token]) -> None:
    depth = 0
    for token in tokens:
        if token.token_type in (TokenType.L_PAREN, TokenType.L_BRACKET):
            depth += 1
            if depth > MAX_NESTING:
                raise SourceError(
                    f"the query nests parentheses more than {MAX_NESTING} deep; simplify it"
                )
        elif token.token_type in (TokenType.R_PAREN, TokenType.R_BRACKET):
            depth -= 1
        # On both dialects, though PostgreSQL reads them as plain comments: a query
        # written with them was written for MySQL's reading.
        for comment in token.comments:
            if comment.startswith(("!", "M!", "m!")):
                raise SourceError(
                    "MySQL executable comments (/*! ... */) are not allowed: the server runs "
                    "what they contain"
                )
            if comment.startswith("+"):
                raise SourceError(_HINTS)


def _parse(sql: str, dialect: str) -> exp.Expr:
    """The one statement of the text, parsed; SourceError for anything else."""
    parser_dialect = Dialect.get_or_raise(dialect)
    try:
        tokens = parser_dialect.tokenize(sql)
        _check_tokens(tokens)
        statements = [
            statement
            for statement in parser_dialect.parser().parse(tokens, sql)
            if statement is not None
        ]
    except SourceError:
        raise
    except RecursionError:
        raise SourceError("the query is nested too deeply to be checked; simplify it") from None
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError) as error:
        raise SourceError(
            f"the query could not be read as one {_system(dialect)} SELECT: {_first_line(error)}"
        ) from None
    except Exception as error:  # sqlglot may raise other errors on odd text
        raise SourceError(
            f"the query could not be read as one {_system(dialect)} SELECT ({type(error).__name__})"
        ) from None
    statements = [s for s in statements if not isinstance(s, exp.Semicolon)]
    if not statements:
        raise SourceError("the query is empty")
    if len(statements) > 1:
        raise SourceError(
            f"the query holds {len(statements)} statements; a source query is one SELECT "
            "(no ';' between statements)"
        )
    return statements[0]


def _check_tree(root: exp.Expr) -> exp.Query:
    query = root
    while isinstance(query, exp.Subquery) and not query.alias:
        query = query.this
    if not isinstance(query, exp.Select | exp.SetOperation):
        what = _describe(query) if isinstance(query, _STATEMENTS) else "not a SELECT statement"
        raise SourceError(
            "a source query must be one SELECT (or WITH ... SELECT, or SELECTs joined by "
            f"UNION, INTERSECT or EXCEPT); this is {what}"
        )
    for node in root.walk():
        reason = _refusal(node)
        if reason is not None:
            raise SourceError(reason)
    return query


def _system(dialect: str) -> str:
    return "PostgreSQL" if dialect == "postgres" else "MySQL/MariaDB"


def _first_line(error: Exception) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:300]


def vet_query(sql: str, dialect: str) -> exp.Query:
    """The query's tree if it is one SELECT that only reads; SourceError saying what is
    refused otherwise. `dialect` is postgres, postgresql, mysql or mariadb.

    The tree returned is the parse of its own rendering (`render`), which is the text the
    database will run. Each refusal is also a line in the security log."""
    try:
        return _vet_query(sql, dialect)
    except SourceError as error:
        text = sql if isinstance(sql, str) else repr(sql)
        security_event(
            "sql.refused",
            level=logging.WARNING,
            dialect=dialect,
            reason=str(error),
            length=len(text),
            # The query itself may hold names and values that are not the log's business.
            sha256=hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16],
        )
        raise


def _vet_query(sql: str, dialect: str) -> exp.Query:
    if not isinstance(sql, str):
        raise SourceError("the query must be text")
    name = sqlglot_dialect(dialect)
    text = sql.strip()
    if not text:
        raise SourceError("the query is empty")
    if len(text) > MAX_QUERY_LENGTH:
        raise SourceError(f"the query is longer than {MAX_QUERY_LENGTH:,} characters")
    _check_characters(text)
    first = _parse(text, name)
    try:
        _check_tree(first)
        rendered = render(first, name)
        again = _parse(rendered, name)
        query = _check_tree(again)
        stable = render(again, name) == rendered
    except SourceError:
        raise
    except RecursionError:
        raise SourceError("the query is nested too deeply to be checked; simplify it") from None
    except Exception as error:  # a rendering sqlglot cannot produce
        raise SourceError(
            f"the query could not be checked reliably ({type(error).__name__}); "
            "write it more plainly"
        ) from None
    if not stable:
        raise SourceError(
            "the query could not be checked reliably (it does not read back the same); "
            "write it more plainly"
        )
    return query
