"""Input that must be refused (issue 8): how long a parse takes, and what a bomb costs.

    uv run python bench/security_inputs.py            # about two minutes
    uv run python bench/security_inputs.py --quick    # a look in about twenty seconds

Parse times. Every formula and measure filter of the corpora in
tests/security/test_formula_and_filter_fuzz.py (the published escapes of sandboxes, as
they are, spliced into valid text, and nested up to 100,000 deep), then --inputs random
texts built from the same pieces and random Unicode, each timed on its own; then
bench/fuzz_formula.py (atheris, coverage-guided) for --fuzz-runs inputs. The goal: no
formula or filter takes a second. SQL source queries are timed the same way over the
bypass corpora (tests/security/test_sql_bypass_corpus.py and the vetting's own) and
queries at the 100,000-character limit.

Bombs. Each file is read by the import's own reader (headway.ingestion.warehouse.Staging,
as the preview and the import do) in a fresh process; the table gives its peak memory
(VmHWM, the maximum RSS) against a process that read a small valid file, the seconds it
took, and what happened. The goal: every bomb refused or read within bounded memory.

Writes bench/results/security-inputs.json. Exit status 0 when every input was refused
cleanly or parsed, and every bomb was refused or read; 2 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPOSITORY = BENCH.parent
sys.path.insert(0, str(REPOSITORY))

GOAL_SECONDS = 1.0
KIB = 1024
MIB = 1024 * 1024


# Parse times --------------------------------------------------------------------------


class Timing:
    """Parse times of one parser."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.seconds: list[float] = []
        self.slowest = ""
        self.crashes: list[str] = []

    def time(self, parse: Callable[[str], object], refusal: type[Exception], text: str) -> None:
        started = time.perf_counter()
        try:
            parse(text)
        except refusal:
            pass
        except Exception as error:  # the goal is that this never happens
            self.crashes.append(f"{type(error).__name__}: {text[:80]!r}")
        elapsed = time.perf_counter() - started
        if not self.seconds or elapsed > max(self.seconds):
            self.slowest = repr(text[:40]) + (f" ({len(text):,} chars)" if len(text) > 40 else "")
        self.seconds.append(elapsed)

    def row(self) -> dict[str, Any]:
        return {
            "parser": self.name,
            "inputs": len(self.seconds),
            "max_ms": max(self.seconds) * 1000,
            "mean_ms": statistics.fmean(self.seconds) * 1000,
            "p99_ms": sorted(self.seconds)[int(len(self.seconds) * 0.99)] * 1000,
            "crashes": len(self.crashes),
            "slowest": self.slowest,
        }


def random_texts(pieces: list[str], count: int, seed: int) -> Iterator[str]:
    """Token soups of the corpora's pieces, random Unicode, and deep nesting."""
    generator = random.Random(seed)
    for number in range(count):
        shape = number % 4
        if shape == 0:
            size = generator.randint(1, 60)
            yield generator.choice(["", " "]).join(generator.choices(pieces, k=size))
        elif shape == 1:
            size = generator.randint(1, 400)
            yield "".join(chr(generator.randint(1, 0x2FFFF)) for _ in range(size))
        elif shape == 2:
            depth = generator.randint(1, 5000)
            opening, inside, closing = generator.choice(
                [("(", "a", ")"), ("-", "a", ""), ("prev(", "a", ")"), ("NOT ", "a", "")]
            )
            yield opening * depth + inside + closing * depth
        else:
            base = generator.choice(pieces)
            cut = generator.randint(0, len(base))
            yield base[:cut] + generator.choice(pieces) + base[cut:]


