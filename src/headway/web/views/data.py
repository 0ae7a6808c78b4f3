"""Data imports: the datasets, each one's import history and schema, and uploading a file.

Uploading is a preview and a confirmation: the file is saved under a random name in
`DATA_DIR/uploads`, previewed without writing anything, and imported (or dropped) when
the person decides. The upload belongs to the session that made it; nobody else can
import it. Only admins and managers upload; everyone signed in reads.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from headway.accounts.models import User
from headway.accounts.permissions import can_create_anything
from headway.engine.problems import HeadwayError
from headway.ingestion.models import DatasetSchema, ImportRun, ImportStatus, RejectedRow
from headway.ingestion.services import import_file, preview_file, rejected_rows_csv
from headway.ingestion.uploads import upload_limit, upload_too_large
from headway.kpis.models import Dataset
from headway.results.services import results_refresh_dataset
from headway.web.forms import HeadwayForm
from headway.web.views.common import require
from headway.web.views.sources import status_context

ALLOWED_SUFFIXES = (".csv", ".xlsx", ".parquet")
HISTORY_LENGTH = 50
REJECTS_SHOWN = 100
PREVIEW_ROWS = 20
SESSION_KEY = "headway_uploads"
STALE_UPLOAD_SECONDS = 24 * 60 * 60

# The colour of each import status, in one place (the CSS classes of KPI statuses).
STATUS_CLASSES: dict[str, str] = {
    ImportStatus.RUNNING: "status-amber",
    ImportStatus.SUCCEEDED: "status-green",
    ImportStatus.FAILED: "status-red",
    ImportStatus.ABANDONED: "status-none",
}


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def uploads_dir() -> Path:
    return Path(settings.DATA_DIR) / "uploads"


def _size_text(size: int) -> str:
    return str(filesizeformat(size))


class UploadForm(HeadwayForm):
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy("A CSV (UTF-8), XLSX or Parquet file."),
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(ALLOWED_SUFFIXES)}),
    )

    def clean_file(self) -> UploadedFile[bytes]:
        upload: UploadedFile[bytes] = self.cleaned_data["file"]
        name = upload.name or ""
        if not name.lower().endswith(ALLOWED_SUFFIXES):
            raise forms.ValidationError(
                _("Choose a file whose name ends in .csv, .xlsx or .parquet.")
            )
        limit = upload_limit()
        if (upload.size or 0) > limit:
            raise forms.ValidationError(
                _("The file is %(size)s; files of up to %(limit)s can be imported.")
                % {"size": _size_text(upload.size or 0), "limit": _size_text(limit)}
            )
        return upload


# Reads -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetLine:
    """A dataset on the list page, with what its imports say about it."""

    dataset: Dataset
    last_success: ImportRun | None
    last_run: ImportRun | None

    @property
    def status_class(self) -> str:
        return STATUS_CLASSES.get(self.last_run.status, "") if self.last_run else ""


@dataclass(frozen=True)
class RunLine:
    """An import on a dataset's page, with the rejected rows shown for a failed one."""

    run: ImportRun
    rejects: list[RejectedRow]
    stored_rejects: int

    @property
    def status_class(self) -> str:
        return STATUS_CLASSES.get(self.run.status, "")

    @property
    def seconds(self) -> str:
        duration = self.run.duration
        return f"{duration.total_seconds():.1f}" if duration is not None else ""

    @property
    def more_rejects(self) -> bool:
        return self.stored_rejects > len(self.rejects)


def dataset_lines() -> list[DatasetLine]:
    """Every dataset with its latest run and its latest successful run, in three queries."""
    datasets = list(Dataset.objects.order_by("key"))
    latest: dict[int, ImportRun] = {}
    succeeded: dict[int, ImportRun] = {}
    # One row per dataset and kind: the newest run by started time (ties by id).
    newest = Window(
        RowNumber(),
        partition_by=[F("dataset_id")],
        order_by=[F("started_at").desc(), F("pk").desc()],
    )
    for run in ImportRun.objects.select_related("by").annotate(n=newest).filter(n=1):
        latest[run.dataset_id] = run
    runs = ImportRun.objects.filter(status=ImportStatus.SUCCEEDED).select_related("by")
    for run in runs.annotate(n=newest).filter(n=1):
        succeeded[run.dataset_id] = run
    return [
        DatasetLine(dataset, succeeded.get(dataset.pk), latest.get(dataset.pk))
        for dataset in datasets
    ]


