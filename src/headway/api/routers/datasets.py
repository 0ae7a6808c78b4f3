"""Datasets: everyone signed in reads them and their import history; admins and team
managers push rows into them (`POST /datasets/{key}/rows`), with a file import's
guarantees: all or nothing, upsert by key, idempotent, every bad value reported."""

from __future__ import annotations

import datetime
import tempfile
from pathlib import Path
from typing import Annotated, Any

import duckdb
from django.db.models import Max, Q, QuerySet
from django.http import Http404, HttpRequest
from ninja import File, Form, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile
from pydantic import Field, WithJsonSchema

from headway.api.auth import writer
from headway.api.errors import READ_ERRORS, WRITE_ERRORS
from headway.api.lookups import page
from headway.api.schemas import ErrorOut, Page, PageParams
from headway.engine.data import quote_literal
from headway.ingestion.freshness import dataset_freshness
from headway.ingestion.models import ImportRun, ImportStatus, Source
from headway.ingestion.push import (
    BatchTooLarge,
    check_batch_size,
    push_limits,
    push_problems,
    push_rows,
)
from headway.ingestion.services import import_file, table_path
from headway.ingestion.syncs import latest_sync_job, source_sync_request
from headway.ingestion.uploads import upload_limit
from headway.kpis.models import Dataset
from headway.results.services import results_refresh_dataset

router = Router(tags=["Datasets"])

_MAX_ROWS, _MAX_BYTES = push_limits()


# Schemas ------------------------------------------------------------------------------


class ColumnOut(Schema):
    name: str
    type: str = Field(description="The warehouse type, e.g. VARCHAR, BIGINT, TIMESTAMP")


class DatasetOut(Schema):
    key: str
    key_column: str = Field(description="Rows are upserted by this column")
    time_column: str = Field(description="The column that places a row in a period")
    dimensions: list[str]
    columns: list[ColumnOut] = Field(
        description="The warehouse table's columns, empty until the first import"
    )
    last_import: datetime.datetime | None = Field(
        description="When the last successful import (file or push) finished"
    )
    rows: int | None = Field(description="Rows in the warehouse table; null without a table")
    freshness_hours: int | None = Field(
        description="Data older than this many hours marks the dataset and its KPIs stale"
    )
    stale: bool = Field(description="Whether the data is older than its freshness limit")

    @classmethod
    def of(cls, dataset: Dataset) -> DatasetOut:
        schema = getattr(dataset, "schema", None)
        freshness = dataset_freshness([dataset]).get(dataset.key)
        return cls(
            freshness_hours=dataset.freshness_hours,
            stale=freshness.stale if freshness is not None else False,
            key=dataset.key,
            key_column=dataset.key_column,
            time_column=dataset.time_column,
            dimensions=[str(name) for name in dataset.dimensions or []],
            columns=[ColumnOut(**column) for column in schema.columns] if schema else [],
            last_import=getattr(dataset, "last_import", None),
            rows=_table_rows(dataset),
        )


class DatasetPage(Page):
    items: list[DatasetOut]


class ImportOut(Schema):
    id: int
    dataset: str = Field(description="The dataset's key")
    status: ImportStatus
    source: str = Field(description="`upload`, `api`, ...")
    file_name: str
    started_at: datetime.datetime
    finished_at: datetime.datetime | None
    by: str | None = Field(description="Who imported (e-mail address)")
    rows: int = Field(description="Rows in the file or batch")
    added: int
    updated: int = Field(description="Rows whose key was there and some value changed")
    unchanged: int
    rejected: int = Field(description="Bad rows (then nothing was imported)")
    schema_changes: list[str]
    error: str

    @classmethod
    def of(cls, run: ImportRun, dataset_key: str) -> ImportOut:
        return cls(
            id=run.pk,
            dataset=dataset_key,
            status=ImportStatus(run.status),
            source=run.source,
            file_name=run.file_name,
            started_at=run.started_at,
            finished_at=run.finished_at,
            by=run.by.email if run.by else None,
            rows=run.rows_in_file,
            added=run.added,
            updated=run.updated,
            unchanged=run.unchanged,
            rejected=run.rejected,
            schema_changes=[str(change) for change in run.schema_changes],
            error=run.error,
        )


class ImportPage(Page):
    items: list[ImportOut]


PushedRow = Annotated[
    dict[str, Any],
    WithJsonSchema(
        {
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
            "description": "One row: every column of the table, by name",
        }
    ),
]