def parse_times(inputs: int) -> tuple[list[dict[str, Any]], list[str]]:
    from tests.ingestion.sources_sql import vetting_corpus
    from tests.security import test_formula_and_filter_fuzz as fuzz
    from tests.security import test_sql_bypass_corpus as bypass

    from headway.engine.filters import FilterError, parse_filter
    from headway.engine.formula import FormulaError, parse_formula
    from headway.ingestion.sources.base import SourceError
    from headway.ingestion.sources.sql.vetting import MAX_QUERY_LENGTH, vet_query

    # The first calls import and set up sqlglot's dialects: not a parse time.
    parse_formula("a + prev(b)")
    parse_filter("a = 1")
    vet_query("SELECT 1", "postgres")
    vet_query("SELECT 1", "mysql")

    escapes = [payload for _, payload in fuzz.ESCAPES]
    nested = [
        opening * depth + inside + closing * depth
        for opening, inside, closing in fuzz.NESTERS
        for depth in fuzz.DEPTHS
    ]
    spliced = [
        base[:cut] + escape + base[cut:]
        for base in ("revenue / prev(revenue, 12) - 1", "stage = 'won' AND amount > 10")
        for escape in escapes
        for cut in (0, len(base) // 2, len(base))
    ]
    pieces = sorted(set(fuzz._FORMULA_WORDS + fuzz._SQL_WORDS + escapes))
    texts = [*escapes, *nested, *spliced, *random_texts(pieces, inputs, seed=8)]

    formula, filters = Timing("formula"), Timing("filter")
    for text in texts:
        formula.time(parse_formula, FormulaError, text)
        filters.time(parse_filter, FilterError, text)

    sql = Timing("SQL source query")
    queries = [entry.text(bypass.NAMES) for entry in bypass.CORPUS]
    queries += [text for _, text in vetting_corpus.REFUSED + vetting_corpus.REFUSED_POSTGRES]
    queries += vetting_corpus.ACCEPTED_BOTH + vetting_corpus.ACCEPTED_POSTGRES
    queries += vetting_corpus.ACCEPTED_MYSQL
    queries += [
        text[:MAX_QUERY_LENGTH]
        for text in (
            "SELECT " + "1 + " * 25_000 + "1",
            "SELECT " + ", ".join(f"c{i}" for i in range(14_000)) + " FROM t",
            "SELECT 1 FROM t WHERE " + " AND ".join(f"a{i} = {i}" for i in range(7_000)),
            "WITH " + ", ".join(f"c{i} AS (SELECT {i})" for i in range(3_000)) + " SELECT 1",
            "SELECT " + "(" * 64 + "1" + ")" * 64,
            "SELECT " + "(" * 100_000,
        )
    ]
    for text in queries:
        for dialect in ("postgres", "mysql"):
            sql.time(lambda query, dialect=dialect: vet_query(query, dialect), SourceError, text)
    timings = [formula, filters, sql]
    crashes = [f"{timing.name}: {crash}" for timing in timings for crash in timing.crashes]
    return [timing.row() for timing in timings], crashes


def fuzz_run(runs: int) -> dict[str, Any]:
    """bench/fuzz_formula.py for `runs` inputs, seeded with the escapes."""
    from tests.security import test_formula_and_filter_fuzz as fuzz

    with tempfile.TemporaryDirectory(prefix="headway-fuzz-") as folder:
        corpus = Path(folder) / "corpus"
        corpus.mkdir()
        for number, (_, payload) in enumerate(fuzz.ESCAPES):
            for target in (b"\x00", b"\x01"):
                (corpus / f"{number}-{target[0]}").write_bytes(target + payload.encode())
        stats = Path(folder) / "stats.json"
        started = time.perf_counter()
        completed = subprocess.run(
            [
                sys.executable,
                str(BENCH / "fuzz_formula.py"),
                f"-runs={runs}",
                "-seed=1",
                "-max_len=2100",
                str(corpus),
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=REPOSITORY,
            env={**os.environ, "HEADWAY_FUZZ_STATS": str(stats)},
        )
        found = json.loads(stats.read_text()) if stats.exists() else {}
    return {
        "runs": runs,
        "exit_status": completed.returncode,
        "seconds": time.perf_counter() - started,
        "parsers": found,
        "crash": completed.stderr[-2000:] if completed.returncode else "",
    }


# Bombs -------------------------------------------------------------------------------

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
HEADER = ("deal_id", "closed_at", "team", "stage", "amount")


def _write_xlsx(path: Path, sheet: Iterable[bytes], shared: Iterable[bytes] | None = None) -> None:
    """An .xlsx with the sheet (and shared strings) streamed from chunks of XML."""
    strings_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
    sheet_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
    book_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
    overrides = (
        f'<Override PartName="/xl/workbook.xml" ContentType="{book_type}"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{sheet_type}"/>'
    )
    relations = f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    if shared is not None:
        overrides += f'<Override PartName="/xl/sharedStrings.xml" ContentType="{strings_type}"/>'
        relations += (
            f'<Relationship Id="rId2" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
        )
    package = "http://schemas.openxmlformats.org/package/2006"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            f'<Types xmlns="{package}/content-types"><Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            f'<Default Extension="xml" ContentType="application/xml"/>{overrides}</Types>',
        )
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{package}/relationships"><Relationship Id="rId1" '
            f'Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>'
            '<sheet name="Deals" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{package}/relationships">{relations}</Relationships>',
        )
        for name, chunks in (("xl/worksheets/sheet1.xml", sheet), ("xl/sharedStrings.xml", shared)):
            if chunks is None:
                continue
            with archive.open(name, "w", force_zip64=True) as handle:
                for chunk in chunks:
                    handle.write(chunk)


