"""Uploads that must be refused: oversized files, XLSX bombs, and files whose contents
are not what their extension says.

Every bad file is refused with a sentence that names the file and what is wrong with it,
never a traceback or "an internal error", and nothing is imported: by the reader that
the preview and the import share (first test, without the app), and end to end through
the web page's upload and preview and through the API (a sample of the same files).
Oversized files are refused on each way in: the web page and the API as they arrive
(HEADWAY_UPLOAD_MAX_BYTES), an import of a file already on disk (HEADWAY_IMPORT_MAX_BYTES,
`headway import`), and an XLSX file over its own cap.

How much memory a bomb costs is measured by bench/security_inputs.py, not here.
"""

from __future__ import annotations

import gzip
import io
import random
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from headway.accounts.services import token_create
from headway.engine import data as engine_data
from headway.engine.problems import HeadwayError
from headway.ingestion.models import ImportRun, ImportStatus
from headway.ingestion.services import import_file, table_path
from headway.ingestion.warehouse import Staging
from headway.kpis.models import Dataset
from tests.web import conftest as web_conftest
from tests.web.conftest import Org

org = web_conftest.org  # the web tests' organisation: a deals dataset keyed by deal_id
_quick_passwords = web_conftest._quick_passwords

HEADER = "deal_id,closed_at,team,stage,amount"
ROW = "x1,2024-01-10T10:00:00+08:00,north,won,10"
GOOD_CSV = f"{HEADER}\n{ROW}\n".encode()
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
WORKBOOK_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
OLE2 = bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504)  # .xls, and encrypted .xlsx


# Hand-made workbooks: every part written as given, so that each can be made hostile ---


def header_row() -> str:
    cells = "".join(f'<c t="inlineStr"><is><t>{name}</t></is></c>' for name in HEADER.split(","))
    return f'<row r="1">{cells}</row>'


def sheet(body: str = "", prologue: str = "", dimension: str = "") -> str:
    return (
        f'{prologue}<worksheet xmlns="{MAIN_NS}">{dimension}'
        f"<sheetData>{header_row()}{body}</sheetData></worksheet>"
    )


def workbook(
    sheet_xml: str | bytes | None = None,
    *,
    extra: dict[str, bytes] | None = None,
    workbook_xml: str | None = None,
    shared: str | bytes | None = None,
    types: dict[str, str] | None = None,
    stored: tuple[str, ...] = (),
) -> bytes:
    """A minimal .xlsx whose first sheet is `sheet_xml`; `types` declares content types
    of parts, `stored` parts are not compressed."""
    overrides = f'<Override PartName="/xl/workbook.xml" ContentType="{WORKBOOK_TYPE}"/>'
    overrides += f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{SHEET_TYPE}"/>'
    for part, content_type in (types or {}).items():
        overrides += f'<Override PartName="/{part}" ContentType="{content_type}"/>'
    relations = f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    if shared is not None:
        overrides += f'<Override PartName="/xl/sharedStrings.xml" ContentType="{STRINGS_TYPE}"/>'
        relations += (
            f'<Relationship Id="rId2" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
        )
    parts: dict[str, str | bytes] = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f"{overrides}</Types>"
        ),
        "_rels/.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"
        ),
        "xl/workbook.xml": workbook_xml
        or (
            f'<workbook xmlns="{MAIN_NS}" xmlns:r="{REL}"><sheets>'
            '<sheet name="Deals" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f"{relations}</Relationships>"
        ),
        "xl/worksheets/sheet1.xml": sheet_xml if sheet_xml is not None else sheet(),
    }
    if shared is not None:
        parts["xl/sharedStrings.xml"] = shared
    parts.update(extra or {})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            method = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            archive.writestr(name, content, compress_type=method)
    return buffer.getvalue()


def declare_size(archive: bytes, name: str, size: int) -> bytes:
    """The archive with `name`'s uncompressed size stated as `size` in both its local
    header and the central directory, whatever it really is: a lying zip."""
    data = bytearray(archive)
    encoded = name.encode()
    for signature, size_at, name_length_at, name_at in (
        (b"PK\x03\x04", 22, 26, 30),
        (b"PK\x01\x02", 24, 28, 46),
    ):
        start = data.find(signature)
        while start != -1:
            (length,) = struct.unpack_from("<H", data, start + name_length_at)
            if data[start + name_at : start + name_at + length] == encoded:
                struct.pack_into("<I", data, start + size_at, size)
            start = data.find(signature, start + 4)
    return bytes(data)


def zeros_part(size: int) -> bytes:
    """`size` bytes of XML-ish filler that deflate shrinks about a thousand times."""
    return b" " * size


