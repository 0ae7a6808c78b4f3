"""Period arithmetic: ISO weeks, months, fiscal quarters and years, and local bounds.

Expected values come from facts that do not depend on the code under test: the
``date.isocalendar()`` of the standard library, calendars, and published DST dates.
"""

from __future__ import annotations

import operator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from headway.lib.periods import (
    Grain,
    Period,
    PeriodLabelError,
    local_bounds,
    parse_period_label,
    period_containing,
    periods_between,
    to_local,
    validate_fiscal_year_start,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TAIPEI = ZoneInfo("Asia/Taipei")

days = st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31))
grains = st.sampled_from(list(Grain))
fiscal_starts = st.integers(min_value=1, max_value=12)


def add_months(day: date, months: int) -> date:
    """First of the month ``months`` after ``day``'s month, by counting (test oracle)."""
    year, month = day.year, day.month
    step = 1 if months >= 0 else -1
    for _ in range(abs(months)):
        month += step
        if month == 13:
            year, month = year + 1, 1
        elif month == 0:
            year, month = year - 1, 12
    return date(year, month, 1)


def instant(text: str) -> datetime:
    """An aware datetime from an ISO 8601 string with an explicit offset."""
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() is not None
    return moment


def hours_between(start: datetime, end: datetime) -> float:
    # Subtracting two datetimes that share a tzinfo subtracts wall times, which is
    # exactly what DST makes wrong; go through UTC.
    return (end.astimezone(UTC) - start.astimezone(UTC)) / timedelta(hours=1)


# ISO weeks


def test_iso_week_53_belongs_to_the_year_it_started_in() -> None:
    week = period_containing(Grain.WEEK, date(2027, 1, 1))

    assert week.label == "2026-W53"
    assert week.start == date(2026, 12, 28)
    assert week.last_day == date(2027, 1, 3)
    assert week.end == date(2027, 1, 4)
    for offset in range(7):
        day = date(2026, 12, 28) + timedelta(days=offset)
        assert day.isocalendar()[:2] == (2026, 53)
        assert period_containing(Grain.WEEK, day) == week


def test_2020_has_a_week_53_running_into_2021() -> None:
    week = parse_period_label("2020-W53")

    assert week.start == date(2020, 12, 28)
    assert week.last_day == date(2021, 1, 3)
    assert date(2021, 1, 3).isocalendar()[:2] == (2020, 53)
    assert week.shift(1).label == "2021-W01"
    assert week.shift(1).start == date(2021, 1, 4)


def test_week_1_can_start_in_the_previous_december() -> None:
    assert date(2024, 12, 30).isocalendar()[:2] == (2025, 1)
    assert period_containing(Grain.WEEK, date(2024, 12, 30)).label == "2025-W01"
    assert parse_period_label("2026-W01").start == date(2025, 12, 29)
    assert period_containing(Grain.WEEK, date(2026, 1, 1)).label == "2026-W01"


def test_the_last_days_of_december_can_be_in_week_1_of_the_next_year() -> None:
    week = period_containing(Grain.WEEK, date(2024, 12, 31))

    assert week.label == "2025-W01"
    assert week.shift(-1).label == "2024-W52"


def test_week_53_is_refused_in_a_year_that_has_52_weeks() -> None:
    assert date(2025, 12, 28).isocalendar()[:2] == (2025, 52)

    with pytest.raises(PeriodLabelError, match=r"'2025-W53' is not a period label"):
        parse_period_label("2025-W53")


@given(day=days)
def test_a_week_starts_on_monday_and_is_named_by_its_iso_year_and_week(day: date) -> None:
    week = period_containing(Grain.WEEK, day)
    iso = day.isocalendar()

    assert week.start.isoweekday() == 1
    assert week.end - week.start == timedelta(days=7)
    assert week.label == f"{iso.year}-W{iso.week:02d}"


# Months and years


def test_february_has_29_days_in_a_leap_year() -> None:
    february = period_containing(Grain.MONTH, date(2024, 2, 29))

    assert february.label == "2024-02"
    assert february.start == date(2024, 2, 1)
    assert february.last_day == date(2024, 2, 29)
    assert february.end == date(2024, 3, 1)


