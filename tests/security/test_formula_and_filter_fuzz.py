"""Formulas and measure filters against the published escapes of sandboxes, deep nesting
and fuzzed text.

Whatever the text, the formula parser and the filter parser either refuse it with their
own error (FormulaError, FilterError: ValueErrors with a sentence for people) or give a
tree that can only denote arithmetic over measure names (a formula) or comparisons of
columns with literals (a filter), and nothing is executed on the way: no exec, eval,
compile, import, file, process or socket event reaches Python's audit hooks while they
parse. An accepted filter is also read back by DuckDB's own parser, which must see the
same columns and nothing but comparisons, AND/OR/NOT, IN, IS NULL and constants.

Whether a parse stays under a second is measured by bench/security_inputs.py, not here.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headway.engine.filters import Filter, FilterError, parse_filter
from headway.engine.formula import (
    PREV,
    FormulaError,
    Node,
    evaluate,
    measure_names,
    parse_formula,
)
from headway.engine.problems import HeadwayError
from headway.engine.workspace import workspace_from_data

REPOSITORY = Path(__file__).resolve().parents[2]
HARNESS = REPOSITORY / "bench" / "fuzz_formula.py"

# Each (where it is published, payload). The Python and Jinja ones are the classic escapes
# of expression sandboxes (the class-hierarchy walk to os.system, __import__, builtins
# through globals, generator and frame objects, format strings, Jinja's attr filter and
# its globals), as collected in PayloadsAllTheThings "Server Side Template Injection" and
# the pyjail/"Python sandbox escape" write-ups; the SQL ones are the classic injection
# shapes of the SQL injection cheat sheets, aimed at the filter's SQL.
PYTHON_ESCAPES: list[tuple[str, str]] = [
    ("class walk", "().__class__.__bases__[0].__subclasses__()"),
    ("class walk via str", "''.__class__.__mro__[1].__subclasses__()"),
    ("class walk via list", "[].__class__.__base__.__subclasses__()"),
    (
        "class walk to os",
        "[].__class__.__base__.__subclasses__()[59].__init__.__globals__['sys']"
        ".modules['os'].system('id')",
    ),
    ("dict class", "{}.__class__"),
    ("int class", "(1).__class__"),
    ("int class with a space", "1 .__class__"),
    ("float class", "1..__class__"),
    ("dunder dict", "revenue.__dict__"),
    ("globals of a name", "revenue.__globals__"),
    ("import", "__import__('os').system('id')"),
    ("import bare name", "__import__"),
    ("builtins index", "__builtins__['eval']('1')"),
    ("builtins attribute", "__builtins__.__import__('os')"),
    ("eval", "eval('1+1')"),
    ("exec", "exec('import os')"),
    ("compile", "compile('1', '', 'eval')"),
    ("getattr", "getattr(revenue, '__class__')"),
    ("vars", "vars()"),
    ("globals", "globals()"),
    ("open", "open('/etc/passwd').read()"),
    ("breakpoint", "breakpoint()"),
    ("input", "input()"),
    ("lambda", "lambda: 0"),
    ("called lambda", "(lambda: 0)()"),
    ("list comprehension", "[x for x in ()]"),
    ("generator frame to globals", "(x for x in ()).gi_frame.f_back.f_globals"),
    ("generator code", "(_ for _ in ()).gi_code"),
    ("generator frame builtins", "(x for x in [1]).gi_frame.f_builtins['__import__']('os')"),
    ("traceback frame", "sys.exc_info()[2].tb_frame.f_back.f_globals"),
    ("yield", "(yield)"),
    ("await", "await revenue"),
    ("conditional expression", "revenue if cost else 0"),
    ("and", "revenue and cost"),
    ("or", "revenue or cost"),
    ("not", "not revenue"),
    ("walrus", "(x := 1)"),
    ("assignment", "revenue = 1"),
    ("second statement", "revenue; import os"),
    ("import statement", "import os"),
    ("from import", "from os import system"),
    ("del", "del revenue"),
    ("f-string", 'f"{revenue}"'),
    ("f-string import", 'f\'{__import__("os").system("id")}\''),
    ("format string attribute walk", "'{0.__class__.__mro__}'.format(revenue)"),
    ("bytes", "b'x'"),
    ("triple quoted", "'''x'''"),
    ("escaped string", '"\\x41"'),
    ("index", "revenue[0]"),
    ("slice", "revenue[::-1]"),
    ("set", "{revenue}"),
    ("dict", "{revenue: cost}"),
    ("star", "*revenue"),
    ("double star", "**revenue"),
    ("power", "revenue ** 1000000"),
    ("floor division", "revenue // cost"),
    ("modulo", "revenue % cost"),
    ("matrix multiplication", "revenue @ cost"),
    ("shift", "revenue << 1000000"),
    ("bitwise", "revenue | cost & ~revenue ^ cost"),
    ("comparison", "revenue == cost"),
    ("is", "revenue is cost"),
    ("in", "revenue in cost"),
    ("comment", "revenue # + cost"),
    ("line continuation", "revenue \\\n + cost"),
    ("hex literal", "0x1f"),
    ("octal literal", "0o17"),
    ("binary literal", "0b101"),
    ("underscore literal", "1_000"),
    ("complex literal", "1j"),
    ("ellipsis", "..."),
    ("attribute on prev", "prev(revenue).__class__"),
    ("import in prev periods", "prev(revenue, __import__('os'))"),
    ("three prev arguments", "prev(revenue, 1, 2)"),
    ("negative prev periods", "prev(revenue, -1)"),
    ("float prev periods", "prev(revenue, 1e3)"),
    ("prev as a value", "prev.__class__"),
    ("prev alone", "prev"),
    ("fullwidth eval (NFKC)", "\uff45\uff56\uff41\uff4c('1')"),
    ("modifier letter eval", "\u1d49val('1')"),
    ("mathematical bold eval", "\U0001d41e\U0001d42f\U0001d41a\U0001d425('1')"),
    (
        "mathematical import",
        "__\U0001d48a\U0001d48e\U0001d491\U0001d490\U0001d493\U0001d495__('os')",
    ),
    ("zero-width space", "revenue\u200b+ cost"),
    ("no-break space", "revenue\u00a0+ cost"),
    ("line separator", "revenue\u2028+ cost"),
    ("byte order mark", "\ufeffrevenue"),
    ("nul", "revenue\x00"),
    ("right-to-left override", "\u202erevenue + cost"),
    ("cyrillic look-alike", "r\u0435venue"),
    ("arabic-indic digits", "\u0661\u0662\u0663"),
    ("superscript digit", "revenue * \u00b2"),
    ("vulgar fraction", "\u00bd"),
    ("roman numeral", "\u216b"),
    ("mathematical digit", "\U0001d7d9"),
    ("sql second statement", "revenue; DROP TABLE deals"),
    ("sql comment", "revenue -- + cost"),
    ("sql block comment", "revenue /* x */ + cost"),
    ("sql union", "revenue UNION SELECT 1"),
]

JINJA_ESCAPES: list[tuple[str, str]] = [
    ("expression", "{{7*7}}"),
    ("class walk", "{{ ''.__class__.__mro__[1].__subclasses__() }}"),
    ("attr filter", "{{ ''|attr('__class__')|attr('__mro__') }}"),
    ("attr with escapes", "{{ ''|attr('\\x5f\\x5fclass\\x5f\\x5f') }}"),
    (
        "request globals",
        "{{ request|attr('application')|attr('\\x5f\\x5fglobals\\x5f\\x5f') }}",
    ),
    ("lipsum globals", "{{ lipsum.__globals__.os.popen('id').read() }}"),
    ("cycler globals", "{{ cycler.__init__.__globals__.os.popen('id').read() }}"),
    ("config globals", "{{ config.__class__.__init__.__globals__['os'] }}"),
    ("for over subclasses", "{% for c in [].__class__.__base__.__subclasses__() %}{% endfor %}"),
    ("template reference", "{{ self._TemplateReference__context }}"),
    ("attr from request", "{{ x|attr(request.args.c) }}"),
    ("dollar template", "${7*7}"),
    ("hash template", "#{7*7}"),
    ("erb template", "<%= 7*7 %>"),
    ("star template", "*{7*7}"),
    ("razor template", "@(7*7)"),
]

FILTER_ESCAPES: list[tuple[str, str]] = [
    ("file read function", "read_csv('/etc/passwd') IS NOT NULL"),
    ("environment function", "getenv('HOME') = 'x'"),
    ("scalar subquery", "stage = (SELECT 1)"),
    ("in subquery", "stage IN (SELECT name FROM users)"),
    ("exists", "EXISTS (SELECT 1)"),
    ("stacked statement", "stage = 'won'; DROP TABLE deals"),
    ("union", "stage = 'won' UNION SELECT 1"),
    ("parenthesis breakout", "stage = 'won') OR (1 = 1"),
    ("tautology", "stage = '1' OR '1' = '1'"),
    ("line comment", "stage = 'won' -- AND team = 'x'"),
    ("block comment", "stage = 'won' /* c */ OR team = 'north'"),
    ("quoted identifier breakout", 'stage" = 1 OR "x'),
    ("doubled quote identifier", '"a"" = 1 OR ""b" = 1'),
    ("dollar string", "stage = $$won$$"),
    ("escape string", "stage = E'\\x27'"),
    ("backslash quote", "stage = 'won\\' OR 1 = 1 --'"),
    ("question placeholder", "stage = ?"),
    ("dollar parameter", "stage = $1"),
    ("named parameter", "stage = :x"),
    ("cast operator", "amount::INT = 1"),
    ("cast function", "CAST(amount AS INT) = 1"),
    ("like", "stage LIKE '%won'"),
    ("between", "amount BETWEEN 1 AND 2"),
    ("arithmetic", "amount = 1 + 1"),
    ("function on a literal", "stage = lower('WON')"),
    ("qualified column", "deals.stage = 'won'"),
    ("catalog qualified column", "main.deals.stage = 'won'"),
    ("struct access", "payload.key = 1"),
    ("map index", "payload['key'] = 1"),
    ("list index", "tags[1] = 'x'"),
    ("struct pack", "struct_pack(a := 1) IS NULL"),
    ("lambda", "list_filter(tags, x -> x = 1) IS NULL"),
    ("columns expression", "COLUMNS(*) = 1"),
    ("star", "* = 1"),
    ("struct literal", "stage = {'k': 1}"),
    ("list literal", "stage = [1, 2]"),
    ("map literal", "stage = MAP {}"),
    ("positional reference", "stage = #1"),
    ("is distinct from", "stage IS DISTINCT FROM team"),
    ("sleep", "stage = 'won' AND pg_sleep(1)"),
    ("function in a list", "stage IN ('won', sleep(1))"),
    ("system", "system('id') = 0"),
    ("values subquery", "stage = (VALUES ('won'))"),
    ("order by", "stage = 'won' ORDER BY 1"),
    ("limit", "stage = 'won' LIMIT 1"),
    ("any subquery", "amount = ANY(SELECT 1)"),
    ("all list", "amount = ALL([1])"),
    ("similar to", "stage SIMILAR TO 'w.*'"),
    ("glob", "stage GLOB 'w*'"),
    ("collate", "stage = 'won' COLLATE nocase"),
    ("interval", "closed_at = INTERVAL '1 day'"),
    ("date literal", "closed_at = DATE '2024-01-01'"),
    ("current date", "closed_at = current_date"),
    ("now", "closed_at = now()"),
    ("random", "amount > random()"),
    ("case", "CASE WHEN stage = 'won' THEN true END"),
    ("nextval", "amount = nextval('s')"),
    ("pragma", "PRAGMA database_list"),
    ("attach", "ATTACH '/tmp/x.db' AS x"),
    ("copy", "COPY deals TO '/tmp/deals.csv'"),
    ("install", "INSTALL httpfs"),
    ("load", "LOAD httpfs"),
    ("set", "SET enable_external_access = true"),
    ("call", "CALL pragma_version()"),
    ("qualify", "stage = 'won' QUALIFY 1"),
    ("comparison of comparisons", "(stage = 'won') = (team = 'north')"),
    ("concatenation", "stage = 'w' || 'on'"),
    ("minus a string", "amount = -'1'"),
    ("double minus", "amount = - - 1"),
    ("plus sign", "amount = +1"),
    ("hex number", "amount = 0x10"),
    ("huge number", "amount = 1e400"),
    ("nul in a string", "stage = 'won\x00'"),
    ("zero-width space", "stage\u200b = 'won'"),
    ("fullwidth name", "\uff53tage = 'won'"),
    ("unicode escape identifier", 'U&"\\0073tage" = 1'),
    ("two columns", "stage = team"),
    ("two literals", "1 = 1"),
    ("null comparison", "stage = NULL"),
    ("is true", "stage IS TRUE"),
    ("empty in", "stage IN ()"),
]

ESCAPES = PYTHON_ESCAPES + JINJA_ESCAPES + FILTER_ESCAPES

NESTERS: list[tuple[str, str, str]] = [
    # (opening, inside, closing) repeated n times around the inside.
    ("(", "revenue", ")"),
    ("-", "revenue", ""),
    ("prev(", "revenue", ")"),
    ("(-", "revenue", ")"),
    ("revenue + (", "revenue", ")"),
    ("(", "stage = 'won'", ")"),
    ("NOT ", "flag", ""),
    ("(NOT ", "flag", ")"),
    ("stage = 'won' AND (", "flag", ")"),
    ("{{", "x", "}}"),
    ("[", "x", "]"),
    ("(", "", ""),
    ("", "", ")"),
]
DEPTHS = [41, 64, 101, 1_000, 10_000, 100_000]

# Python events that would mean a parser executed, imported, opened or connected something.
WATCHED_EVENTS = frozenset({"exec", "compile", "import", "open", "builtins.input"})
WATCHED_PREFIXES = (
    "os.",
    "subprocess.",
    "socket.",
    "ctypes.",
    "shutil.",
    "urllib.",
    "http.",
    "sqlite3.",
    "pickle.",
    "marshal.",
    "code.",
    "function.",
    "cpython.run_",
    "webbrowser.",
)
_SQLGLOT = str(Path(sqlglot.__file__).parent)
_watching = False
_events: list[tuple[str, str]] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _watching or not (event in WATCHED_EVENTS or event.startswith(WATCHED_PREFIXES)):
        return
    shown = repr(args)
    if (event == "import" and str(args[0]).startswith("sqlglot")) or _SQLGLOT in shown:
        return  # sqlglot loading its own modules on first use
    _events.append((event, shown[:200]))


sys.addaudithook(_audit)  # hooks cannot be removed: this one is idle unless watching


@contextlib.contextmanager
def nothing_runs() -> Iterator[None]:
    """Fails if anything executes, imports, opens files, starts processes or connects
    while the block runs."""
    global _watching
    _events.clear()
    _watching = True
    try:
        yield
    finally:
        _watching = False
    assert _events == [], f"the parser did something: {_events}"


NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def formula_outcome(text: str) -> Node | None:
    """The tree of an accepted formula (checked to be mere arithmetic), or None when
    refused with a FormulaError; nothing runs either way."""
    refusal: FormulaError | None = None
    with nothing_runs():
        try:
            tree = parse_formula(text)
        except FormulaError as error:
            refusal = error
    if refusal is not None:
        assert refusal.message
        assert "Traceback" not in refusal.message
        return None
    names = measure_names(tree)
    for name in names:
        assert NAME.fullmatch(name), name
        assert name != PREV
    asked: list[str] = []

    def value_of(name: str, offset: int) -> int:
        asked.append(name)
        return 2

    with nothing_runs():
        value = evaluate(tree, value_of)
    assert value is None or type(value) in (int, float)
    assert set(asked) <= set(names)
    return tree


_DUCKDB = duckdb.connect(":memory:")
_DUCKDB_CLASSES = {"CONJUNCTION", "COMPARISON", "OPERATOR", "COLUMN_REF", "CONSTANT", "CAST"}
_DUCKDB_OPERATORS = {
    "OPERATOR_NOT",
    "OPERATOR_IS_NULL",
    "OPERATOR_IS_NOT_NULL",
    "COMPARE_IN",
    "COMPARE_NOT_IN",
}


def duckdb_reading(sql: str) -> set[str]:
    """The columns DuckDB's own parser reads in `WHERE <sql>`, after checking that it
    reads nothing but comparisons, AND/OR/NOT, IN, IS NULL, columns and constants."""
    (text,) = _DUCKDB.execute(
        "SELECT json_serialize_sql(?)", ["SELECT 1 FROM t WHERE " + sql]
    ).fetchone() or ("",)
    document = json.loads(text)
    assert document["error"] is False, document
    (statement,) = document["statements"]
    columns: set[str] = set()

    def walk(node: Any, parent: str | None) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, parent)
            return
        if not isinstance(node, dict):
            return
        kind = node.get("class")
        if kind is not None:
            assert kind in _DUCKDB_CLASSES, (sql, kind)
            if kind == "OPERATOR":
                assert node["type"] in _DUCKDB_OPERATORS, (sql, node["type"])
            if kind == "CAST":
                assert node["child"]["class"] == "CONSTANT", sql
            if kind == "COLUMN_REF":
                assert len(node["column_names"]) == 1, sql
                columns.add(node["column_names"][0])
        for key, value in node.items():
            if key not in ("value", "cast_type"):
                walk(value, kind)

    walk(statement["node"]["where_clause"], None)
    return columns


def filter_outcome(text: str) -> Filter | None:
    """The parsed filter if accepted (checked against DuckDB's own reading of its SQL),
    or None when refused with a FilterError; nothing runs either way."""
    refusal: FilterError | None = None
    with nothing_runs():
        try:
            parsed = parse_filter(text)
        except FilterError as error:
            refusal = error
    if refusal is not None:
        assert str(refusal)
        assert "Traceback" not in str(refusal)
        return None
    sql = parsed.sql()
    assert duckdb_reading(sql) == set(parsed.columns)
    assert parse_filter(sql).sql() == sql  # what runs reads back as what was checked
    return parsed


def workspace_with(formula: str = "won", filter_text: str = "stage = 'won'") -> dict[str, Any]:
    return {
        "version": 1,
        "organization": {"name": "Test", "timezone": "UTC", "currency": "TWD"},
        "datasets": {"deals": {"file": "deals.csv", "key": "deal_id", "time": "closed_at"}},
        "measures": {"won": {"dataset": "deals", "agg": "count", "filter": filter_text}},
        "kpis": [
            {"key": "wins", "name": "Wins", "formula": formula, "unit": "count", "grain": "month"}
        ],
    }


def test_the_corpus_is_as_big_as_promised() -> None:
    assert len(PYTHON_ESCAPES) >= 90
    assert len(JINJA_ESCAPES) >= 15
    assert len(FILTER_ESCAPES) >= 80
    assert len({payload for _, payload in ESCAPES}) == len(ESCAPES)


def test_a_workspace_with_a_plain_formula_and_filter_is_valid(tmp_path: Path) -> None:
    # The control for the tests below: only the payload makes a workspace invalid.
    workspace_from_data(workspace_with(), tmp_path / "headway.yaml")


def failures(check: Callable[[str], object], payloads: list[tuple[str, str]]) -> list[str]:
    """Runs `check` on every payload (in one test: hundreds of cases, little overhead);
    the names of those that failed, with why."""
    found = []
    for name, payload in payloads:
        try:
            check(payload)
        except AssertionError as error:
            found.append(f"{name}: {str(error)[:300]}")
    return found


def test_every_escape_is_refused_as_a_formula_or_is_mere_arithmetic() -> None:
    assert failures(formula_outcome, ESCAPES) == []


def test_every_escape_is_refused_as_a_filter_or_is_a_plain_comparison() -> None:
    assert failures(filter_outcome, ESCAPES) == []


def test_a_workspace_holding_an_escape_fails_validation_with_problems_only(
    tmp_path: Path,
) -> None:
    path = tmp_path / "headway.yaml"

    def refused_by_the_workspace(payload: str) -> None:
        for data in (workspace_with(formula=payload), workspace_with(filter_text=payload)):
            if data["measures"]["won"]["filter"] == payload and filter_outcome(payload):
                continue  # a filter that is a plain comparison is valid
            problems: list[Any] = []
            try:
                workspace_from_data(data, path)
            except HeadwayError as error:
                problems = list(error.problems)
            assert problems, "the workspace was valid"
            assert all("Traceback" not in str(problem) for problem in problems)

    assert failures(refused_by_the_workspace, ESCAPES) == []


def test_the_escapes_a_formula_accepts_are_only_bare_names_and_arithmetic() -> None:
    accepted = sorted(name for name, text in ESCAPES if formula_outcome(text) is not None)
    # Bare identifiers are measure names for the workspace to look up (and refuse), and
    # "revenue -- + cost" is revenue minus minus plus cost. (The filters an escape leaves
    # acceptable are checked node by node against DuckDB's own reading instead: odd
    # column names such as "١٢٣" or "__import__", comments dropped.)
    assert accepted == ["import bare name", "sql comment", "yield"]


def test_deep_nesting_is_refused_cleanly_by_both_parsers() -> None:
    def refused_when_deep(text: str) -> None:
        assert formula_outcome(text) is None
        # Only a shallow filter may pass; anything nested past the limit is refused.
        assert filter_outcome(text) is None or text.count("(") + text.count("NOT") <= 80

    cases = [
        (f"{opening!r}x{depth}", opening * depth + inside + closing * depth)
        for opening, inside, closing in NESTERS
        for depth in DEPTHS
    ]
    assert len(cases) == len(NESTERS) * len(DEPTHS)
    assert failures(refused_when_deep, cases) == []


@settings(max_examples=200, derandomize=True, database=None)
@given(text=st.text(max_size=300))
def test_any_text_is_a_clean_filter_error_or_a_plain_comparison(text: str) -> None:
    filter_outcome(text)


_SQL_WORDS = [
    "stage", "team", "amount", "flag", "'won'", "'x''y'", "1", "-1", "2.5e3", "NULL", "TRUE",
    "=", "!=", "<>", "<", ">=", "IN", "NOT", "IS", "AND", "OR", "(", ")", ",", ";", "--",
    "/*", "*/", "SELECT", "FROM", "UNION", "::", "->", ".", "[", "]", "{", "}", ":", "$1",
    "?", "\"", "\"a\"\"b\"", "'", "\\", "$$", "E'", "x'", "LIKE", "BETWEEN", "CASE", "WHEN",
    "lower(", "read_csv(", "getenv(", "*", "COLUMNS(", "#1", "@", "|", "||", "\n", "\t",
]  # fmt: skip


@settings(max_examples=300, derandomize=True, database=None)
@given(words=st.lists(st.sampled_from(_SQL_WORDS), min_size=1, max_size=40))
def test_sql_shaped_noise_is_a_clean_filter_error_or_a_plain_comparison(words: list[str]) -> None:
    filter_outcome(" ".join(words))


_FORMULA_WORDS = [
    "revenue", "cost", "prev", "prev(", "(", ")", ",", "+", "-", "*", "/", "1", "0.5", ".5",
    "1e3", "__class__", "__import__", ".", "[", "]", "'os'", "\"", "lambda", ":", "if",
    "else", "for", "in", "=", "==", "**", "//", "%", "@", "{{", "}}", "|attr(", "#", ";",
    "\\", "\n", "\t", "\u200b", "\uff45val", "gi_frame", "f_back", "f_globals", "()",
]  # fmt: skip


@settings(max_examples=300, derandomize=True, database=None)
@given(words=st.lists(st.sampled_from(_FORMULA_WORDS), min_size=1, max_size=40))
def test_python_shaped_noise_is_a_clean_formula_error_or_mere_arithmetic(
    words: list[str],
) -> None:
    formula_outcome(" ".join(words))
    formula_outcome("".join(words))


@settings(
    max_examples=200,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    base=st.sampled_from(["revenue / prev(revenue, 12) - 1", "stage = 'won' AND amount > 10"]),
    escape=st.sampled_from([payload for _, payload in ESCAPES]),
    at=st.floats(0, 1),
)
def test_an_escape_spliced_into_a_valid_text_is_refused_or_harmless(
    base: str, escape: str, at: float
) -> None:
    cut = round(len(base) * at)
    text = base[:cut] + escape + base[cut:]
    formula_outcome(text)
    filter_outcome(text)


@settings(max_examples=100, derandomize=True, database=None)
@given(
    parts=st.lists(st.sampled_from(NESTERS), min_size=1, max_size=4),
    depth=st.integers(1, 1000),
)
def test_mixed_deep_nesting_is_refused_or_parsed_and_never_crashes(
    parts: list[tuple[str, str, str]], depth: int
) -> None:
    opening = "".join(part[0] for part in parts)
    closing = "".join(part[2] for part in reversed(parts))
    text = opening * depth + parts[-1][1] + closing * depth
    formula_outcome(text)
    filter_outcome(text)


def test_the_atheris_harness_runs_two_thousand_inputs_without_a_crash(tmp_path: Path) -> None:
    """bench/fuzz_formula.py, coverage-guided from the escapes above: CI runs it briefly,
    the benchmark for longer (bench/security_inputs.py)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for number, (_, payload) in enumerate(ESCAPES):
        for target in (b"\x00", b"\x01"):  # the first byte picks the parser
            (corpus / f"{number}-{target[0]}").write_bytes(target + payload.encode("utf-8"))
    stats = tmp_path / "stats.json"
    completed = subprocess.run(
        [sys.executable, str(HARNESS), "-runs=2000", "-seed=1", "-max_len=2100", str(corpus)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPOSITORY,
        env={**os.environ, "HEADWAY_FUZZ_STATS": str(stats)},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Done 2000 runs" in completed.stderr
    tried = json.loads(stats.read_text(encoding="utf-8"))
    assert tried["formula"]["inputs"] > 0
    assert tried["filter"]["inputs"] > 0