def noise(size: int) -> bytes:
    """Bytes that do not compress: a part stored with them and stated to be 175 times
    larger passes the compression-ratio check, so that the next check is reached."""
    return random.Random(size).randbytes(size)


def swollen(name: str, size: int, **parts: Any) -> bytes:
    """A workbook whose part `name` says it expands to `size` bytes, at a ratio under the
    compression-bomb limit."""
    filler = noise(size // 175 + 1)
    extra = {**parts.pop("extra", {}), name: filler}
    return declare_size(workbook(extra=extra, stored=(name,), **parts), name, size)


def many_rows_sheet(rows: int) -> bytes:
    body = "".join(f'<row r="{n}"><c t="inlineStr"><is><t>d{n}</t></is></c></row>' for n in rows)
    return sheet(body).encode()


LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
)
XXE = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


def bad_files() -> list[tuple[str, str, bytes, str]]:
    """(what, file name, contents, words the refusal must hold)."""
    sheet_path = "xl/worksheets/sheet1.xml"
    padding = "".join(f'<row r="{n}"><c><v>{n}</v></c></row>' for n in range(2, 4000))
    return [
        # XLSX bombs.
        (
            "zip bomb: a part that expands a thousand times",
            "bomb.xlsx",
            workbook(extra={"xl/media/filler.bin": zeros_part(12 * 1024 * 1024)}),
            "compression bomb",
        ),
        (
            "zip bomb: parts stated to expand past 1 GB",
            "lying.xlsx",
            swollen("xl/media/image1.png", 1100 * 1024 * 1024),
            "more than 1 GB",
        ),
        (
            "shared strings that expand past what is read into memory",
            "strings.xlsx",
            swollen(
                "xl/sharedStrings.xml",
                70 * 1024 * 1024,
                types={"xl/sharedStrings.xml": STRINGS_TYPE},
            ),
            "read into memory",
        ),
        (
            "styles that expand past what is read into memory",
            "styles.xlsx",
            swollen("xl/styles.xml", 70 * 1024 * 1024),
            "read into memory",
        ),
        (
            "styles declared a worksheet to slip past the cap",
            "styles-as-sheet.xlsx",
            swollen("xl/styles.xml", 70 * 1024 * 1024, types={"xl/styles.xml": SHEET_TYPE}),
            "read into memory",
        ),
        (
            "a sheet that says it is smaller than it is (bad CRC)",
            "short.xlsx",
            declare_size(workbook(sheet(padding)), sheet_path, 70_000),
            "cannot be read as .xlsx",
        ),
        (
            "billion laughs in the sheet",
            "laughs.xlsx",
            workbook(sheet("<row r='2'><c t='inlineStr'><is><t>&lol3;</t></is></c></row>", LAUGHS)),
            "cannot be read as .xlsx",
        ),
        (
            "billion laughs in the shared strings",
            "laughs-strings.xlsx",
            workbook(shared=LAUGHS + f'<sst xmlns="{MAIN_NS}"><si><t>&lol3;</t></si></sst>'),
            "cannot be read as .xlsx",
        ),
        (
            "external entity (XXE) in the workbook",
            "xxe.xlsx",
            workbook(workbook_xml=XXE + f'<workbook xmlns="{MAIN_NS}">&xxe;</workbook>'),
            "cannot be read as .xlsx",
        ),
        (
            "a row number that is not a number, after the first 64 kB",
            "bad-row.xlsx",
            workbook(sheet(padding + '<row r="abc"><c><v>1</v></c></row>')),
            "cannot be read as .xlsx",
        ),
        (
            "a sheet cut off in the middle",
            "cut.xlsx",
            workbook(sheet(padding).replace("</sheetData></worksheet>", "<row r=")),
            "cannot be read as .xlsx",
        ),
        (
            "more than 1000 columns",
            "wide.xlsx",
            workbook(sheet('<row r="2"><c r="ALM2"><v>1</v></c></row>')),
            "more than 1000 columns",
        ),
        (
            "a workbook without a worksheet",
            "no-sheet.xlsx",
            workbook(
                workbook_xml=f'<workbook xmlns="{MAIN_NS}" xmlns:r="{REL}"><sheets/></workbook>'
            ),
            "no worksheet",
        ),
        # Wrong types behind the right extension.
        ("CSV text named .xlsx", "deals.xlsx", GOOD_CSV, "not an .xlsx file"),
        ("PNG named .xlsx", "photo.xlsx", PNG, "not an .xlsx file"),
        ("old .xls (OLE2) named .xlsx", "old.xlsx", OLE2, "not an .xlsx file"),
        ("PDF named .xlsx", "report.xlsx", PDF, "not an .xlsx file"),
        ("empty file named .xlsx", "empty.xlsx", b"", "not an .xlsx file"),
        (
            "an OpenDocument spreadsheet named .xlsx",
            "calc.xlsx",
            _zip({"mimetype": "application/vnd.oasis.opendocument.spreadsheet"}),
            "cannot be read as .xlsx",
        ),
        (
            "a Word document named .xlsx",
            "letter.xlsx",
            _zip({"word/document.xml": "<document/>", "[Content_Types].xml": "<Types/>"}),
            "cannot be read as .xlsx",
        ),
        ("PNG named .csv", "photo.csv", PNG, "not UTF-8"),
        ("gzip named .csv", "deals.csv", gzip.compress(GOOD_CSV), "not UTF-8"),
        ("an xlsx named .csv", "sheet.csv", workbook(), "not UTF-8"),
        ("UTF-16 named .csv", "utf16.csv", GOOD_CSV.decode().encode("utf-16"), "not UTF-8"),
        ("Big5 named .csv", "big5.csv", f"{HEADER}\n台北,1,2,3,4\n".encode("big5"), "not UTF-8"),
        ("PDF named .csv", "report.csv", PDF, "has no key column"),
        ("empty file named .csv", "empty.csv", b"", "is empty"),
        ("CSV text named .parquet", "deals.parquet", GOOD_CSV, "cannot be read as Parquet"),
        ("an xlsx named .parquet", "sheet.parquet", workbook(), "cannot be read as Parquet"),
        (
            "Parquet magic around garbage",
            "fake.parquet",
            b"PAR1" + PNG + b"PAR1",
            "cannot be read as Parquet",
        ),
    ]


