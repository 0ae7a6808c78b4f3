"""Importing files into the warehouse: all or nothing, by key, and never half-applied.

An import holds the dataset's lock file for its whole run, stages and checks the file in
an in-memory DuckDB, writes the merged table to a new Parquet file and renames it over
the old one (atomic), then records the outcome in the app database in one transaction.
A crash at any point leaves the old table or the new one; the next import marks a run
the crash left `running` as abandoned. See docs/ingestion.md.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import io
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from django.conf import settings
from django.db import DatabaseError, InterfaceError, transaction
from django.utils import timezone

from headway.accounts.models import Organization, User
from headway.accounts.permissions import can_create_anything
from headway.audit.errors import NotAllowed
from headway.audit.services import audit_record, snapshot
from headway.engine.problems import HeadwayError, Problem
from headway.ingestion.models import DatasetSchema, ImportRun, ImportStatus, RejectedRow
from headway.ingestion.warehouse import (
    BadValue,
    Column,
    Drift,
    Staging,
    columns_from_json,
    replace_table,
    table_schema,
)
from headway.kpis.choices import Aggregation
from headway.kpis.models import Dataset
from headway.lib.spreadsheet import escape_formula_cell

DEFAULT_MAX_IMPORT_BYTES = 1024 * 1024 * 1024

# Tests set this to stop the process at a chosen step (see tests/ingestion/crash_import.py).
fault_hook: Callable[[str], None] | None = None

logger = logging.getLogger("headway.ingestion")


def _step(name: str) -> None:
    if fault_hook is not None:
        fault_hook(name)


Progress = Callable[[int, str], None]
"""Told each phase of an import as it begins: its number (1 to IMPORT_PHASES) and words."""

IMPORT_PHASES = 4


def _phase(run: ImportRun, number: int, words: str, progress: Progress | None) -> None:
    """Records the phase on the run, for the dataset page's live status, and tells the
    caller (the command line's progress bar)."""
    text = f"{number}/{IMPORT_PHASES}: {words}"
    ImportRun.objects.filter(pk=run.pk).update(progress=text[:200])
    if progress is not None:
        progress(number, words)


def table_path(dataset: Dataset) -> Path:
    """Where a dataset's table lives: one Parquet file per dataset in the warehouse."""
    return Path(settings.HEADWAY_WAREHOUSE_DIR) / f"{dataset.key}.parquet"


def _numeric_columns(dataset: Dataset) -> set[str]:
    """Columns the dataset's measures add up, average or compare: they must be numbers."""
    counting = {Aggregation.COUNT, Aggregation.COUNT_DISTINCT}
    return {
        measure.column
        for measure in dataset.measures.all()
        if measure.column and measure.agg not in counting
    }


def _time_columns(dataset: Dataset) -> list[str]:
    """The columns whose times place the dataset's rows in periods: its own time column
    and those its measures use instead."""
    names = [dataset.time_column] + [
        name for name in dataset.measures.values_list("time_column", flat=True) if name
    ]
    return [name for name in dict.fromkeys(names) if name]


def _stored_schema(dataset: Dataset) -> list[Column] | None:
    """The table's schema: the Parquet file itself when it exists (it is the truth, even
    after a crash between the rename and the database commit), else the recorded one."""
    found = table_schema(table_path(dataset))
    if found is not None:
        return found
    record = DatasetSchema.objects.filter(dataset=dataset).first()
    return columns_from_json(record.columns) if record is not None else None


def _staging(dataset: Dataset, path: Path, shown_file: str) -> Staging:
    return Staging(
        path=path,
        shown_file=shown_file,
        dataset=dataset.key,
        key_column=dataset.key_column,
        time_column=dataset.time_column,
        numeric_columns=_numeric_columns(dataset),
        timezone=Organization.current().timezone,
        step=_step,
        memory_limit=str(getattr(settings, "HEADWAY_IMPORT_MEMORY_LIMIT", "") or "") or None,
        spill_dir=Path(settings.DATA_DIR) / "tmp" / "imports",
    )


def _shown_name(path: Path, file_name: str | None) -> str:
    """The file as people know it: the name it was uploaded with, never the name or the
    folder it is staged under here."""
    return Path(file_name).name if file_name else path.name


def _without_path(text: str, path: Path, shown_file: str) -> str:
    """A message with the staged file's path (and its folder) replaced by the name people
    know it by: DuckDB's own errors name the file it read."""
    for staged in dict.fromkeys((str(path.resolve()), str(path), path.name)):
        text = text.replace(staged, shown_file)
    for folder in dict.fromkeys((str(path.resolve().parent), str(path.parent))):
        if len(folder) > 1:
            text = text.replace(folder, "")
    return text


def _file_facts(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


@contextmanager
def _dataset_lock(dataset: Dataset) -> Iterator[None]:
    """One import of a dataset at a time on this warehouse. The operating system frees
    the lock when the process ends, however it ends."""
    folder = Path(settings.HEADWAY_WAREHOUSE_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder / f".{dataset.key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HeadwayError(
                f"dataset {dataset.key}: another import is running; try again when it is done"
            ) from None
        yield
    finally:
        os.close(descriptor)


def _abandon_stale_runs(dataset: Dataset, by: User | None) -> None:
    """Runs still `running` while we hold the lock were stopped by a crash."""
    for run in ImportRun.objects.filter(dataset=dataset, status=ImportStatus.RUNNING):
        with transaction.atomic():
            run.status = ImportStatus.ABANDONED
            run.finished_at = timezone.now()
            run.error = (
                "the import stopped before it finished (the process ended); the table was "
                "left as it was before this import or as this import made it, never partly"
            )
            run.save(update_fields=["status", "finished_at", "error"])
            audit_record(
                actor=by,
                action="import.abandon",
                target=run,
                before={"status": ImportStatus.RUNNING},
                after={"status": run.status},
            )


def _remove_leftovers(table: Path) -> None:
    for leftover in table.parent.glob(f"{table.name}.tmp-*"):
        leftover.unlink(missing_ok=True)


def dataset_use_warehouse(*, dataset: Dataset, by: User | None) -> Dataset:
    """Points a dataset at its warehouse table, so the engine computes from it."""
    wanted = str(table_path(dataset).resolve())
    if dataset.file == wanted:
        return dataset
    with transaction.atomic():
        # Read again, locked: its version moves on from the current one, never from a
        # copy read before someone else's change (which a form read since would undo).
        current = Dataset.objects.select_for_update().get(pk=dataset.pk)
        if current.file == wanted:
            dataset.file, dataset.version = current.file, current.version
            return dataset
        before = snapshot(current)
        current.file = wanted
        current.version += 1
        current.save(update_fields=["file", "version"])
        audit_record(
            actor=by,
            action="dataset.update",
            target=current,
            before=before,
            after=snapshot(current),
            reason="imported into the warehouse",
        )
    dataset.file, dataset.version = current.file, current.version
    return dataset


def _shown(text: str) -> str:
    """A bad value as kept for people to read: a NUL character, which PostgreSQL cannot
    store, is written as \\x00 (the value itself is refused anyway)."""
    return text.replace("\x00", "\\x00")


def _run_finish(
    run: ImportRun,
    *,
    by: User | None,
    status: ImportStatus,
    error: str = "",
    bad: list[BadValue] | None = None,
) -> None:
    """Records a run's outcome and its audit row; the caller's transaction holds both."""
    run.status = status
    run.finished_at = timezone.now()
    run.error = error
    run.save()
    if bad:
        RejectedRow.objects.bulk_create(
            RejectedRow(
                import_run=run,
                line=item.line,
                column=_shown(item.column)[:200],
                value=_shown(item.value) if item.value is not None else None,
                reason=_shown(item.reason)[:500],
            )
            for item in bad
        )
    audit_record(
        actor=by,
        action="import.finish",
        target=run,
        before={"status": ImportStatus.RUNNING},
        after={
            "status": run.status,
            "file": run.file_name,
            "sha256": run.sha256,
            "rows_in_file": run.rows_in_file,
            "added": run.added,
            "updated": run.updated,
            "unchanged": run.unchanged,
            "rejected": run.rejected,
            "schema_changes": run.schema_changes,
            "error": run.error[:1000],
        },
    )


def _fail(run: ImportRun, by: User | None, error: str, bad: list[BadValue] | None = None) -> None:
    with transaction.atomic():
        _run_finish(run, by=by, status=ImportStatus.FAILED, error=error, bad=bad)


def import_file(
    *,
    dataset: Dataset,
    path: Path,
    by: User | None,
    source: str = "upload",
    accept_schema_change: bool = False,
    file_name: str | None = None,
    progress: Progress | None = None,
) -> ImportRun:
    """Imports a CSV, XLSX or Parquet file into the dataset's table, upserting by key.

    `file_name` is the name the file had for the person (an upload is stored under a
    name of its own); the import history records it.

    All or nothing: a file with any bad value, or with an unaccepted schema change,
    changes nothing and the returned run says why (status `failed`, its `rejects`).
    Raises NotAllowed for people who may not import (only admins and team managers may;
    `by=None` is the system) and HeadwayError when the import cannot start (file missing,
    dataset busy).
    """
    if by is not None and not can_create_anything(by):
        raise NotAllowed("only admins and team managers may import data")
    path = Path(path)
    shown = _shown_name(path, file_name)
    if not path.is_file():
        raise HeadwayError(Problem("file not found", file=shown))
    table = table_path(dataset)
    _step("start")
    with _dataset_lock(dataset):
        _step("locked")
        _abandon_stale_runs(dataset, by)
        _step("abandoned stale runs")
        _remove_leftovers(table)
        sha256, size = _file_facts(path)
        with transaction.atomic():
            run = ImportRun.objects.create(
                dataset=dataset,
                started_at=timezone.now(),
                source=source,
                file_name=shown[:500],
                sha256=sha256,
                file_bytes=size,
                by=by,
            )
            audit_record(actor=by, action="import.start", target=run, after=snapshot(run))
        _step("run recorded")
        temporary = table.with_name(f"{table.name}.tmp-{run.pk}")
        try:
            _import(run, dataset, path, shown, table, temporary, by, accept_schema_change, progress)
        except _TableReplaced as replaced:
            cause = replaced.__cause__
            assert isinstance(cause, Exception)
            logger.error(
                "import %s of %s replaced its table but was not recorded: %r",
                run.pk,
                dataset.key,
                cause,
            )
            _record_replaced(run, by, cause)
            raise cause from None
        except HeadwayError as error:
            temporary.unlink(missing_ok=True)
            _fail(run, by, _without_path(str(error), path, shown))
        except duckdb.Error as error:
            # The file could not be read as its kind says (odd names, types or bytes). The
            # details (SQL, paths) are for the log; the person gets a sentence.
            temporary.unlink(missing_ok=True)
            logger.warning("import %s of %s failed in DuckDB: %s", run.pk, dataset.key, error)
            _fail(run, by, f"{shown} cannot be imported: its contents could not be read")
        except Exception as error:
            temporary.unlink(missing_ok=True)
            logger.exception("import %s of %s failed", run.pk, dataset.key)
            _fail(
                run, by, f"the import failed because of an internal error ({type(error).__name__})"
            )
            raise
    _step("done")
    return run


def _import(
    run: ImportRun,
    dataset: Dataset,
    path: Path,
    shown: str,
    table: Path,
    temporary: Path,
    by: User | None,
    accept_schema_change: bool,
    progress: Progress | None = None,
) -> None:
    limit = int(getattr(settings, "HEADWAY_IMPORT_MAX_BYTES", DEFAULT_MAX_IMPORT_BYTES))
    if run.file_bytes > limit:
        raise HeadwayError(
            Problem(f"is larger than the import limit of {limit:,} bytes", file=shown)
        )
    stored = _stored_schema(dataset)
    _step("schema read")
    _phase(run, 1, "reading and checking the file", progress)
    with _staging(dataset, path, shown) as staging:
        staged = staging.stage(stored, accept_schema_change=accept_schema_change)
        run.rows_in_file = staged.rows_in_file
        run.schema_changes = [str(drift) for drift in staged.drift]
        if staged.drift and not accept_schema_change:
            raise HeadwayError(_drift_problems(shown, staged.drift))
        if staged.bad_rows:
            run.rejected = staged.bad_rows
            listed = len(staged.bad)
            more = f" (the first {listed} are listed)" if listed < staged.bad_rows else ""
            _fail(
                run,
                by,
                f"{staged.bad_rows} of {staged.rows_in_file} {staged.row_noun}s are bad{more}; "
                "nothing was imported",
                staged.bad,
            )
            return
        _step("validated")
        _phase(run, 2, f"{staged.rows_in_file:,} rows checked; merging them by key", progress)
        merged = staging.merge(table, temporary, time_columns=_time_columns(dataset))
    run.added, run.updated, run.unchanged = merged.added, merged.updated, merged.unchanged
    run.touched_from, run.touched_to = merged.touched_from, merged.touched_to
    _phase(run, 3, "replacing the table", progress)
    try:
        if merged.written:
            _step("before rename")
            replace_table(temporary, table)
            _step("after rename")
        _record(run, dataset, staged.columns, by, progress)
    except Exception as error:
        if merged.written and not temporary.exists():
            # The new table is in place (renamed from the temporary file).
            raise _TableReplaced from error
        raise
    _step("committed")


def _record(
    run: ImportRun,
    dataset: Dataset,
    staged_columns: list[Column],
    by: User | None,
    progress: Progress | None,
) -> None:
    """Records a successful import: the run, the table's schema, the dataset's file."""
    _phase(run, 4, "recording the import", progress)
    with transaction.atomic():
        _step("commit begun")
        _run_finish(run, by=by, status=ImportStatus.SUCCEEDED)
        _step("run finished")
        columns = [column.as_json() for column in staged_columns]
        record = DatasetSchema.objects.filter(dataset=dataset).first()
        if record is None or record.columns != columns:
            if record is None:
                record = DatasetSchema(dataset=dataset)
            record.columns = columns
            record.import_run = run
            record.save()
            audit_record(
                actor=by,
                action="dataset.schema",
                target=dataset,
                after={"columns": columns, "changes": run.schema_changes},
            )
        _step("schema saved")
        dataset_use_warehouse(dataset=dataset, by=by)
        _step("before commit")


class _TableReplaced(Exception):
    """Recording an import failed after its new table was put in place (its __cause__)."""


def _record_replaced(run: ImportRun, by: User | None, error: BaseException) -> None:
    """The table is the import's new one, but the import could not be recorded (a database
    error: locked, a lost connection, a deadlock). `failed` would say nothing changed:
    the run is marked abandoned, saying the table was replaced. When even that cannot be
    written, the run stays `running` and the next import marks it abandoned."""
    try:
        with transaction.atomic():
            run.status = ImportStatus.ABANDONED
            run.finished_at = timezone.now()
            run.error = (
                "this import replaced the table, but recording it failed "
                f"({type(error).__name__}); import the file again to record it (its rows "
                "then count as unchanged) and to bring the KPIs up to date"
            )
            run.save()
            audit_record(
                actor=by,
                action="import.abandon",
                target=run,
                before={"status": ImportStatus.RUNNING},
                after={"status": run.status, "error": run.error},
            )
    except (DatabaseError, InterfaceError):
        logger.warning("import %s: not marked abandoned; the next import will", run.pk)


def _drift_problems(shown_file: str, drift: list[Drift]) -> list[Problem]:
    problems = [
        Problem(
            f"the file's columns differ from the table's ({len(drift)} change"
            f"{'s' if len(drift) != 1 else ''}); nothing was imported. Import again "
            "accepting the schema change to apply it",
            file=shown_file,
        )
    ]
    problems += [Problem(str(item), file=shown_file, key="schema") for item in drift]
    return problems


@dataclass
class Preview:
    """What an import of a file would find, computed without writing anything."""

    columns: list[Column]
    rows: list[dict[str, Any]]
    rows_in_file: int = 0
    drift: list[Drift] = field(default_factory=list)
    bad: list[BadValue] = field(default_factory=list)
    bad_rows: int = 0
    errors: list[str] = field(default_factory=list)


def preview_file(
    *, dataset: Dataset, path: Path, rows: int = 20, file_name: str | None = None
) -> Preview:
    """The first rows as they would be stored, the inferred schema, the drift against the
    table's schema and the problems found; writes nothing anywhere. `file_name` is the
    name the file had for the person, which the problems name."""
    path = Path(path)
    shown = _shown_name(path, file_name)
    try:
        with _staging(dataset, path, shown) as staging:
            staged = staging.stage(_stored_schema(dataset), accept_schema_change=True)
            return Preview(
                columns=staged.file_columns,
                rows=staging.preview_rows(rows),
                rows_in_file=staged.rows_in_file,
                drift=staged.drift,
                bad=staged.bad,
                bad_rows=staged.bad_rows,
            )
    except HeadwayError as error:
        return Preview(
            columns=[],
            rows=[],
            errors=[_without_path(str(problem), path, shown) for problem in error.problems],
        )
    except duckdb.Error as error:
        logger.warning("preview of %s for %s failed in DuckDB: %s", shown, dataset.key, error)
        return Preview(columns=[], rows=[], errors=[f"{shown}: its contents could not be read"])


def rejected_rows_csv(run: ImportRun) -> str:
    """The run's rejected rows as CSV (line, column, value, reason) for download."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["line", "column", "value", "reason"])
    for reject in run.rejects.order_by("line", "pk"):
        writer.writerow(
            [
                escape_formula_cell(reject.line),
                escape_formula_cell(reject.column),
                escape_formula_cell(reject.value),
                escape_formula_cell(reject.reason),
            ]
        )
    return buffer.getvalue()