@pytest.mark.parametrize(
    ("label", "last_day"),
    [
        ("2023-02", date(2023, 2, 28)),
        ("2000-02", date(2000, 2, 29)),  # divisible by 400: leap
        ("2100-02", date(2100, 2, 28)),  # divisible by 100 only: not leap
    ],
)
def test_february_ends_on_the_right_day_in_every_kind_of_year(label: str, last_day: date) -> None:
    assert parse_period_label(label).last_day == last_day


def test_a_leap_year_has_366_days() -> None:
    year = parse_period_label("2024")

    assert (year.end - year.start).days == 366
    assert (parse_period_label("2026").end - parse_period_label("2026").start).days == 365


def test_the_last_day_of_the_year_and_the_first_of_the_next_are_in_different_years() -> None:
    for grain, before, after in [
        (Grain.MONTH, "2026-12", "2027-01"),
        (Grain.QUARTER, "2026-Q4", "2027-Q1"),
        (Grain.YEAR, "2026", "2027"),
    ]:
        assert period_containing(grain, date(2026, 12, 31)).label == before
        assert period_containing(grain, date(2027, 1, 1)).label == after
        assert period_containing(grain, date(2026, 12, 31)).end == date(2027, 1, 1)


def test_calendar_quarters_start_in_january_april_july_and_october() -> None:
    starts = [parse_period_label(f"2026-Q{q}").start for q in range(1, 5)]

    assert starts == [date(2026, 1, 1), date(2026, 4, 1), date(2026, 7, 1), date(2026, 10, 1)]
    assert parse_period_label("2026-Q4").last_day == date(2026, 12, 31)


# Fiscal years


def test_a_fiscal_year_starting_in_april_is_named_by_the_year_it_starts_in() -> None:
    year = parse_period_label("2026", fiscal_year_start=4)

    assert year.start == date(2026, 4, 1)
    assert year.last_day == date(2027, 3, 31)
    assert year.label == "2026"


def test_fiscal_quarters_starting_in_april() -> None:
    q1 = parse_period_label("2026-Q1", fiscal_year_start=4)
    q4 = parse_period_label("2026-Q4", fiscal_year_start=4)

    assert (q1.start, q1.last_day) == (date(2026, 4, 1), date(2026, 6, 30))
    assert (q4.start, q4.last_day) == (date(2027, 1, 1), date(2027, 3, 31))
    starts = [parse_period_label(f"2026-Q{q}", 4).start for q in range(1, 5)]
    assert starts == [date(2026, 4, 1), date(2026, 7, 1), date(2026, 10, 1), date(2027, 1, 1)]


def test_february_2027_is_in_the_last_quarter_of_fiscal_2026_when_the_year_starts_in_april() -> (
    None
):
    day = date(2027, 2, 10)

    assert period_containing(Grain.QUARTER, day, fiscal_year_start=4).label == "2026-Q4"
    assert period_containing(Grain.YEAR, day, fiscal_year_start=4).label == "2026"
    assert period_containing(Grain.QUARTER, day).label == "2027-Q1"
    assert period_containing(Grain.YEAR, day).label == "2027"


def test_the_day_before_a_fiscal_year_starts_belongs_to_the_previous_one() -> None:
    assert period_containing(Grain.YEAR, date(2026, 3, 31), 4).label == "2025"
    assert period_containing(Grain.QUARTER, date(2026, 3, 31), 4).label == "2025-Q4"
    assert period_containing(Grain.YEAR, date(2026, 4, 1), 4).label == "2026"
    assert period_containing(Grain.QUARTER, date(2026, 4, 1), 4).label == "2026-Q1"


def test_shifting_across_the_end_of_a_fiscal_year() -> None:
    q4 = parse_period_label("2026-Q4", fiscal_year_start=4)

    assert q4.shift(1).label == "2027-Q1"
    assert q4.shift(1).start == date(2027, 4, 1)
    assert q4.shift(1).fiscal_year_start == 4
    assert parse_period_label("2027-Q1", 4).shift(-1) == q4
    year = parse_period_label("2026", fiscal_year_start=4)
    assert year.shift(1).start == date(2027, 4, 1)
    assert year.shift(1).label == "2027"


