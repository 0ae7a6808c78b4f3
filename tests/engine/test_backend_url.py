"""Warehouse URLs: what each names, the clear errors for the rest, passwords never shown;
the workspace's `warehouse:` key; Spark's missing pieces named with how to install them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from headway.engine.backends import BackendKind, WarehouseUrlError, mask, parse_url
from headway.engine.backends.spark import _check_requirements
from headway.engine.problems import HeadwayError
from headway.engine.workspace import load_workspace
from tests.conftest import run_headway

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("text", [None, "", "duckdb", "  duckdb  "])
def test_no_url_or_duckdb_is_the_embedded_duckdb(text: str | None):
    assert parse_url(text).kind is BackendKind.DUCKDB


def test_a_postgres_url_gives_host_schema_timeout_and_libpq_options():
    url = parse_url(
        "postgresql://kpi:p%40ss@db.example.com:6432/warehouse?schema=hw_prod"
        "&statement_timeout=120&sslmode=require"
    )
    assert url.kind is BackendKind.POSTGRES
    assert (url.host, url.port, url.schema, url.statement_timeout_s) == (
        "db.example.com", 6432, "hw_prod", 120,
    )  # fmt: skip
    assert "password=p@ss" in url.conninfo
    assert "sslmode=require" in url.conninfo
    assert "dbname=warehouse" in url.conninfo
    assert url.masked == (
        "postgresql://kpi:***@db.example.com:6432/warehouse?schema=hw_prod"
        "&statement_timeout=120&sslmode=require"
    )


def test_a_postgres_url_without_options_uses_headway_warehouse_and_port_5432():
    url = parse_url("postgres://postgres@127.0.0.1/test")
    assert (url.schema, url.port, url.statement_timeout_s) == ("headway_warehouse", 5432, 600)


@pytest.mark.parametrize(
    ("text", "master"),
    [("spark://local", "local[*]"), ("spark://local[2]", "local[2]"),
     ("spark://local[*]", "local[*]"), ("spark://spark-master.lan:7077", "spark://spark-master.lan:7077"),
     ("spark://spark-master.lan", "spark://spark-master.lan:7077")],
)  # fmt: skip
def test_spark_urls_name_local_mode_or_a_master(text: str, master: str):
    url = parse_url(text)
    assert url.kind is BackendKind.SPARK
    assert url.spark_master == master
    assert url.spark_remote == ""


def test_a_spark_connect_url_is_passed_on_with_its_token_hidden():
    url = parse_url("sc://spark.lan:15002/;token=s3cret?staging=/mnt/shared/headway")
    assert url.spark_remote == "sc://spark.lan:15002/;token=s3cret"
    assert url.staging == "/mnt/shared/headway"
    assert "s3cret" not in url.masked


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("mysql://root@127.0.0.1/db", "unknown kind of URL"),
        ("ftp://example.com", "unknown kind of URL"),
        ("postgresql:///test", "names its host"),
        ("postgresql://127.0.0.1:5432/", "names its database"),
        ("postgresql://h/db?schema=Bad-Name", "not a plain lower-case name"),
        ("postgresql://h/db?statement_timeout=0", "statement_timeout is in seconds"),
        ("postgresql://h/db?schema=a&schema=b", "given twice"),
        ("postgresql://h:99999/db", "port"),
        ("spark://local[0]", "local mode is"),
        ("spark://local[2]?threads=4", "unknown option 'threads'"),
    ],
)
def test_it_rejects_a_bad_url_with_a_sentence(text: str, words: str):
    with pytest.raises(WarehouseUrlError, match=words.replace("[", r"\[")):
        parse_url(text)


def test_it_never_shows_a_password_even_in_an_error():
    with pytest.raises(WarehouseUrlError) as raised:
        parse_url("postgresql://bob:hunter2@h/db?schema=NO")
    assert "hunter2" not in str(raised.value)
    assert mask("postgresql://bob:hunter2@h:1/db") == "postgresql://bob:***@h:1/db"
    assert mask("postgresql://bob@h/db") == "postgresql://bob@h/db"


def test_a_bad_warehouse_key_in_the_workspace_names_its_line(tmp_path: Path):
    text = (GOLDEN / "berlin_support" / "headway.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("version"))
    lines.insert(at + 1, "warehouse: oracle://scott:tiger@db/orcl")
    path = tmp_path / "headway.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "data").symlink_to(GOLDEN / "berlin_support" / "data")
    with pytest.raises(HeadwayError) as raised:
        load_workspace(path)
    problem = raised.value.problems[0]
    assert problem.line == at + 2
    assert "unknown kind of URL" in problem.message
    assert "tiger" not in problem.message


def test_the_workspace_warehouse_key_is_used_and_the_option_overrides_it(tmp_path: Path):
    text = (GOLDEN / "berlin_support" / "headway.yaml").read_text(encoding="utf-8")
    path = tmp_path / "headway.yaml"
    path.write_text(text + "warehouse: postgresql://postgres@127.0.0.1:1/test\n", "utf-8")
    (tmp_path / "data").symlink_to(GOLDEN / "berlin_support" / "data")
    args = ("compute", path, "--kpi", "monthly_tickets", "--format", "csv")
    refused = run_headway(*args)
    assert refused.exit_code == 2
    assert "127.0.0.1:1" in refused.stderr
    assert run_headway(*args, "--warehouse", "duckdb").exit_code == 0


def test_the_command_rejects_an_unknown_scheme(tmp_path: Path):
    run = run_headway(
        "compute", GOLDEN / "berlin_support" / "headway.yaml", "--warehouse", "bigquery://x"
    )
    assert run.exit_code == 2
    assert "--warehouse" in run.stderr
    assert "unknown kind of URL" in run.stderr


def test_spark_without_java_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(HeadwayError, match="default-jre-headless"):
        _check_requirements(parse_url("spark://local[2]"))


def test_spark_without_pyspark_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(HeadwayError, match=r"headway\[spark\]"):
        _check_requirements(parse_url("spark://local[2]"))


def test_spark_connect_without_its_client_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setitem(sys.modules, "grpc", None)
    with pytest.raises(HeadwayError, match=r"pyspark\[connect\]"):
        _check_requirements(parse_url("sc://127.0.0.1:1"))


def test_an_unreachable_spark_master_is_named(monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(HeadwayError, match=r"cannot reach the Spark master at 127\.0\.0\.1:1"):
        _check_requirements(parse_url("spark://127.0.0.1:1"))