class PushIn(Schema):
    rows: list[PushedRow] = Field(
        min_length=1,
        description=f"At most {_MAX_ROWS:,} rows and {_MAX_BYTES:,} bytes of JSON (else 413)",
        json_schema_extra={"maxItems": _MAX_ROWS},
    )


class RowError(Schema):
    row: int | None = Field(
        default=None, description="The row's index in `rows`, from 0 (null: not about a row)"
    )
    field: str = Field(description="The column at fault (or the request's field)")
    value: str | None = Field(default=None, description="The value as sent")
    message: str


class PushErrorOut(Schema):
    """A refused batch: nothing was written; every bad value, up to 1,000 of them. A request
    refused before any row was read (e.g. no `rows`) has the shape of every other error
    (`detail`, `errors` with `field` and `message`), which this shape extends."""

    detail: str
    errors: list[RowError] = Field(default_factory=list)
    import_id: int | None = Field(
        default=None, description="The failed import in the dataset's history"
    )


class SourceOut(Schema):
    """Where a dataset's rows come from when the worker syncs them (never its credentials)."""

    kind: str = Field(description="`sql`, `hubspot`, `salesforce`, `pipedrive`, `rest`, ...")
    name: str
    every_minutes: int | None = Field(description="Minutes between syncs; null: on request")
    is_active: bool
    last_sync_at: datetime.datetime | None
    last_success_at: datetime.datetime | None
    next_sync_at: datetime.datetime | None
    last_error: str
    sync: str | None = Field(description="The latest sync job's status: queued, running, ...")

    @classmethod
    def of(cls, source: Source) -> SourceOut:
        job = latest_sync_job(source)
        return cls(
            kind=source.kind,
            name=source.name,
            every_minutes=source.every_minutes,
            is_active=source.is_active,
            last_sync_at=source.last_sync_at,
            last_success_at=source.last_success_at,
            next_sync_at=source.next_sync_at,
            last_error=source.last_error,
            sync=job.status if job is not None else None,
        )


# Reads --------------------------------------------------------------------------------


def _datasets() -> QuerySet[Dataset]:
    return (
        Dataset.objects.select_related("schema")
        .annotate(
            last_import=Max(
                "import_runs__finished_at",
                filter=Q(import_runs__status=ImportStatus.SUCCEEDED),
            )
        )
        .order_by("key")
    )


def _dataset_by_key(key: str) -> Dataset:
    found = _datasets().filter(key=key).first()
    if found is None:
        raise Http404(f"no dataset with key {key!r}")
    return found


def _table_rows(dataset: Dataset) -> int | None:
    """The table's row count, from the Parquet file's footer (no scan of the rows)."""
    path = table_path(dataset)
    if not path.exists():
        return None
    connection = duckdb.connect(":memory:")
    try:
        found = connection.execute(
            f"SELECT count(*) FROM read_parquet({quote_literal(str(path))})"  # noqa: S608
        ).fetchone()
    finally:
        connection.close()
    return int(found[0]) if found else 0


@router.get("", response={200: DatasetPage, **READ_ERRORS}, summary="List datasets")
def datasets_list(request: HttpRequest, filters: Query[PageParams]) -> DatasetPage:
    items, count = page(_datasets(), filters, DatasetOut.of)
    return DatasetPage(items=items, count=count, limit=filters.limit, offset=filters.offset)


@router.get("/{key}", response={200: DatasetOut, **READ_ERRORS}, summary="Read a dataset")
def datasets_read(request: HttpRequest, key: str) -> DatasetOut:
    return DatasetOut.of(_dataset_by_key(key))


@router.get(
    "/{key}/imports",
    response={200: ImportPage, **READ_ERRORS},
    summary="List a dataset's imports and pushes, newest first",
)
def datasets_imports(request: HttpRequest, key: str, filters: Query[PageParams]) -> ImportPage:
    dataset = _dataset_by_key(key)
    query = ImportRun.objects.filter(dataset=dataset).select_related("by")
    items, count = page(query, filters, lambda run: ImportOut.of(run, dataset.key))
    return ImportPage(items=items, count=count, limit=filters.limit, offset=filters.offset)


# Push ---------------------------------------------------------------------------------