def test_a_fiscal_year_starting_in_july() -> None:
    year = parse_period_label("2026", fiscal_year_start=7)

    assert (year.start, year.last_day) == (date(2026, 7, 1), date(2027, 6, 30))
    assert parse_period_label("2026-Q3", 7).start == date(2027, 1, 1)
    assert period_containing(Grain.QUARTER, date(2027, 6, 30), 7).label == "2026-Q4"
    assert period_containing(Grain.QUARTER, date(2027, 7, 1), 7).label == "2027-Q1"
    assert period_containing(Grain.YEAR, date(2026, 6, 30), 7).label == "2025"


def test_a_fiscal_year_starting_in_october() -> None:
    year = parse_period_label("2026", fiscal_year_start=10)

    assert (year.start, year.last_day) == (date(2026, 10, 1), date(2027, 9, 30))
    q1 = parse_period_label("2026-Q1", 10)
    assert (q1.start, q1.last_day) == (date(2026, 10, 1), date(2026, 12, 31))
    assert period_containing(Grain.QUARTER, date(2027, 9, 30), 10).label == "2026-Q4"
    assert period_containing(Grain.QUARTER, date(2027, 1, 15), 10).label == "2026-Q2"


@pytest.mark.parametrize("fiscal_year_start", [4, 7, 10])
def test_weeks_and_months_ignore_the_fiscal_year(fiscal_year_start: int) -> None:
    day = date(2027, 2, 10)
    for grain in (Grain.WEEK, Grain.MONTH):
        fiscal = period_containing(grain, day, fiscal_year_start)
        calendar = period_containing(grain, day)
        assert (fiscal.start, fiscal.end, fiscal.label) == (
            calendar.start,
            calendar.end,
            calendar.label,
        )
        assert fiscal.fiscal_year_start == fiscal_year_start


def test_week_and_month_labels_carry_the_fiscal_year_start_they_were_parsed_with() -> None:
    assert parse_period_label("2026-W05", 4) == Period(Grain.WEEK, date(2026, 1, 26), 4)
    assert parse_period_label("2026-02", 4) == Period(Grain.MONTH, date(2026, 2, 1), 4)


@given(day=days, fiscal_year_start=fiscal_starts)
def test_a_fiscal_year_runs_from_its_start_month_to_the_same_month_next_year(
    day: date, fiscal_year_start: int
) -> None:
    year = period_containing(Grain.YEAR, day, fiscal_year_start)
    named = int(year.label)

    assert date(named, fiscal_year_start, 1) <= day < date(named + 1, fiscal_year_start, 1)
    assert year.start == date(named, fiscal_year_start, 1)


@given(day=days, fiscal_year_start=fiscal_starts)
def test_fiscal_quarters_count_three_months_at_a_time_from_the_fiscal_year_start(
    day: date, fiscal_year_start: int
) -> None:
    quarter = period_containing(Grain.QUARTER, day, fiscal_year_start)
    year_label, quarter_label = quarter.label.split("-Q")
    fiscal_year_start_day = date(int(year_label), fiscal_year_start, 1)
    start = add_months(fiscal_year_start_day, 3 * (int(quarter_label) - 1))

    assert quarter.start == start
    assert quarter.end == add_months(start, 3)
    assert start <= day < add_months(start, 3)


# Shifting


@pytest.mark.parametrize(
    ("label", "n", "expected"),
    [
        ("2026-01", -1, "2025-12"),
        ("2026-01", -13, "2024-12"),
        ("2026-03", -26, "2024-01"),
        ("2026-W01", -1, "2025-W52"),
        ("2021-W01", -1, "2020-W53"),
        ("2026-W02", -53, "2025-W01"),
        ("2026-Q1", -1, "2025-Q4"),
        ("2026-Q1", -5, "2024-Q4"),
        ("2026", -3, "2023"),
        ("2026-06", 0, "2026-06"),
        ("2026-11", 3, "2027-02"),
    ],
)
def test_shift_moves_by_whole_periods_across_years(label: str, n: int, expected: str) -> None:
    assert parse_period_label(label).shift(n).label == expected


def test_shifting_before_the_year_1_raises_overflow_error() -> None:
    with pytest.raises(OverflowError):
        parse_period_label("0001").shift(-1)


