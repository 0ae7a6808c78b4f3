"""Bad input: each is a clear message naming what is wrong, exit status 2, no traceback."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.conftest import Run, run_headway, run_headway_process

WORKSPACE = """\
version: 1
organization:
  name: Test
  timezone: Asia/Taipei
datasets:
  leads:
    file: leads.csv
    key: lead_id
    time: created_at
    dimensions: [team]
  deals:
    file: deals.csv
    key: deal_id
    time: closed_at
    dimensions: [team]
measures:
  leads: {dataset: leads, agg: count}
  won: {dataset: deals, agg: count, filter: "stage = 'won'"}
  revenue: {dataset: deals, agg: sum, column: amount}
kpis:
  - key: conversion
    name: Conversion
    formula: won / leads
    unit: percent
    grain: month
"""

LEADS = """\
lead_id,created_at,team
1,2026-01-05 10:00:00,north
2,2026-01-06 11:00:00,south
3,2026-02-01 09:00:00,north
"""

DEALS = """\
deal_id,closed_at,team,stage,amount
a,2026-01-10,north,won,100
b,2026-02-11,south,lost,50
"""


def make_workspace(
    folder: Path, workspace: str = WORKSPACE, leads: str = LEADS, deals: str = DEALS
) -> Path:
    (folder / "leads.csv").write_text(leads, encoding="utf-8")
    (folder / "deals.csv").write_text(deals, encoding="utf-8")
    path = folder / "headway.yaml"
    path.write_text(workspace, encoding="utf-8")
    return path


def assert_refused(run: Run, *words: str) -> None:
    assert run.exit_code == 2, run
    assert "Traceback" not in run.stderr
    for word in words:
        assert word in run.stderr, (word, run.stderr)


def test_the_sample_workspace_computes(tmp_path: Path) -> None:
    run = run_headway("compute", make_workspace(tmp_path), "--format", "csv")
    assert run.exit_code == 0, run
    assert run.csv_rows()[0]["value"] == "0.5"


def test_it_rejects_an_unknown_measure_in_a_formula(tmp_path: Path) -> None:
    path = make_workspace(tmp_path, WORKSPACE.replace("won / leads", "won / lead"))
    assert_refused(run_headway("compute", path), "unknown measure 'lead'", "headway.yaml:23")


def test_it_rejects_an_unknown_column_in_a_filter(tmp_path: Path) -> None:
    path = make_workspace(tmp_path, WORKSPACE.replace("stage = 'won'", "stag = 'won'"))
    assert_refused(run_headway("compute", path), "deals.csv", "no column 'stag'", "stage")


def test_it_rejects_a_function_call_in_a_filter(tmp_path: Path) -> None:
    path = make_workspace(tmp_path, WORKSPACE.replace("stage = 'won'", "lower(stage) = 'won'"))
    assert_refused(run_headway("validate", path), "function call", "measures.won.filter")


def test_it_rejects_a_subquery_in_a_filter(tmp_path: Path) -> None:
    path = make_workspace(
        tmp_path, WORKSPACE.replace("stage = 'won'", "stage in (select stage from deals)")
    )
    assert_refused(run_headway("validate", path), "IN may only list literal values")


def test_it_rejects_a_second_statement_in_a_filter(tmp_path: Path) -> None:
    path = make_workspace(
        tmp_path, WORKSPACE.replace("stage = 'won'", "stage = 'won'; drop table deals")
    )
    assert_refused(run_headway("validate", path), "measures.won.filter")


def test_it_rejects_a_function_call_in_a_formula(tmp_path: Path) -> None:
    path = make_workspace(tmp_path, WORKSPACE.replace("won / leads", "abs(won) / leads"))
    assert_refused(run_headway("compute", path), "function calls are not allowed", "abs")


def test_it_rejects_import_in_a_formula(tmp_path: Path) -> None:
    path = make_workspace(tmp_path, WORKSPACE.replace("won / leads", "__import__('os')"))
    assert_refused(run_headway("compute", path), "__import__", "kpis[0].formula")


def test_it_rejects_attribute_access_in_a_formula(tmp_path: Path) -> None:
    path = make_workspace(tmp_path, WORKSPACE.replace("won / leads", "won.__class__"))
    assert_refused(run_headway("compute", path), "attribute access")


def test_it_rejects_a_duplicate_key_naming_both_lines(tmp_path: Path) -> None:
    leads = LEADS + "2,2026-02-03 09:00:00,south\n"
    path = make_workspace(tmp_path, leads=leads)
    assert_refused(
        run_headway("compute", path), "leads.csv", "duplicate key lead_id = '2'", "lines 3 and 5"
    )


def test_a_duplicate_key_after_a_multiline_field_names_the_real_lines(tmp_path: Path) -> None:
    deals = DEALS + 'c,2026-02-12,"so\nuth",won,10\na,2026-02-13,north,won,5\n'
    path = make_workspace(tmp_path, deals=deals)
    assert_refused(run_headway("compute", path), "duplicate key deal_id = 'a'", "lines 2 and 6")


def test_it_rejects_text_in_a_numeric_column(tmp_path: Path) -> None:
    deals = DEALS + "c,2026-02-12,north,won,lots\n"
    path = make_workspace(tmp_path, deals=deals)
    assert_refused(
        run_headway("compute", path), "deals.csv:4", "column 'amount'", "'lots'", "not a number"
    )


def test_it_rejects_an_unparsable_time(tmp_path: Path) -> None:
    leads = LEADS + "4,31/01/2026,north\n"
    path = make_workspace(tmp_path, leads=leads)
    assert_refused(
        run_headway("compute", path), "leads.csv:5", "created_at", "'31/01/2026'", "date"
    )


def test_it_rejects_a_missing_data_file(tmp_path: Path) -> None:
    path = make_workspace(tmp_path)
    (tmp_path / "deals.csv").unlink()
    assert_refused(run_headway("compute", path), "deals.csv", "not found", "headway.yaml:12")


def test_it_rejects_a_missing_workspace_file(tmp_path: Path) -> None:
    assert_refused(run_headway("compute", tmp_path / "nope.yaml"), "nope.yaml", "not found")


def test_it_rejects_malformed_yaml_naming_the_line(tmp_path: Path) -> None:
    broken = WORKSPACE.replace("  name: Test\n", "  name: [Test\n")
    assert_refused(run_headway("compute", make_workspace(tmp_path, broken)), "malformed YAML")


def test_it_rejects_an_unknown_key_naming_it_and_its_line(tmp_path: Path) -> None:
    path = make_workspace(tmp_path, WORKSPACE.replace("    unit: percent", "    units: percent"))
    assert_refused(run_headway("validate", path), "unknown key 'units'", "headway.yaml:24")


def test_it_rejects_a_bad_enum_value_naming_the_value(tmp_path: Path) -> None:
    path = make_workspace(tmp_path, WORKSPACE.replace("grain: month", "grain: fortnight"))
    assert_refused(run_headway("validate", path), "'fortnight'", "kpis[0].grain")


def test_it_reports_every_problem_at_once(tmp_path: Path) -> None:
    broken = WORKSPACE.replace("won / leads", "won / lead").replace(
        "dataset: leads, agg: count}", "dataset: leeds, agg: count}"
    )
    run = run_headway("validate", make_workspace(tmp_path, broken))
    assert_refused(run, "unknown dataset 'leeds'", "did you mean 'leads'", "unknown measure")


def test_it_rejects_an_unknown_kpi(tmp_path: Path) -> None:
    path = make_workspace(tmp_path)
    assert_refused(run_headway("compute", path, "--kpi", "churn"), "unknown KPI 'churn'")


@pytest.mark.parametrize("label", ["2026-13", "2026-W54", "2026/01", "Q1", "2026-Q5", ""])
def test_it_rejects_a_bad_period_label(tmp_path: Path, label: str) -> None:
    path = make_workspace(tmp_path)
    assert_refused(run_headway("compute", path, "--from", label), "--from", "period label")


def test_it_rejects_a_range_that_ends_before_it_starts(tmp_path: Path) -> None:
    path = make_workspace(tmp_path)
    run = run_headway("compute", path, "--from", "2026-03", "--to", "2026-01")
    assert_refused(run, "--from 2026-03 is after --to 2026-01")


def test_it_rejects_a_breakdown_by_a_dimension_the_dataset_lacks(tmp_path: Path) -> None:
    path = make_workspace(tmp_path)
    assert_refused(run_headway("compute", path, "--by", "source"), "cannot be broken down")


def test_it_rejects_a_bad_target_period(tmp_path: Path) -> None:
    workspace = WORKSPACE + "    targets:\n      - {from: 2026-13, value: 0.1}\n"
    path = make_workspace(tmp_path, workspace)
    assert_refused(run_headway("validate", path), "'2026-13'", "kpis[0].targets[0].from")


def test_it_rejects_a_csv_row_with_too_many_fields(tmp_path: Path) -> None:
    path = make_workspace(tmp_path, leads=LEADS + "4,2026-01-07,north,extra\n")
    assert_refused(run_headway("compute", path), "leads.csv:5", "4 fields", "header has 3")


def test_it_rejects_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = make_workspace(tmp_path)
    (tmp_path / "leads.csv").write_bytes(LEADS.encode() + "5,2026-01-09,北區\n".encode("big5"))
    assert_refused(run_headway("compute", path), "leads.csv:5", "not UTF-8")


def test_it_rejects_a_filter_comparing_a_number_column_with_text(tmp_path: Path) -> None:
    workspace = WORKSPACE.replace(
        "revenue: {dataset: deals, agg: sum, column: amount}",
        "revenue: {dataset: deals, agg: sum, column: amount, filter: \"amount > 'big'\"}",
    )
    path = make_workspace(tmp_path, workspace)
    assert_refused(run_headway("validate", path), "'amount'", "'big'")


def test_it_rejects_a_workspace_that_is_not_a_mapping(tmp_path: Path) -> None:
    assert_refused(run_headway("validate", make_workspace(tmp_path, "- a\n- b\n")), "mapping")


def test_it_rejects_an_unknown_time_zone(tmp_path: Path) -> None:
    path = make_workspace(tmp_path, WORKSPACE.replace("Asia/Taipei", "Asia/Taipie"))
    assert_refused(run_headway("validate", path), "'Asia/Taipie'", "IANA")


def test_a_real_process_exits_2_without_a_traceback(tmp_path: Path) -> None:
    path = make_workspace(tmp_path, WORKSPACE.replace("won / leads", "().__class__.__bases__"))
    run = run_headway_process("compute", path)
    assert_refused(run, "attribute access")


def test_validate_says_what_the_workspace_defines(tmp_path: Path) -> None:
    run = run_headway("validate", make_workspace(tmp_path))
    assert run.exit_code == 0
    assert "valid" in run.stdout
    assert "1 KPIs" in textwrap.dedent(run.stdout)


def test_the_table_is_plain_text_when_piped(tmp_path: Path) -> None:
    run = run_headway("compute", make_workspace(tmp_path), "--by", "team")
    assert run.exit_code == 0, run
    assert "\x1b[" not in run.stdout
    assert "Conversion [conversion]" in run.stdout
    assert "○ none" in run.stdout
    assert "north" in run.stdout
    assert "south" in run.stdout


def test_it_rejects_a_filter_comparing_two_columns(tmp_path: Path) -> None:
    path = make_workspace(tmp_path, WORKSPACE.replace("stage = 'won'", "stage = team"))
    assert_refused(run_headway("validate", path), "compares two columns")


def test_extreme_periods_are_bad_input_not_a_bug(tmp_path: Path) -> None:
    workspace = WORKSPACE.replace("won / leads", "won / prev(leads)")
    path = make_workspace(tmp_path, workspace)
    run = run_headway("compute", path, "--from", "0001-01", "--to", "0001-02")
    assert_refused(run, "outside the calendar")


def test_a_broken_file_of_another_kpi_does_not_stop_this_one(tmp_path: Path) -> None:
    leads_only = WORKSPACE.replace("won / leads", "leads")
    path = make_workspace(tmp_path, leads_only, deals=DEALS + "c,2026-02-12,north,won,lots\n")
    run = run_headway("compute", path, "--kpi", "conversion", "--format", "csv")
    assert run.exit_code == 0, run
    assert_refused(run_headway("validate", path), "'lots' is not a number")


def test_an_attainment_exactly_on_the_amber_threshold_is_amber(tmp_path: Path) -> None:
    leads = "lead_id,created_at,team\n" + "".join(
        f"{n},2026-01-05 10:00:00,north\n" for n in range(100)
    )
    deals = "deal_id,closed_at,team,stage,amount\n" + "".join(
        f"d{n},2026-01-10,north,won,1\n" for n in range(9)
    )
    workspace = WORKSPACE + "    targets:\n      - {from: 2026-01, value: 0.1}\n"
    path = make_workspace(tmp_path, workspace, leads=leads, deals=deals)
    run = run_headway("compute", path, "--format", "csv")
    assert run.exit_code == 0, run
    # 9 / 100 / 0.1 is 0.8999999999999999 in binary floating point.
    assert run.csv_rows()[0] == {
        "kpi": "conversion",
        "period": "2026-01",
        "value": "0.09",
        "target": "0.1",
        "attainment": "0.9",
        "status": "amber",
    }


def test_a_kpi_key_may_have_hyphens_like_other_keys(tmp_path: Path) -> None:
    path = make_workspace(tmp_path, WORKSPACE.replace("key: conversion", "key: conversion-rate"))
    run = run_headway("compute", path, "--kpi", "conversion-rate", "--format", "csv")
    assert run.exit_code == 0, run


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_a_target_that_is_not_a_finite_number_is_refused(tmp_path: Path, value: str) -> None:
    workspace = WORKSPACE + f"    targets:\n      - {{from: 2026-01, value: {value}}}\n"
    assert_refused(run_headway("validate", make_workspace(tmp_path, workspace)), "targets[0]")


def test_a_time_zone_that_is_not_an_iana_name_is_refused(tmp_path: Path) -> None:
    path = make_workspace(tmp_path, WORKSPACE.replace("Asia/Taipei", "localtime"))
    assert_refused(run_headway("compute", path), "'localtime'", "IANA")


@pytest.mark.parametrize("dimension", ["status", "value", "kpi"])
def test_a_breakdown_named_like_an_output_column_is_refused(tmp_path: Path, dimension: str) -> None:
    path = make_workspace(tmp_path)
    assert_refused(run_headway("compute", path, "--by", dimension), "column of the output")


def test_yaml_that_expands_into_millions_of_values_is_refused(tmp_path: Path) -> None:
    text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    for level in range(1, 9):
        text += f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]\n"
    path = tmp_path / "bomb.yaml"
    path.write_text(text, encoding="utf-8")
    assert_refused(run_headway("validate", path), "too many aliases")


def test_yaml_nested_thousands_deep_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * 3000 + "]" * 3000 + "\n", encoding="utf-8")
    assert_refused(run_headway("validate", path), "nested too deeply")


def test_a_header_naming_a_column_twice_in_another_case_is_refused(tmp_path: Path) -> None:
    leads = "lead_id,created_at,team,TEAM\n1,2026-01-05 10:00:00,north,x\n"
    path = make_workspace(tmp_path, leads=leads)
    assert_refused(run_headway("compute", path), "leads.csv:1", "'TEAM' twice")
