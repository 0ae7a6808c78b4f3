"""Charts drawn on the server and numbers formatted for people."""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.utils import translation

from headway.reports.charts import ChartWords, kpi_chart, nice_ticks, sparkline
from headway.reports.formatting import attainment_text, kpi_value_text, number_text, period_name

SVG = "{http://www.w3.org/2000/svg}"


@dataclass(frozen=True)
class Point:
    period: str
    period_start: datetime.date
    value: Decimal | None
    target: Decimal | None


@dataclass(frozen=True)
class Version:
    effective_from: str
    effective_start: datetime.date
    value: Decimal
    reason: str = ""


def child(element: ET.Element, tag: str) -> ET.Element:
    found = element.find(f"{SVG}{tag}")
    assert found is not None
    return found


def points() -> list[Point]:
    return [
        Point("2026-01", datetime.date(2026, 1, 1), Decimal("0.05"), Decimal("0.08")),
        Point("2026-02", datetime.date(2026, 2, 1), Decimal("0.06"), Decimal("0.08")),
        Point("2026-03", datetime.date(2026, 3, 1), None, Decimal("0.06")),
        Point("2026-04", datetime.date(2026, 4, 1), Decimal("0.07"), Decimal("0.06")),
    ]


def words(title: str = "Conversion rate against its target") -> ChartWords:
    return ChartWords(title=title, description="Values per month against the target.")


def test_a_kpi_chart_is_valid_svg_with_a_title_and_description() -> None:
    svg = kpi_chart(points(), [], words=words())
    root = ET.fromstring(svg)
    assert root.get("role") == "img"
    labelled = root.get("aria-labelledby", "").split()
    assert [child(root, "title").get("id"), child(root, "desc").get("id")] == labelled
    assert child(root, "title").text == "Conversion rate against its target"


def test_a_kpi_chart_draws_values_a_target_step_line_and_axis_labels() -> None:
    svg = kpi_chart(points(), [], words=words(), format_value=lambda v: f"{v * 100:.0f}%")
    root = ET.fromstring(svg)
    # The missing March value splits the line in two; one dot per value.
    assert len(root.findall(f"{SVG}polyline")) == 1  # Jan-Feb; April stands alone
    assert len(root.findall(f"{SVG}circle")) == 3
    target = root.find(f"{SVG}path[@class='target-line']")
    assert target is not None
    assert target.get("d", "").count("M") == 1  # one unbroken step line
    texts = [element.text for element in root.iter(f"{SVG}text")]
    assert "2026-01" in texts
    assert "8%" in texts or "6%" in texts


def test_target_changes_within_the_range_are_marked_with_their_value_and_reason() -> None:
    versions = [
        Version("2026-01", datetime.date(2026, 1, 1), Decimal("0.08")),
        Version("2026-03", datetime.date(2026, 3, 1), Decimal("0.06"), "Q1 review"),
    ]
    svg = kpi_chart(points(), versions, words=words(), format_value=lambda v: f"{v:.2f}")
    root = ET.fromstring(svg)
    markers = root.findall(f"{SVG}g[@class='target-change']")
    assert len(markers) == 1  # the January version starts the range: not a change
    assert "2026-03: 0.06" in ET.tostring(markers[0], encoding="unicode")
    assert "Q1 review" in (child(markers[0], "title").text or "")


def test_chart_text_is_escaped() -> None:
    svg = kpi_chart(
        [Point("<b>", datetime.date(2026, 1, 1), Decimal(1), None)],
        [],
        words=ChartWords(title='<script>alert("x")</script>', description="a & b"),
    )
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "a &amp; b" in svg
    ET.fromstring(svg)


def test_a_chart_without_values_says_so() -> None:
    svg = kpi_chart([], [], words=ChartWords(title="t", description="d", no_data="Nothing yet"))
    assert "Nothing yet" in svg
    ET.fromstring(svg)