@given(day=days, grain=grains, fiscal_year_start=fiscal_starts, n=st.integers(-500, 500))
def test_shifting_there_and_back_returns_the_same_period(
    day: date, grain: Grain, fiscal_year_start: int, n: int
) -> None:
    period = period_containing(grain, day, fiscal_year_start)

    assert period.shift(n).shift(-n) == period
    assert period.shift(n) == period.shift(n - 1).shift(1)


# periods_between


def test_periods_between_lists_the_weeks_starting_in_a_month() -> None:
    weeks = periods_between(Grain.WEEK, date(2026, 1, 1), date(2026, 1, 31))

    # 2026-01-01 is a Thursday: its week (2026-W01) started in December and is left out.
    assert [w.label for w in weeks] == ["2026-W02", "2026-W03", "2026-W04", "2026-W05"]
    assert [w.start for w in weeks] == [date(2026, 1, d) for d in (5, 12, 19, 26)]


def test_periods_between_leaves_out_the_month_already_under_way() -> None:
    months = periods_between(Grain.MONTH, date(2026, 1, 15), date(2026, 4, 1))

    assert [m.label for m in months] == ["2026-02", "2026-03", "2026-04"]


def test_periods_between_includes_a_period_starting_on_either_end_of_the_range() -> None:
    months = periods_between(Grain.MONTH, date(2026, 1, 1), date(2026, 3, 1))

    assert [m.label for m in months] == ["2026-01", "2026-02", "2026-03"]