@router.post(
    "/{key}/rows",
    response={200: ImportOut, **WRITE_ERRORS, 413: ErrorOut, 422: PushErrorOut},
    summary="Push rows (upsert by key; all or nothing)",
)
def datasets_push(request: HttpRequest, key: str, payload: PushIn) -> Status[Any]:
    """Adds or replaces rows by the dataset's key. A batch with any bad value writes
    nothing and answers 422 with every bad value; the same batch twice changes nothing
    the second time (0 added, 0 updated)."""
    by = writer(request)
    dataset = _dataset_by_key(key)
    try:
        check_batch_size(rows=len(payload.rows), size=len(request.body))
        run = push_rows(dataset=dataset, rows=payload.rows, by=by)
    except BatchTooLarge as error:
        raise HttpError(413, str(error)) from None
    if run.status != ImportStatus.SUCCEEDED:
        problems = push_problems(run)
        return Status(
            422,
            PushErrorOut(
                detail=f"the rows were refused: {run.error}",
                errors=[
                    RowError(
                        row=problem.row,
                        field=problem.field,
                        value=problem.value,
                        message=problem.message,
                    )
                    for problem in problems
                ],
                import_id=run.pk,
            ),
        )
    # As after an import in the web UI: the KPIs that read the dataset follow at once,
    # from the first period the new rows touch.
    results_refresh_dataset(
        dataset_key=dataset.key, by=by, touched_from=run.touched_from, touched_to=run.touched_to
    )
    return Status(200, ImportOut.of(run, dataset.key))


def _refused(run: ImportRun) -> PushErrorOut:
    return PushErrorOut(
        detail=f"the file was refused: {run.error}",
        errors=[
            RowError(
                row=reject.line, field=reject.column, value=reject.value, message=reject.reason
            )
            for reject in run.rejects.order_by("line", "pk")
        ],
        import_id=run.pk,
    )


@router.post(
    "/{key}/files",
    response={200: ImportOut, **WRITE_ERRORS, 413: ErrorOut, 422: PushErrorOut},
    summary="Import a CSV, XLSX or Parquet file (upsert by key; all or nothing)",
)
def datasets_import_file(
    request: HttpRequest,
    key: str,
    file: File[UploadedFile],
    accept_schema_change: Form[bool] = False,
) -> Status[Any]:
    """The file import of the web page and `headway import`, as multipart/form-data: a
    file with any bad value, or with a schema change not accepted, writes nothing and
    answers 422 with each bad value (`row` is the file's line, or the sheet's row)."""
    by = writer(request)
    dataset = _dataset_by_key(key)
    name = Path(file.name or "").name
    suffix = Path(name).suffix.lower()
    if suffix not in (".csv", ".xlsx", ".parquet"):
        raise HttpError(422, f"{name or 'the file'}: send a .csv, .xlsx or .parquet file")
    limit = upload_limit()
    if (file.size or 0) > limit:
        raise HttpError(413, f"{name} is {file.size:,} bytes; files of up to {limit:,} are taken")
    with tempfile.TemporaryDirectory(prefix="headway-api-upload-") as folder:
        path = Path(folder) / f"upload{suffix}"
        with path.open("wb") as handle:
            for chunk in file.chunks():
                handle.write(chunk)
        run = import_file(
            dataset=dataset,
            path=path,
            by=by,
            source="api",
            accept_schema_change=accept_schema_change,
            file_name=name,
        )
    if run.status != ImportStatus.SUCCEEDED:
        return Status(422, _refused(run))
    if run.added or run.updated:
        results_refresh_dataset(
            dataset_key=dataset.key,
            by=by,
            touched_from=run.touched_from,
            touched_to=run.touched_to,
        )
    return Status(200, ImportOut.of(run, dataset.key))


@router.get(
    "/{key}/source",
    response={200: SourceOut, **READ_ERRORS},
    summary="Read a dataset's source and the state of its syncs",
)
def datasets_source(request: HttpRequest, key: str) -> SourceOut:
    source = Source.objects.filter(dataset__key=key).first()
    if source is None:
        raise Http404(f"the dataset {key!r} has no source")
    return SourceOut.of(source)


@router.post(
    "/{key}/sync",
    response={202: SourceOut, **WRITE_ERRORS},
    summary="Queue a sync of the dataset's source now",
)
def datasets_sync(request: HttpRequest, key: str) -> Status[SourceOut]:
    """The worker runs it (one at a time per source: a sync already queued or running
    is not queued twice); `GET /datasets/{key}/source` shows when it is done."""
    by = writer(request)
    source = Source.objects.filter(dataset__key=key).first()
    if source is None:
        raise Http404(f"the dataset {key!r} has no source")
    source_sync_request(source=source, by=by)
    return Status(202, SourceOut.of(source))