def run_lines(dataset: Dataset) -> list[RunLine]:
    """The dataset's latest imports, newest first; failed ones with their first rejects."""
    runs = list(
        ImportRun.objects.filter(dataset=dataset)
        .select_related("by")
        .order_by("-started_at", "-pk")[:HISTORY_LENGTH]
    )
    failed = [run.pk for run in runs if run.status == ImportStatus.FAILED]
    rejects: dict[int, list[RejectedRow]] = {pk: [] for pk in failed}
    counts: dict[int, int] = dict.fromkeys(failed, 0)
    if failed:
        numbered = RejectedRow.objects.filter(import_run_id__in=failed).annotate(
            n=Window(
                RowNumber(),
                partition_by=[F("import_run_id")],
                order_by=[F("line").asc(nulls_first=True), F("pk").asc()],
            )
        )
        shown = numbered.filter(n__lte=REJECTS_SHOWN).order_by(
            F("line").asc(nulls_first=True), "pk"
        )
        for reject in shown:
            rejects[reject.import_run_id].append(reject)
        for row in (
            RejectedRow.objects.filter(import_run_id__in=failed)
            .values("import_run_id")
            .annotate(total=Count("pk"))
        ):
            counts[row["import_run_id"]] = row["total"]
    return [RunLine(run, rejects.get(run.pk, []), counts.get(run.pk, 0)) for run in runs]


@login_required
def dataset_list(request: HttpRequest) -> HttpResponse:
    context = {"lines": dataset_lines(), "can_import": can_create_anything(request.user)}
    return render(request, "web/datasets.html", context)


@login_required
def dataset_detail(request: HttpRequest, key: str) -> HttpResponse:
    dataset = get_object_or_404(Dataset, key=key)
    context = {
        "dataset": dataset,
        "runs": run_lines(dataset),
        "history_length": HISTORY_LENGTH,
        "rejects_shown": REJECTS_SHOWN,
        "schema": DatasetSchema.objects.filter(dataset=dataset).first(),
        "can_import": can_create_anything(request.user),
        **status_context(dataset, request.user),
    }
    return render(request, "web/dataset_detail.html", context)