def _zip(parts: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def stage(path: Path) -> Any:
    """Reads the file as the preview and the import of the deals dataset do."""
    with Staging(
        path=path,
        shown_file=path.name,
        dataset="deals",
        key_column="deal_id",
        time_column="closed_at",
        numeric_columns={"amount"},
        timezone="Asia/Taipei",
    ) as staging:
        return staging.stage(None, accept_schema_change=False)


def refusal(path: Path) -> str | None:
    """The reader's refusal of the file, or None if it read it."""
    try:
        stage(path)
    except HeadwayError as error:
        return str(error)
    except duckdb.Error as error:  # the services turn these into a sentence of their own
        return f"duckdb: {error}"
    return None


def test_the_corpus_is_as_big_as_promised(tmp_path: Path) -> None:
    files = bad_files()
    assert len(files) >= 30
    assert len({name for _, name, _, _ in files}) == len(files)


def test_every_bad_file_is_refused_by_the_reader_with_a_sentence(tmp_path: Path) -> None:
    wrong = []
    for what, name, content, words in bad_files():
        path = tmp_path / name
        path.write_bytes(content)
        found = refusal(path)
        if found is None:
            wrong.append(f"{what}: accepted")
        elif words not in found or name not in found or "Traceback" in found:
            wrong.append(f"{what}: {found[:300]}")
    assert wrong == []


def test_an_xlsx_file_over_its_own_size_cap_is_refused_before_it_is_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_data, "MAX_XLSX_BYTES", 1024 * 1024)
    path = tmp_path / "big.xlsx"
    path.write_bytes(b"PK" + bytes(1024 * 1024))  # not even a zip: the size is checked first
    found = refusal(path)
    assert found is not None
    assert "big.xlsx: is larger than 1 MB" in found


def test_a_sheet_that_claims_a_million_rows_is_read_as_the_rows_it_holds(tmp_path: Path) -> None:
    """Rows declared but empty (a stray <row r="1048576">, a huge <dimension>) cost no
    memory and no refusal: they are skipped as they are read."""
    cells = "".join(f'<c t="inlineStr"><is><t>{value}</t></is></c>' for value in ROW.split(","))
    body = (
        f'<row r="2">{cells}</row>'
        '<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>x9</t></is></c></row>'
    )
    path = tmp_path / "sparse.xlsx"
    path.write_bytes(workbook(sheet(body, dimension='<dimension ref="A1:E1048576"/>')))
    staged = stage(path)
    assert staged.rows_in_file == 2
    assert staged.bad_rows == 1  # the last row has a key but no time: named, not a crash
    assert [(bad.row, bad.column) for bad in staged.bad] == [(1048576, "closed_at")]


# The same files through the web page and the API -------------------------------------