def _header(dimension: str = "") -> bytes:
    cells = "".join(f'<c t="inlineStr"><is><t>{name}</t></is></c>' for name in HEADER)
    declared = f'<dimension ref="{dimension}"/>' if dimension else ""
    return f'<worksheet xmlns="{MAIN}">{declared}<sheetData><row r="1">{cells}</row>'.encode()


def _rows(count: int) -> Iterator[bytes]:
    """Deals rows, each with five cells; numbers vary so that deflate does not shrink
    them past the compression-bomb check."""
    yield _header()
    batch = []
    for number in range(2, count + 2):
        batch.append(
            f'<row r="{number}"><c t="inlineStr"><is><t>d{number}</t></is></c>'
            f'<c t="inlineStr"><is><t>2024-01-{number % 28 + 1:02d}</t></is></c>'
            f'<c t="inlineStr"><is><t>t{number % 7}</t></is></c>'
            f'<c t="inlineStr"><is><t>won</t></is></c><c><v>{number * 7919 % 100003}</v></c>'
            "</row>"
        )
        if len(batch) == 5000:
            yield "".join(batch).encode()
            batch = []
    yield ("".join(batch) + "</sheetData></worksheet>").encode()


def _strings(size: int) -> Iterator[bytes]:
    """Shared strings of about `size` bytes: short, different strings (the costliest in
    memory per byte), compressing about ten times."""
    yield f'<sst xmlns="{MAIN}">'.encode()
    written, number = 0, 0
    while written < size:
        chunk = "".join(f"<si><t>{value:x}</t></si>" for value in range(number, number + 10_000))
        number += 10_000
        written += len(chunk)
        yield chunk.encode()
    yield b"</sst>"


def make_bombs(folder: Path, quick: bool) -> list[tuple[str, Path]]:
    """(what, file) for each bomb, made once per run."""
    made = []

    def add(what: str, name: str, build: Callable[[Path], None]) -> None:
        path = folder / name
        build(path)
        made.append((what, path))

    add("baseline: a valid sheet of 100 rows", "small.xlsx", lambda p: _write_xlsx(p, _rows(100)))

    def zip_bomb(path: Path) -> None:
        zeros = (b" " * MIB for _ in range(64 if quick else 1000))
        _write_xlsx(path, [_header(), *zeros, b"</sheetData></worksheet>"])

    add("zip bomb: a sheet of spaces, ~1000x", "bomb.xlsx", zip_bomb)
    strings = 16 * MIB if quick else 60 * MIB
    add(
        f"shared strings of {strings // MIB} MB, under the {64} MB cap (read whole)",
        "strings-under.xlsx",
        lambda p: _write_xlsx(p, _rows(10), _strings(strings)),
    )
    over = 80 * MIB if quick else 200 * MIB
    add(
        f"shared strings of {over // MIB} MB, over the cap",
        "strings-over.xlsx",
        lambda p: _write_xlsx(p, _rows(10), _strings(over)),
    )
    rows = 20_000 if quick else 200_000
    add(f"a sheet of {rows:,} rows (streamed)", "rows.xlsx", lambda p: _write_xlsx(p, _rows(rows)))
    more = 4 * rows
    add(
        f"a sheet of {more:,} rows (streamed)",
        "more-rows.xlsx",
        lambda p: _write_xlsx(p, _rows(more)),
    )
    add(
        "a row at 1,048,576 and a dimension of 1,048,576 rows (4 kB)",
        "sparse.xlsx",
        lambda p: _write_xlsx(
            p,
            [
                _header(dimension="A1:E1048576"),
                b'<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>x</t></is></c></row>'
                b"</sheetData></worksheet>",
            ],
        ),
    )
    return made


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from
    the process that started it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / KIB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / KIB


def read_in_child(path: Path) -> dict[str, Any]:
    """Reads the file like an import, in this (fresh) process; what it cost."""
    import openpyxl  # noqa: F401  # imported before the baseline, as in a web process

    from headway.engine.problems import HeadwayError
    from headway.ingestion.warehouse import Staging

    before = peak_rss_mb()
    started = time.perf_counter()
    try:
        with Staging(
            path=path,
            shown_file=path.name,
            dataset="deals",
            key_column="deal_id",
            time_column="closed_at",
            numeric_columns={"amount"},
            timezone="UTC",
        ) as staging:
            staged = staging.stage(None, accept_schema_change=False)
        outcome = f"read: {staged.rows_in_file:,} rows"
    except HeadwayError as error:
        outcome = "refused: " + str(error).split(": ", 1)[-1][:60]
    except Exception as error:  # not the goal: reported as a failure
        outcome = f"CRASH {type(error).__name__}: {error}"[:90]
    peak = peak_rss_mb()
    return {
        "seconds": time.perf_counter() - started,
        "peak_rss_mb": peak,
        "grew_mb": peak - before,
        "outcome": outcome,
    }


