"""Rows pushed over the API: a batch imported with exactly a file import's guarantees.

A batch (a list of JSON objects, one per row) is checked for its shape here (every row
has the table's columns, values are text, numbers, true/false or null), written as an
all-text Parquet file in a temporary folder, and imported with `import_file`: staged and
typed by the same rules as a CSV upload, all or nothing, upserted by the dataset's key,
idempotent, audited. See docs/ingestion.md and docs/api.md.

Rows are counted from 0 in what the API answers (`rows[0]` is row 0), and from 1 in the
import history (`RejectedRow.line`), like the rows of a spreadsheet.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from headway.accounts.models import User
from headway.accounts.permissions import can_create_anything
from headway.audit.errors import NotAllowed
from headway.audit.services import audit_record, snapshot
from headway.engine.problems import HeadwayError, Problem
from headway.ingestion.models import ImportRun, ImportStatus
from headway.ingestion.services import (
    _abandon_stale_runs,
    _dataset_lock,
    _fail,
    _file_facts,
    _stored_schema,
    import_file,
    preview_file,
)
from headway.ingestion.warehouse import MAX_REJECTED, BadValue, rows_to_parquet
from headway.kpis.models import Dataset

DEFAULT_MAX_PUSH_ROWS = 10_000
DEFAULT_MAX_PUSH_BYTES = 10 * 1024 * 1024
PUSHED_FILE = "pushed-rows.parquet"

Row = dict[str, object]


class BatchTooLarge(Exception):
    """A batch over the push limits; refused before anything is read or written."""


@dataclass(frozen=True)
class RowProblem:
    """One bad value of a batch: its row (counted from 0), column, value and why."""

    row: int | None
    field: str
    value: str | None
    message: str


def push_limits() -> tuple[int, int]:
    """The most rows and JSON bytes one push may carry (settings may lower or raise them)."""
    rows = int(getattr(settings, "HEADWAY_PUSH_MAX_ROWS", DEFAULT_MAX_PUSH_ROWS))
    size = int(getattr(settings, "HEADWAY_PUSH_MAX_BYTES", DEFAULT_MAX_PUSH_BYTES))
    return rows, size


def check_batch_size(*, rows: int, size: int) -> None:
    """Refuses a batch over the limits, with the limit it is over."""
    max_rows, max_bytes = push_limits()
    if rows > max_rows:
        raise BatchTooLarge(
            f"the batch has {rows:,} rows; a push takes at most {max_rows:,} (send several)"
        )
    if size > max_bytes:
        raise BatchTooLarge(
            f"the batch is {size:,} bytes of JSON; a push takes at most {max_bytes:,} "
            "(send several)"
        )


def _text(value: object) -> str | None:
    """A JSON value as the text a CSV cell would hold; the import types it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _shown(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)[:1000]


# As the workspace's column names (headway.engine.model.ColumnName).
MAX_COLUMN_NAME = 200


def column_name_problem(name: str) -> str | None:
    """Why a name sent for a new column cannot be one, if it cannot."""
    if not name.strip():
        return "a column name cannot be empty"
    if len(name) > MAX_COLUMN_NAME:
        return f"a column name has at most {MAX_COLUMN_NAME} characters"
    if any(unicodedata.category(character) in ("Cc", "Cs") for character in name):
        return "a column name cannot hold control characters"
    return None


def _columns(rows: list[Row], stored: list[str] | None, dataset: Dataset) -> list[str]:
    """The table's columns, or for a first push every name the batch uses, in its order
    (names that cannot be a column's are left out, and refused by `_shape`)."""
    if stored is not None:
        return stored
    names: dict[str, None] = {}
    for needed in (dataset.key_column, dataset.time_column):
        if needed:
            names[needed] = None
    for row in rows:
        if isinstance(row, dict):
            names.update(
                dict.fromkeys(str(name) for name in row if column_name_problem(str(name)) is None)
            )
    return list(names)


def _shape(
    dataset: Dataset, rows: list[Row], columns: list[str], first_push: bool
) -> tuple[list[dict[str, str | None]], list[BadValue]]:
    """The rows as text cells of the table's columns, and every value of a wrong shape
    (that cell is left empty, so that the import's checks still see the others)."""
    known = set(columns)
    cells: list[dict[str, str | None]] = []
    bad: list[BadValue] = []
    for index, row in enumerate(rows):
        line = index + 1
        out: dict[str, str | None] = dict.fromkeys(columns)
        if not isinstance(row, dict):
            bad.append(BadValue(line, line, "", _shown(row), "a row is a JSON object"))
            cells.append(out)
            continue
        for name, value in row.items():
            problem = column_name_problem(str(name)) if first_push else None
            if problem is not None:
                bad.append(
                    BadValue(line, line, str(name)[:MAX_COLUMN_NAME], _shown(value), problem)
                )
            elif name not in known:
                have = ", ".join(columns)
                bad.append(
                    BadValue(
                        line,
                        line,
                        str(name)[:MAX_COLUMN_NAME],
                        _shown(value),
                        f"is not a column of dataset {dataset.key} (its columns: {have}); "
                        "a new column needs a file import that accepts the schema change",
                    )
                )
            elif isinstance(value, dict | list):
                bad.append(
                    BadValue(
                        line,
                        line,
                        name,
                        _shown(value),
                        "is an object or a list; a value is text, a number, true, false or null",
                    )
                )
            elif isinstance(value, float) and not math.isfinite(value):
                bad.append(BadValue(line, line, name, repr(value), "is not a finite number"))
            else:
                out[name] = _text(value)
        for name in columns:
            if name not in row:
                why = (
                    "the key is missing"
                    if name == dataset.key_column
                    else "is missing: every row has every column"
                    + ("" if first_push else " of the table")
                    + " (send null for an empty value)"
                )
                bad.append(BadValue(line, line, name, None, why))
        cells.append(out)
    return cells, bad