SAMPLE = [
    "zip bomb: a part that expands a thousand times",
    "shared strings that expand past what is read into memory",
    "billion laughs in the sheet",
    "a row number that is not a number, after the first 64 kB",
    "PNG named .xlsx",
    "gzip named .csv",
    "CSV text named .parquet",
]


def sample() -> list[tuple[str, str, bytes, str]]:
    chosen = [item for item in bad_files() if item[0] in SAMPLE]
    assert len(chosen) == len(SAMPLE)
    return chosen


@pytest.fixture
def folders(settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path / "data"
    settings.HEADWAY_WAREHOUSE_DIR = tmp_path / "data" / "warehouse"


def deals_table() -> bytes | None:
    path = table_path(Dataset.objects.get(key="deals"))
    return path.read_bytes() if path.exists() else None


def test_a_bad_file_uploaded_on_the_web_page_is_refused_with_its_reason(
    folders: None, org: Org
) -> None:
    client = org.client(org.nora)
    before = deals_table()
    wrong = []
    for what, name, content, words in sample():
        response = client.post("/data/deals/import/", {"file": SimpleUploadedFile(name, content)})
        if response.status_code != 302:
            wrong.append(f"{what}: upload answered {response.status_code}")
            continue
        preview = client.get(response["Location"])
        if preview.status_code != 200 or words not in preview.content.decode():
            wrong.append(f"{what}: preview {preview.status_code} without {words!r}")
        done = client.post(response["Location"], {"import": "1"}, follow=True)
        html = done.content.decode()
        if done.status_code != 200 or "failed and changed nothing" not in html:
            wrong.append(f"{what}: import answered {done.status_code}")
    assert wrong == []
    runs = list(ImportRun.objects.all())
    assert len(runs) == len(SAMPLE)
    assert all(run.status == ImportStatus.FAILED for run in runs)
    assert all("internal error" not in run.error for run in runs)
    assert deals_table() == before


def test_a_bad_file_sent_to_the_api_is_refused_with_422_and_its_reason(
    folders: None, org: Org
) -> None:
    _, raw = token_create(by=org.ada, name="tests", scope="write")
    before = deals_table()
    wrong = []
    for what, name, content, words in sample():
        response = org.client(None).post(
            "/api/v1/datasets/deals/files",
            {"file": SimpleUploadedFile(name, content)},
            headers={"Authorization": f"Bearer {raw}"},
        )
        detail = response.json().get("detail", "")
        if response.status_code != 422 or words not in detail or "internal error" in detail:
            wrong.append(f"{what}: {response.status_code} {detail[:200]}")
    assert wrong == []
    assert ImportRun.objects.filter(status=ImportStatus.FAILED).count() == len(SAMPLE)
    assert deals_table() == before


# Oversized files, on every way in ---------------------------------------------------


def test_an_oversized_file_is_refused_with_the_limit_on_every_way_in(
    folders: None, org: Org, settings: Any, tmp_path: Path
) -> None:
    settings.HEADWAY_UPLOAD_MAX_BYTES = 1000
    big = (HEADER + "\n" + f"{ROW}\n" * 60).encode()
    assert 1000 < len(big) < 1000 + 64 * 1024
    huge = big * 40  # past the limit and the multipart slack

    page = org.client(org.nora).post(
        "/data/deals/import/", {"file": SimpleUploadedFile("big.csv", big)}
    )
    assert page.status_code == 200
    assert "The file is larger than 1000\xa0bytes" in page.content.decode()

    _, raw = token_create(by=org.ada, name="tests", scope="write")
    headers = {"Authorization": f"Bearer {raw}"}
    post: Callable[[bytes], Any] = lambda content: org.client(None).post(  # noqa: E731
        "/api/v1/datasets/deals/files",
        {"file": SimpleUploadedFile("big.csv", content)},
        headers=headers,
    )
    announced = post(huge)
    assert announced.status_code == 413
    assert "files of up to 1,000 bytes are taken" in announced.json()["detail"]
    # Within the slack the length does not tell: the upload is stopped as it arrives, and
    # the answer still names the limit (not "file: field required").
    arriving = post(big)
    assert arriving.status_code == 413, arriving.json()
    assert "larger than 1,000 bytes" in arriving.json()["detail"]

    settings.HEADWAY_IMPORT_MAX_BYTES = 1000  # `headway import` of a file on disk
    path = tmp_path / "big.csv"
    path.write_bytes(big)
    run = import_file(dataset=Dataset.objects.get(key="deals"), path=path, by=org.ada)
    assert run.status == ImportStatus.FAILED
    assert "larger than the import limit of 1,000 bytes" in run.error
    assert ImportRun.objects.count() == 1  # the uploads never became runs