def test_periods_between_lists_fiscal_quarters() -> None:
    quarters = periods_between(Grain.QUARTER, date(2026, 1, 1), date(2026, 12, 31), 4)

    assert [q.label for q in quarters] == ["2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]
    assert all(q.fiscal_year_start == 4 for q in quarters)


def test_periods_between_lists_years() -> None:
    years = periods_between(Grain.YEAR, date(2020, 6, 1), date(2026, 1, 1))

    assert [y.label for y in years] == ["2021", "2022", "2023", "2024", "2025", "2026"]


@pytest.mark.parametrize(
    ("grain", "first_day", "last_day"),
    [
        (Grain.WEEK, date(2026, 1, 2), date(2026, 1, 4)),  # Friday to Sunday
        (Grain.MONTH, date(2026, 1, 2), date(2026, 1, 31)),
        (Grain.QUARTER, date(2026, 2, 1), date(2026, 3, 31)),
        (Grain.YEAR, date(2026, 1, 2), date(2026, 12, 31)),
        (Grain.MONTH, date(2026, 5, 1), date(2026, 4, 1)),  # last day before first day
    ],
)
def test_periods_between_is_empty_when_no_period_starts_in_the_range(
    grain: Grain, first_day: date, last_day: date
) -> None:
    assert periods_between(grain, first_day, last_day) == []


@given(grain=grains, fiscal_year_start=fiscal_starts, first_day=days, length=st.integers(0, 800))
def test_periods_between_lists_exactly_the_periods_starting_in_the_range(
    grain: Grain, fiscal_year_start: int, first_day: date, length: int
) -> None:
    last_day = first_day + timedelta(days=length)
    periods = periods_between(grain, first_day, last_day, fiscal_year_start)

    expected_starts = [
        day
        for day in (first_day + timedelta(days=i) for i in range(length + 1))
        if period_containing(grain, day, fiscal_year_start).start == day
    ]
    assert [p.start for p in periods] == expected_starts
    assert all(p.grain is grain and p.fiscal_year_start == fiscal_year_start for p in periods)


def test_periods_between_works_at_the_edges_of_the_calendar() -> None:
    # The fiscal quarter containing 0001-01-01 starts before the first representable day.
    quarters = periods_between(Grain.QUARTER, date(1, 1, 1), date(1, 12, 31), 4)
    assert [q.start for q in quarters] == [date(1, m, 1) for m in (1, 4, 7, 10)]
    assert periods_between(Grain.MONTH, date(9999, 12, 1), date.max) == [
        Period(Grain.MONTH, date(9999, 12, 1))
    ]
    # 9999-12-27 is the last Monday; no week starts after it.
    assert date(9999, 12, 27).isoweekday() == 1
    assert periods_between(Grain.WEEK, date(9999, 12, 28), date.max) == []


def test_the_end_of_the_last_month_cannot_be_represented() -> None:
    with pytest.raises(OverflowError):
        _ = parse_period_label("9999-12").end


# Labels


@pytest.mark.parametrize(
    ("label", "grain", "start"),
    [
        ("2026-W05", Grain.WEEK, date(2026, 1, 26)),
        ("2026-01", Grain.MONTH, date(2026, 1, 1)),
        ("2026-Q1", Grain.QUARTER, date(2026, 1, 1)),
        ("2026", Grain.YEAR, date(2026, 1, 1)),
        ("0001", Grain.YEAR, date(1, 1, 1)),
        ("9999-12", Grain.MONTH, date(9999, 12, 1)),
        ("  2026-Q3\n", Grain.QUARTER, date(2026, 7, 1)),
    ],
)
def test_parse_period_label_reads_the_four_shapes(label: str, grain: Grain, start: date) -> None:
    assert parse_period_label(label) == Period(grain, start)


@pytest.mark.parametrize(
    "label",
    [
        "2026-13",
        "2026-00",
        "2026-W54",
        "2026-W00",
        "2025-W53",
        "2026-Q5",
        "2026-Q0",
        "26-01",
        "2026/01",
        "",
        "   ",
        "2026-1",
        "2026-W5",
        "2026-q1",
        "2026-w05",
        "0000",
        "0000-01",
        "12026",
        "2026-01-01",
        "٢٠٢٦",  # Arabic-Indic digits, which int() would accept
        "2026 -01",
    ],
)
def test_parse_period_label_refuses_anything_else_naming_the_label(label: str) -> None:
    with pytest.raises(PeriodLabelError) as caught:
        parse_period_label(label)

    assert str(caught.value).startswith(f"{label!r} is not a period label: ")


def test_the_error_for_a_bad_label_says_what_labels_look_like() -> None:
    with pytest.raises(PeriodLabelError) as caught:
        parse_period_label("2026-13")

    assert str(caught.value) == (
        "'2026-13' is not a period label: use 2026-W05, 2026-01, 2026-Q1 or 2026"
    )
    assert isinstance(caught.value, ValueError)


@given(day=days, grain=grains, fiscal_year_start=fiscal_starts)
def test_a_label_parses_back_to_its_period(day: date, grain: Grain, fiscal_year_start: int) -> None:
    period = period_containing(grain, day, fiscal_year_start)

    assert parse_period_label(period.label, fiscal_year_start) == period
    assert parse_period_label(period.label, fiscal_year_start).label == period.label


@given(day=days)
def test_a_month_label_is_the_year_and_month(day: date) -> None:
    assert period_containing(Grain.MONTH, day).label == day.strftime("%Y-%m")


# Containment and ordering


@given(day=days, grain=grains, fiscal_year_start=fiscal_starts)
def test_the_period_containing_a_day_contains_it_and_ends_where_the_next_starts(
    day: date, grain: Grain, fiscal_year_start: int
) -> None:
    period = period_containing(grain, day, fiscal_year_start)

    assert period.start <= day < period.end
    assert period.start <= day <= period.last_day
    assert period.last_day + timedelta(days=1) == period.end
    assert period.shift(1).start == period.end
    assert period.shift(-1).end == period.start
    assert period_containing(grain, period.last_day, fiscal_year_start) == period
    assert period_containing(grain, period.end, fiscal_year_start) == period.shift(1)


def test_periods_of_the_same_grain_order_by_start() -> None:
    labels = ["2026-03", "2025-12", "2026-01"]
    periods = sorted(parse_period_label(label) for label in labels)

    assert [p.label for p in periods] == ["2025-12", "2026-01", "2026-03"]
    january, march = parse_period_label("2026-01"), parse_period_label("2026-03")
    assert january < march
    assert january <= march
    assert march > january
    assert march >= january
    assert january <= parse_period_label("2026-01")
    assert not january < parse_period_label("2026-01")


def test_periods_of_different_grains_cannot_be_ordered() -> None:
    month = parse_period_label("2026-01")
    year = parse_period_label("2026")

    for compare in (operator.lt, operator.le, operator.gt, operator.ge):
        with pytest.raises(TypeError, match="cannot order a month against a year"):
            compare(month, year)
    assert month != year


def test_periods_cannot_be_ordered_against_other_things() -> None:
    with pytest.raises(TypeError):
        assert parse_period_label("2026-01") < date(2026, 1, 1)


def test_periods_are_hashable_values() -> None:
    assert {parse_period_label("2026-01"), Period(Grain.MONTH, date(2026, 1, 1))} == {
        Period(Grain.MONTH, date(2026, 1, 1))
    }


# Validation


@pytest.mark.parametrize(
    ("grain", "start", "fiscal_year_start"),
    [
        (Grain.WEEK, date(2026, 1, 1), 1),  # a Thursday
        (Grain.MONTH, date(2026, 1, 2), 1),
        (Grain.QUARTER, date(2026, 2, 1), 1),
        (Grain.QUARTER, date(2026, 1, 1), 2),
        (Grain.YEAR, date(2026, 1, 1), 4),
    ],
)
def test_a_period_must_start_on_the_first_day_of_its_grain(
    grain: Grain, start: date, fiscal_year_start: int
) -> None:
    with pytest.raises(ValueError, match="is not the first day of a"):
        Period(grain, start, fiscal_year_start)


def test_a_grain_can_be_given_by_its_name() -> None:
    period = Period("month", date(2026, 1, 1))  # type: ignore[arg-type]

    assert period.grain is Grain.MONTH
    assert period == parse_period_label("2026-01")


@pytest.mark.parametrize("month", [0, 13, -1, True, 4.0, "4"])
def test_the_fiscal_year_start_must_be_a_month_number(month: object) -> None:
    with pytest.raises(ValueError, match="fiscal_year_start must be a month number"):
        validate_fiscal_year_start(month)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fiscal_year_start"):
        period_containing(Grain.MONTH, date(2026, 1, 1), month)  # type: ignore[arg-type]


@pytest.mark.parametrize("month", range(1, 13))
def test_every_month_is_a_valid_fiscal_year_start(month: int) -> None:
    validate_fiscal_year_start(month)
    assert parse_period_label("2026", month).start == date(2026, month, 1)


# Local time


def test_to_local_gives_wall_time_after_the_spring_forward_in_berlin() -> None:
    # EU clocks go forward at 01:00 UTC on the last Sunday of March: 2026-03-29.
    after = to_local(instant("2026-03-29T01:30:00+00:00"), BERLIN)
    before = to_local(instant("2026-03-29T00:30:00+00:00"), BERLIN)

    assert after == datetime(2026, 3, 29, 3, 30)
    assert after.tzinfo is None
    assert before == datetime(2026, 3, 29, 1, 30)


def test_to_local_returns_a_naive_datetime_unchanged() -> None:
    naive = datetime(2026, 3, 29, 1, 30)

    assert to_local(naive, BERLIN) is naive


def test_to_local_moves_an_instant_into_the_next_month_in_taipei() -> None:
    moment = instant("2026-01-31T17:30:00+00:00")
    local = to_local(moment, TAIPEI)

    assert local == datetime(2026, 2, 1, 1, 30)
    assert period_containing(Grain.MONTH, local.date()).label == "2026-02"
    assert period_containing(Grain.MONTH, moment.date()).label == "2026-01"


def test_local_bounds_of_a_month_in_taipei_are_at_local_midnight() -> None:
    start, end = local_bounds(parse_period_label("2026-02"), TAIPEI)

    assert start.isoformat() == "2026-02-01T00:00:00+08:00"
    assert end.isoformat() == "2026-03-01T00:00:00+08:00"
    assert start <= instant("2026-01-31T17:30:00+00:00") < end


def test_local_bounds_in_berlin_span_the_switch_to_summer_time() -> None:
    start, end = local_bounds(parse_period_label("2026-03"), BERLIN)

    assert start == instant("2026-03-01T00:00:00+01:00")
    assert end == instant("2026-04-01T00:00:00+02:00")
    assert start.isoformat() == "2026-03-01T00:00:00+01:00"
    assert end.isoformat() == "2026-04-01T00:00:00+02:00"
    assert start.tzinfo is BERLIN
    assert hours_between(start, end) == 31 * 24 - 1


def test_local_bounds_in_new_york_follow_both_dst_switches() -> None:
    # US clocks go forward on 2026-03-08 and back on 2026-11-01, both at 02:00.
    march = local_bounds(parse_period_label("2026-03"), NEW_YORK)
    november = local_bounds(parse_period_label("2026-11"), NEW_YORK)
    week = local_bounds(period_containing(Grain.WEEK, date(2026, 3, 8)), NEW_YORK)

    assert [b.isoformat() for b in march] == [
        "2026-03-01T00:00:00-05:00",
        "2026-04-01T00:00:00-04:00",
    ]
    assert [b.isoformat() for b in november] == [
        "2026-11-01T00:00:00-04:00",
        "2026-12-01T00:00:00-05:00",
    ]
    assert hours_between(*week) == 7 * 24 - 1
    assert hours_between(*november) == 30 * 24 + 1


def test_consecutive_periods_share_their_bound() -> None:
    october = parse_period_label("2026-10")

    assert local_bounds(october, NEW_YORK)[1] == local_bounds(october.shift(1), NEW_YORK)[0]


def test_local_bounds_start_at_the_first_instant_of_a_day_without_midnight() -> None:
    # Paraguay moved its clocks from 00:00 to 01:00 on 2023-10-01, the last spring
    # forward before it kept summer time all year in October 2024.
    asuncion = ZoneInfo("America/Asuncion")
    october = parse_period_label("2023-10")

    start, end = local_bounds(october, asuncion)

    assert start.isoformat() == "2023-10-01T01:00:00-03:00"
    assert start == instant("2023-10-01T04:00:00+00:00")
    assert end.isoformat() == "2023-11-01T00:00:00-03:00"
    assert local_bounds(october.shift(-1), asuncion)[1] == start
    assert local_bounds(parse_period_label("2023-Q4"), asuncion)[0] == start


def test_local_bounds_in_havana_where_summer_time_began_at_midnight_on_a_quarter_start() -> None:
    # Cuba started summer time on 2012-04-01 at 00:00, jumping to 01:00.
    havana = ZoneInfo("America/Havana")

    start, end = local_bounds(parse_period_label("2012-Q2"), havana)

    assert start.isoformat() == "2012-04-01T01:00:00-04:00"
    assert end.isoformat() == "2012-07-01T00:00:00-04:00"
    assert local_bounds(parse_period_label("2012-Q1"), havana)[1] == start


def test_local_bounds_use_the_first_of_two_midnights_when_clocks_go_back() -> None:
    # Cuba goes back from 01:00 to 00:00 on the first Sunday of November: in 2026 that is
    # 2026-11-01, so the hour after midnight happens twice.
    havana = ZoneInfo("America/Havana")
    assert to_local(instant("2026-11-01T05:30:00+00:00"), havana) == datetime(2026, 11, 1, 0, 30)

    start, _ = local_bounds(parse_period_label("2026-11"), havana)

    assert start.isoformat() == "2026-11-01T00:00:00-04:00"


def test_local_bounds_when_a_jump_starts_before_midnight_and_ends_after_it() -> None:
    # Toronto in 1919 went forward at 23:30 on Sunday 30 March, straight to 00:30 on
    # Monday 31 March, the first day of ISO week 1919-W14.
    toronto = ZoneInfo("America/Toronto")
    week = parse_period_label("1919-W14")
    assert week.start == date(1919, 3, 31)

    start, _ = local_bounds(week, toronto)

    assert start.isoformat() == "1919-03-31T00:30:00-04:00"
    assert start == instant("1919-03-31T04:30:00+00:00")
    assert to_local(instant("1919-03-31T04:29:59+00:00"), toronto).date() == date(1919, 3, 30)


@given(day=days, grain=grains)
def test_local_bounds_are_at_local_midnight_in_berlin(day: date, grain: Grain) -> None:
    period = period_containing(grain, day)
    start, end = local_bounds(period, BERLIN)

    # Berlin has never skipped midnight, so both bounds are exactly 00:00 local.
    assert to_local(start, BERLIN) == datetime.combine(period.start, datetime.min.time())
    assert to_local(end, BERLIN) == datetime.combine(period.end, datetime.min.time())
    assert start < end
