"""An upload is staged under a name and in a folder of Headway's own (a random name in
DATA_DIR/uploads for the web page, a temporary folder for the API); every message about
it names the file the person uploaded, never where it was staged: DuckDB's own errors
name the file it read, which the import rewrites."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile

from headway.accounts.services import token_create
from headway.ingestion.models import ImportRun, ImportStatus, RejectedRow
from tests.web import conftest as web_conftest
from tests.web.conftest import Org

org = web_conftest.org
_quick_passwords = web_conftest._quick_passwords

HEADER = "deal_id,closed_at,team,stage,amount"
# Each file fails in another place: DuckDB's Parquet reader (whose error names the path
# it read), the CSV reader, the XLSX reader, and the checks of the values.
FILES = {
    "Quarterly deals (final).parquet": b"PAR1 not really a parquet file at all PAR1",
    "deals-march.csv": f'{HEADER}\nx1,2024-01-10,north,won,"10\n'.encode(),
    "Deals 2024.xlsx": b"PK\x03\x04 a zip archive cut short",
    "bad values.csv": f"{HEADER}\nx1,2024-01-10,north,won,ten\n".encode(),
}


@pytest.fixture
def folders(settings: Any, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path / "data"
    settings.HEADWAY_WAREHOUSE_DIR = tmp_path / "data" / "warehouse"
    return Path(settings.DATA_DIR)


def _leaks(text: str, data_dir: Path, staged: list[str]) -> list[str]:
    """What in `text` tells where an upload was staged."""
    found = [folder for folder in (tempfile.gettempdir(), str(data_dir)) if folder in text]
    found += [name for name in staged if name in text]
    found += re.findall(r"headway-api-upload-\w+|\b[0-9a-f]{32}\.\w+\b|\bupload\.\w+\b", text)
    return found


def _run_texts(run: ImportRun) -> list[str]:
    rejects = RejectedRow.objects.filter(import_run=run)
    return [run.error, run.file_name] + [f"{r.column} {r.value} {r.reason}" for r in rejects]


def test_the_web_upload_names_the_uploaded_file_never_its_staged_path(
    folders: Path, org: Org
) -> None:
    client = org.client(org.nora)
    for name, content in FILES.items():
        upload = client.post("/data/deals/import/", {"file": SimpleUploadedFile(name, content)})
        assert upload.status_code == 302, name
        staged = [path.name for path in (folders / "uploads").iterdir()]
        preview = client.get(upload["Location"]).content.decode()
        # The page's own links carry the upload's token: its messages are what is read.
        shown = re.findall(r'role="alert">(.*?)</div>', preview, re.S)
        shown += re.findall(r"<li>(.*?)</li>", preview, re.S)
        done = client.post(upload["Location"], {"import": "1"})
        said = [str(message) for message in get_messages(done.wsgi_request)]
        run = ImportRun.objects.latest("pk")
        assert run.status == ImportStatus.FAILED, name
        texts = [*shown, *said, *_run_texts(run)]
        assert any(name in text for text in said), (name, said)
        assert [leak for text in texts for leak in _leaks(text, folders, staged)] == [], texts


def test_the_api_file_import_names_the_uploaded_file_never_its_staged_path(
    folders: Path, org: Org
) -> None:
    _, raw = token_create(by=org.ada, name="tests", scope="write")
    for name, content in FILES.items():
        response = org.client(None).post(
            "/api/v1/datasets/deals/files",
            {"file": SimpleUploadedFile(name, content)},
            headers={"Authorization": f"Bearer {raw}"},
        )
        assert response.status_code == 422, (name, response.content)
        body = response.json()
        if name != "bad values.csv":  # refused for its rows, each listed
            assert name in body["detail"], body
        texts = [response.content.decode(), *_run_texts(ImportRun.objects.latest("pk"))]
        assert [leak for text in texts for leak in _leaks(text, folders, [])] == [], texts