def _write_parquet(cells: list[dict[str, str | None]], columns: list[str], folder: Path) -> Path:
    """The batch as a Parquet file whose columns are all text, as a CSV's are; null stays
    null and an empty string stays an empty string."""
    lines = folder / "rows.ndjson"
    with lines.open("w", encoding="utf-8") as handle:
        for row in cells:
            handle.write(json.dumps(row, ensure_ascii=False))
            handle.write("\n")
    path = folder / PUSHED_FILE
    rows_to_parquet(lines, columns, path)
    return path


def _refuse(
    *, dataset: Dataset, path: Path, by: User | None, source: str, rows: int, bad: list[BadValue]
) -> ImportRun:
    """Records a batch refused for its shape as a failed import, with every bad value:
    those of a wrong shape, and those the import's own checks find in the rest."""
    found = preview_file(dataset=dataset, path=path, rows=0)
    shaped = {(item.row, item.column) for item in bad}
    bad = bad + [item for item in found.bad if (item.row, item.column) not in shaped]
    bad.sort(key=lambda item: (item.row, item.column))
    bad_rows = len({item.row for item in bad}) + max(0, found.bad_rows - len(found.bad))
    with _dataset_lock(dataset):
        _abandon_stale_runs(dataset, by)
        sha256, size = _file_facts(path)
        with transaction.atomic():
            run = ImportRun.objects.create(
                dataset=dataset,
                started_at=timezone.now(),
                source=source,
                file_name=PUSHED_FILE,
                sha256=sha256,
                file_bytes=size,
                rows_in_file=rows,
                rejected=bad_rows,
                by=by,
            )
            audit_record(actor=by, action="import.start", target=run, after=snapshot(run))
        listed = bad[:MAX_REJECTED]
        more = f" (the first {len(listed)} are listed)" if len(listed) < len(bad) else ""
        _fail(run, by, f"{bad_rows} of {rows} rows are bad{more}; nothing was imported", listed)
    return run


def push_rows(
    *, dataset: Dataset, rows: list[Row], by: User | None, source: str = "api"
) -> ImportRun:
    """Imports a batch of rows into the dataset's table, upserting by its key.

    The same guarantees as `import_file`: the batch is checked as a whole, and one bad
    value fails it with nothing written (the returned run is `failed` and its `rejects`
    say where and why); pushing the same rows again changes nothing. Admins and team
    managers may push (`by=None` is the system). Raises NotAllowed, BatchTooLarge, and
    HeadwayError when the push cannot start (an empty batch, the dataset busy)."""
    if by is not None and not can_create_anything(by):
        raise NotAllowed("only admins and team managers may push rows into a dataset")
    check_batch_size(
        rows=len(rows), size=len(json.dumps(rows, ensure_ascii=False, default=str).encode())
    )
    if not rows:
        raise HeadwayError(Problem("the batch has no rows", key="rows"))
    stored = _stored_schema(dataset)
    columns = _columns(rows, [column.name for column in stored] if stored else None, dataset)
    cells, bad = _shape(dataset, rows, columns, first_push=stored is None)
    with tempfile.TemporaryDirectory(prefix="headway-push-") as folder:
        path = _write_parquet(cells, columns, Path(folder))
        if bad:
            return _refuse(
                dataset=dataset, path=path, by=by, source=source, rows=len(rows), bad=bad
            )
        return import_file(dataset=dataset, path=path, by=by, source=source)


_ALSO_ON_ROW = re.compile(r"also on row (\d+)$")


def push_problems(run: ImportRun) -> list[RowProblem]:
    """Why a push failed, value by value, rows counted from 0 as in the batch."""
    problems = []
    for reject in run.rejects.order_by("line", "pk"):
        message = _ALSO_ON_ROW.sub(
            lambda match: f"also in row {int(match.group(1)) - 1}", reject.reason
        )
        row = reject.line - 1 if reject.line is not None else None
        problems.append(RowProblem(row, reject.column, reject.value, message))
    if not problems and run.status != ImportStatus.SUCCEEDED:
        problems.append(RowProblem(None, "", None, run.error or "the push failed"))
    return problems