def test_a_sparkline_draws_the_values_and_dots_the_last() -> None:
    root = ET.fromstring(sparkline([1, 2, None, 4, 3], title="Last 5"))
    assert root.get("aria-label") == "Last 5"
    assert len(root.findall(f"{SVG}polyline")) == 2
    assert len(root.findall(f"{SVG}circle")) == 1


def test_a_sparkline_of_nothing_or_one_value_still_draws() -> None:
    assert ET.fromstring(sparkline([])).get("aria-hidden") == "true"
    assert ET.fromstring(sparkline([None, Decimal("5")])).find(f"{SVG}circle") is not None
    ET.fromstring(sparkline([3, 3, 3]))


def test_ticks_are_round_numbers() -> None:
    assert nice_ticks(0, 0.083) == [0.0, 0.02, 0.04, 0.06, 0.08, 0.1]
    assert nice_ticks(0, 1234) == [0, 250, 500, 750, 1000, 1250]
    assert nice_ticks(-0.239, 0.03) == [-0.3, -0.2, -0.1, 0.0, 0.1]


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (Decimal("0.083"), "percent", "8.3%"),
        (0.0834, "percent", "8.3%"),
        (Decimal("1234567"), "count", "1,234,567"),
        (Decimal("12.5"), "count", "12.5"),
        (Decimal("3617.4"), "currency", "TWD 3,617"),
        (Decimal("12.345"), "currency", "TWD 12.35"),
        (Decimal("4.2"), "score", "4.20"),
        (Decimal("-0.239"), "percent", "-23.9%"),
        (None, "percent", "—"),
    ],
)
def test_values_are_formatted_by_unit(value: Decimal | float | None, unit: str, text: str) -> None:
    with translation.override("en"):
        assert kpi_value_text(value, unit, "TWD") == text


def test_numbers_keep_comma_thousands_in_traditional_chinese() -> None:
    with translation.override("zh-hant"):
        assert number_text(Decimal("1234567.891"), 2) == "1,234,567.89"
        assert attainment_text(Decimal("0.9355")) == "93.6%"


def test_periods_read_as_words_in_each_language() -> None:
    with translation.override("en"):
        assert period_name("2026-07") == "July 2026"
        assert period_name("2026-Q3") == "2026 Q3"
        assert period_name("2026-W05") == "2026 week 5"
        assert period_name("2026") == "2026"
    with translation.override("zh-hant"):
        assert period_name("2026-07") == "2026年7月"
        assert period_name("2026-Q3") == "2026 年第 3 季"


def test_a_forecast_band_is_shaded_and_extends_the_periods_past_the_last_value() -> None:
    band = [("2026-04", 0.065, 0.075), ("2026-05", Decimal("0.06"), Decimal("0.09"))]
    svg = kpi_chart(points(), [], words=words(), band=band)
    root = ET.fromstring(svg)
    shaded = root.find(f"{SVG}g[@class='forecast-band']")
    assert shaded is not None
    polygon = child(shaded, "polygon")
    assert len(polygon.get("points", "").split()) == 4  # two periods, upper and lower
    texts = [element.text for element in root.iter(f"{SVG}text")]
    assert "2026-05" in texts  # a period after the last value, on the axis
    assert "Forecast range" in texts
    # The range's top is inside the plot: the y axis grew to hold it.
    assert "0.1" in texts


def test_anomalies_are_ringed_and_named_in_the_legend() -> None:
    svg = kpi_chart(points(), [], words=words(), anomalies={"2026-02"})
    root = ET.fromstring(svg)
    (ring,) = root.findall(f"{SVG}circle[@class='anomaly']")
    assert "2026-02" in (child(ring, "title").text or "")
    assert "Unusual value" in [element.text for element in root.iter(f"{SVG}text")]


def test_without_a_band_or_anomalies_the_chart_is_as_before() -> None:
    svg = kpi_chart(points(), [], words=words())
    assert "forecast-band" not in svg
    assert "anomaly" not in svg
    assert "Forecast range" not in svg
