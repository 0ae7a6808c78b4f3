"""A SQL database as a source: a table or one SELECT of PostgreSQL, MySQL or MariaDB.

The configuration is a URL without password (`postgresql://reader@db:5432/sales`,
`mysql://...`, `mariadb://...`), then either a table (`schema.table`) or a query (one
SELECT), an optional cursor column for incremental syncs, a row cap and a time limit; the
password is the one secret. See docs/sql-sources.md.

Three layers stand between a query and a write, each enough on its own for what it
covers:

1. `vetting.vet_query` accepts one SELECT built only of allowed node types, without
   denied functions, and what runs is sqlglot's rendering of that vetted tree;
2. `statement.build_statement` wraps it (cursor filter, order, row cap) as a tree, with
   the cursor bound as a parameter;
3. `execute.run_read_only` runs it in a read-only transaction of a read-only session,
   with a statement time limit, streaming rows in batches.

A database user that may only read is still the first protection: the documentation
asks for one.

The app calls `SqlKind().fetch(...)` (through the registry, as `sql`) and
`test_connection(config, secrets, context)` for a "test connection" button.
"""

from __future__ import annotations

from headway.ingestion.sources.sql.config import SqlConfig, SqlSecrets
from headway.ingestion.sources.sql.kind import SqlKind, test_connection
from headway.ingestion.sources.sql.vetting import vet_query

__all__ = ["SqlConfig", "SqlKind", "SqlSecrets", "test_connection", "vet_query"]