@login_required
def rejected_csv(request: HttpRequest, key: str, pk: int) -> HttpResponse:
    run = get_object_or_404(ImportRun.objects.select_related("dataset"), pk=pk, dataset__key=key)
    response = HttpResponse(rejected_rows_csv(run), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{key}-import-{run.pk}-rejected.csv"'
    return response


# Uploading ---------------------------------------------------------------------------


def _remove_stale_uploads(folder: Path) -> None:
    """Uploads nobody imported or cancelled (the browser was closed) go after a day."""
    oldest = time.time() - STALE_UPLOAD_SECONDS
    for path in folder.iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < oldest:
                path.unlink(missing_ok=True)
        except OSError:
            pass


def _save_upload(upload: UploadedFile[bytes]) -> Path:
    """Copies the upload to a new file with a random name (the suffix kept, lower case)."""
    folder = uploads_dir()
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_uploads(folder)
    suffix = Path(upload.name or "").suffix.lower()
    assert suffix in ALLOWED_SUFFIXES
    path = folder / f"{uuid.uuid4().hex}{suffix}"
    with path.open("xb") as handle:
        for chunk in upload.chunks():
            handle.write(chunk)
    return path


def _pending(request: HttpRequest) -> dict[str, dict[str, str]]:
    found = request.session.get(SESSION_KEY)
    return found if isinstance(found, dict) else {}


def _take_upload(request: HttpRequest, dataset: Dataset, token: str) -> tuple[Path, str]:
    """The saved upload this session made for this dataset, or 404."""
    entry = _pending(request).get(token)
    if entry is None or entry.get("dataset") != dataset.key:
        raise Http404
    path = uploads_dir() / entry["stored"]
    if not path.is_file():
        _forget_upload(request, token)
        raise Http404
    return path, entry["name"]


def _forget_upload(request: HttpRequest, token: str) -> None:
    pending = _pending(request)
    entry = pending.pop(token, None)
    request.session[SESSION_KEY] = pending
    if entry is not None:
        (uploads_dir() / entry["stored"]).unlink(missing_ok=True)


@login_required
def import_upload(request: HttpRequest, key: str) -> HttpResponse:
    require(can_create_anything(request.user))
    dataset = get_object_or_404(Dataset, key=key)
    form = UploadForm(request.POST or None, request.FILES or None)
    too_large = upload_too_large(request)
    if too_large is not None:
        # The upload was stopped as it passed the limit: say so, not "no file".
        form.is_valid()
        form.errors["file"] = form.error_class(
            [
                _("The file is larger than %(limit)s, the most that can be imported here.")
                % {"limit": _size_text(too_large)}
            ]
        )
    elif request.method == "POST" and form.is_valid():
        upload: UploadedFile[bytes] = form.cleaned_data["file"]
        path = _save_upload(upload)
        token = path.stem
        pending = _pending(request)
        pending[token] = {"dataset": dataset.key, "stored": path.name, "name": upload.name or ""}
        request.session[SESSION_KEY] = pending
        return redirect("web:import_preview", key=dataset.key, token=token)
    context = {"dataset": dataset, "form": form, "limit": _size_text(upload_limit())}
    return render(request, "web/import_preview.html", context)


def _preview_context(dataset: Dataset, path: Path, name: str, token: str) -> dict[str, Any]:
    preview = preview_file(dataset=dataset, path=path, rows=PREVIEW_ROWS, file_name=name)
    header = list(preview.rows[0]) if preview.rows else [column.name for column in preview.columns]
    return {
        "dataset": dataset,
        "token": token,
        "file_name": name,
        "preview": preview,
        "header": header,
        "rows": [[row.get(column) for column in header] for row in preview.rows],
        "drift": [str(item) for item in preview.drift],
        "first_import": not DatasetSchema.objects.filter(dataset=dataset).exists(),
    }


@login_required
def import_preview(request: HttpRequest, key: str, token: str) -> HttpResponse:
    require(can_create_anything(request.user))
    user = _user(request)
    dataset = get_object_or_404(Dataset, key=key)
    path, name = _take_upload(request, dataset, token)
    if request.method != "POST":
        return render(
            request, "web/import_preview.html", _preview_context(dataset, path, name, token)
        )
    if "cancel" in request.POST:
        _forget_upload(request, token)
        messages.info(request, _("The import of %(name)s was cancelled.") % {"name": name})
        return redirect("web:dataset", key=dataset.key)
    try:
        run = import_file(
            dataset=dataset,
            path=path,
            by=user,
            source="upload",
            accept_schema_change=request.POST.get("accept_schema_change") == "on",
            file_name=name,
        )
    except HeadwayError as error:
        # The import could not start (another import is running): the upload stays, so
        # that the person can try again from the preview.
        context = _preview_context(dataset, path, name, token)
        context["start_error"] = str(error)
        return render(request, "web/import_preview.html", context, status=409)
    except Exception:
        _forget_upload(request, token)
        raise
    _forget_upload(request, token)
    target = reverse("web:dataset", kwargs={"key": dataset.key}) + f"#import-{run.pk}"
    if run.status != ImportStatus.SUCCEEDED:
        messages.error(
            request,
            _("The import of %(name)s failed and changed nothing: %(error)s")
            % {"name": name, "error": run.error},
        )
        return redirect(target)
    messages.success(
        request,
        _(
            "%(name)s was imported: %(added)s rows added, %(updated)s updated, "
            "%(unchanged)s unchanged."
        )
        % {"name": name, "added": run.added, "updated": run.updated, "unchanged": run.unchanged},
    )
    _recompute_after(request, dataset, user, run)
    return redirect(target)


def _recompute_after(request: HttpRequest, dataset: Dataset, user: User, run: ImportRun) -> None:
    """Recomputes the KPIs that read the dataset; a failure leaves the import as it is."""
    problems = results_refresh_dataset(
        dataset_key=dataset.key, by=user, touched_from=run.touched_from, touched_to=run.touched_to
    )
    if problems:
        messages.warning(
            request,
            _("The data was imported, but the KPIs that use it could not be recomputed: %(error)s")
            % {"error": "; ".join(problems)},
        )