def bombs(quick: bool) -> list[dict[str, Any]]:
    results = []
    with tempfile.TemporaryDirectory(prefix="headway-bombs-") as folder:
        for what, path in make_bombs(Path(folder), quick):
            completed = subprocess.run(
                [sys.executable, __file__, "--child", str(path)],
                capture_output=True,
                text=True,
                check=False,
                cwd=REPOSITORY,
            )
            if completed.returncode != 0:
                found = {
                    "seconds": 0,
                    "peak_rss_mb": 0,
                    "outcome": "CRASH " + completed.stderr[-200:],
                }
            else:
                found = json.loads(completed.stdout.strip().splitlines()[-1])
            with zipfile.ZipFile(path) as archive:
                expands = sum(info.file_size for info in archive.infolist())
            found.update(what=what, file_mb=path.stat().st_size / MIB, expands_mb=expands / MIB)
            results.append(found)
    return results


# Report ------------------------------------------------------------------------------


def _cell(value: Any, spec: str) -> str:
    return format(value, spec) if isinstance(value, int | float) else str(value)


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str, str]]) -> str:
    """Plain text columns: (key, heading, format)."""
    cells = [[heading for _, heading, _ in columns]]
    for row in rows:
        cells.append([_cell(row.get(key, ""), spec) for key, _, spec in columns])
    widths = [max(len(line[index]) for line in cells) for index in range(len(columns))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in cells
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs and bombs")
    parser.add_argument("--inputs", type=int, help="random texts per parser")
    parser.add_argument("--fuzz-runs", type=int, help="atheris inputs")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child is not None:
        print(json.dumps(read_in_child(options.child)))
        return 0
    inputs = options.inputs or (2_000 if options.quick else 20_000)
    runs = options.fuzz_runs or (5_000 if options.quick else 100_000)

    times, crashes = parse_times(inputs)
    fuzzed = fuzz_run(runs)
    for name, found in fuzzed["parsers"].items():
        times.append(
            {
                "parser": f"{name} (atheris)",
                "inputs": found["inputs"],
                "max_ms": found["max_seconds"] * 1000,
                "mean_ms": found["mean_seconds"] * 1000,
                "p99_ms": "",
                "crashes": 1 if fuzzed["exit_status"] else 0,
                "slowest": repr(found["slowest_input"][:40]),
            }
        )
    print("Parse times (goal: no formula or filter over 1 s)\n")
    print(
        table(
            times,
            [
                ("parser", "parser", ""),
                ("inputs", "inputs", ","),
                ("max_ms", "max ms", ".1f"),
                ("mean_ms", "mean ms", ".3f"),
                ("p99_ms", "p99 ms", ".2f"),
                ("crashes", "crashes", ""),
                ("slowest", "slowest input", ""),
            ],
        )
    )
    exploded = bombs(options.quick)
    print("\nBombs, each read by the import's reader in a fresh process\n")
    print(
        table(
            exploded,
            [
                ("what", "file", ""),
                ("file_mb", "MB", ".2f"),
                ("expands_mb", "expands to MB", ".0f"),
                ("peak_rss_mb", "peak RSS MB", ".0f"),
                ("grew_mb", "of which reading MB", ".0f"),
                ("seconds", "s", ".2f"),
                ("outcome", "outcome", ""),
            ],
        )
    )
    slow = [
        row["parser"]
        for row in times
        if "SQL" not in row["parser"] and row["max_ms"] > GOAL_SECONDS * 1000
    ]
    failed = crashes + [row["what"] for row in exploded if row["outcome"].startswith("CRASH")]
    if fuzzed["exit_status"]:
        failed.append(f"atheris: {fuzzed['crash']}")
    print()
    print(f"Formulas and filters over {GOAL_SECONDS:g} s: {', '.join(slow) or 'none'}")
    print(f"Crashes: {len(failed)}" + "".join(f"\n  {item}" for item in failed))
    results = BENCH / "results"
    results.mkdir(exist_ok=True)
    (results / "security-inputs.json").write_text(
        json.dumps({"parse": times, "fuzz": fuzzed, "bombs": exploded}, indent=2) + "\n"
    )
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
