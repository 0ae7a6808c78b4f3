"""The grid of values entered by hand: many periods in one form, errors beside the cell at
fault with nothing saved, the owner's approvals; in English and in Traditional Chinese."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import Any

import pytest

from headway.kpis.models import Kpi
from headway.kpis.services import kpi_create, target_revise
from headway.results import manual
from headway.results.models import ManualValue, Result
from tests.web.conftest import Org

pytestmark = pytest.mark.django_db

URL = "/kpis/satisfaction/values/"


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manual, "organization_today", lambda: datetime.date(2026, 3, 15))


@pytest.fixture
def kpi(org: Org) -> Kpi:
    """Satisfaction (a percent) of team north, entered by hand and owned by Mo (a member)."""
    created = kpi_create(
        by=org.ada,
        key="satisfaction",
        name="Customer satisfaction",
        formula="",
        entry="manual",
        unit="percent",
        grain="month",
        team=org.nora.teams.get(key="north"),
        owner=org.mo,
    )
    target_revise(kpi=created, by=org.ada, effective_from="2026-01", value="0.8", reason="Plan")
    return created


def grid(**cells: str) -> dict[str, Any]:
    """A grid form for the twelve periods shown (April 2025 to March 2026), empty but for
    the cells given, e.g. grid(**{"2026-01": "84"})."""
    labels = [f"2025-{month:02d}" for month in range(4, 13)] + ["2026-01", "2026-02", "2026-03"]
    data: dict[str, Any] = {"period": labels, "comment": ""}
    for label in labels:
        data[f"value-{label}"] = cells.get(label, "")
        data[f"seen-{label}"] = ""
    return data


def stored(kpi: Kpi) -> list[tuple[str, Decimal | None, str]]:
    return [
        (entry.period, entry.value, entry.status)
        for entry in ManualValue.objects.filter(kpi=kpi).order_by("period_start", "pk")
    ]


def test_the_grid_lists_twelve_periods_newest_first_with_cells_for_the_owner(
    org: Org, kpi: Kpi
) -> None:
    response = org.client(org.mo).get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Values of Customer satisfaction" in html
    labels = re.findall(r'<tr id="period-([0-9-]+)"', html)
    assert labels[0] == "2026-03"
    assert labels[-1] == "2025-04"
    assert len(labels) == 12
    assert 'name="value-2026-03"' in html
    assert "Save the values" in html
    assert "?from=2024-04" in html  # earlier periods
    assert "Later periods" not in html
    assert "80.0%" in html  # the target in force


def test_the_grid_in_traditional_chinese(org: Org, kpi: Kpi) -> None:
    html = org.client(org.mo).get(URL, HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()
    assert '<html lang="zh-hant">' in html
    assert "逐期數值" in html
    assert "儲存數值" in html
    assert "等待核准" in html
    assert "2026年3月" in html
    assert "Values by period" not in html
    assert "Save the values" not in html


def test_many_periods_are_saved_in_one_submit(org: Org, kpi: Kpi) -> None:
    client = org.client(org.mo)
    data = grid(**{"2026-01": "84", "2026-02": "70.5%", "2025-12": "1,000"})
    data["comment"] = "From the survey"
    response = client.post(URL, data)
    assert response.status_code == 302
    assert response["Location"] == URL
    assert stored(kpi) == [
        ("2025-12", Decimal(10), "approved"),
        ("2026-01", Decimal("0.84"), "approved"),
        ("2026-02", Decimal("0.705"), "approved"),
    ]
    assert Result.objects.get(kpi=kpi, period="2026-01").status == "green"
    html = client.get(URL).content.decode()
    assert "3 values were saved." in html
    assert 'value="84"' in html  # the cell shows the value as it was typed
    assert "From the survey" in html  # in the history


def test_the_unchanged_grid_saves_nothing(org: Org, kpi: Kpi) -> None:
    client = org.client(org.mo)
    client.post(URL, grid(**{"2026-01": "84"}))
    rows = stored(kpi)
    data = grid(**{"2026-01": "84.0"})
    # The page sends which entry each cell showed.
    data["seen-2026-01"] = str(ManualValue.objects.get(kpi=kpi).pk)
    response = client.post(URL, data, follow=True)
    assert "Nothing changed" in response.content.decode()
    assert stored(kpi) == rows


def test_a_bad_cell_is_shown_beside_it_and_nothing_is_saved(org: Org, kpi: Kpi) -> None:
    response = org.client(org.mo).post(URL, grid(**{"2026-01": "84", "2026-02": "lots"}))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Nothing was saved" in html
    cell = html[html.index('id="value-2026-02"') :]
    cell = cell[: cell.index("</td>")]
    assert 'value="lots"' in cell
    assert 'aria-invalid="true"' in cell
    assert "“lots” is not a number." in cell
    # What was typed elsewhere is kept for another try.
    assert 'value="84"' in html
    assert stored(kpi) == []


def test_a_value_the_service_refuses_is_shown_beside_its_cell(org: Org, kpi: Kpi) -> None:
    response = org.client(org.mo).post(URL, grid(**{"2026-01": "84", "2026-02": "1e30"}))
    html = response.content.decode()
    cell = html[html.index('id="value-2026-02"') :]
    cell = cell[: cell.index("</td>")]
    assert "2026-02" in cell
    assert "too large" in cell
    assert stored(kpi) == []


def test_errors_are_in_chinese_for_a_chinese_reader(org: Org, kpi: Kpi) -> None:
    response = org.client(org.mo).post(
        URL, grid(**{"2026-02": "lots"}), HTTP_ACCEPT_LANGUAGE="zh-hant"
    )
    html = response.content.decode()
    assert "「lots」不是數字。" in html
    assert "未儲存任何資料" in html


def test_a_cell_entered_meanwhile_by_someone_else_is_a_conflict(org: Org, kpi: Kpi) -> None:
    data = grid(**{"2026-01": "84"})
    org.client(org.nora).post(URL, grid(**{"2026-01": "90"}))
    response = org.client(org.mo).post(URL, data)
    assert response.status_code == 200
    assert "Someone else changed this" in response.content.decode()
    assert [value for _, value, _ in stored(kpi)] == [Decimal("0.9")]


def test_a_grid_read_earlier_does_not_undo_values_entered_meanwhile(org: Org, kpi: Kpi) -> None:
    data = grid(**{"2026-03": "91"})  # read while February was still empty
    org.client(org.nora).post(URL, grid(**{"2026-02": "70"}))
    response = org.client(org.mo).post(URL, data)
    assert response.status_code == 302
    assert stored(kpi) == [
        ("2026-02", Decimal("0.7"), "approved"),
        ("2026-03", Decimal("0.91"), "approved"),
    ]


def test_viewers_read_the_grid_without_cells_and_may_not_post(org: Org, kpi: Kpi) -> None:
    client = org.client(org.vic)
    html = client.get(URL).content.decode()
    assert "Values by period" in html
    assert 'name="value-2026-03"' not in html
    assert "Save the values" not in html
    assert client.post(URL, grid(**{"2026-01": "84"})).status_code == 403
    assert org.client(org.sam).post(URL, grid(**{"2026-01": "84"})).status_code == 403
    assert stored(kpi) == []


def test_a_formula_kpi_has_no_grid(org: Org) -> None:
    assert org.client(org.ada).get("/kpis/revenue/values/").status_code == 404


def test_the_owner_approves_and_rejects_values_waiting_for_approval(org: Org, kpi: Kpi) -> None:
    Kpi.objects.filter(pk=kpi.pk).update(manual_approval=True)
    org.client(org.nora).post(URL, grid(**{"2026-01": "84", "2026-02": "60"}))
    january, february = ManualValue.objects.filter(kpi=kpi).order_by("period_start")
    assert (january.status, february.status) == ("pending", "pending")

    manager_view = org.client(org.nora).get(URL).content.decode()
    assert "Waiting for approval" in manager_view
    assert "Approve" not in manager_view  # the manager entered them; the owner decides

    owner = org.client(org.mo)
    html = owner.get(URL).content.decode()
    assert f"/kpis/satisfaction/values/{january.pk}/decision/" in html
    response = owner.post(
        f"/kpis/satisfaction/values/{january.pk}/decision/",
        {"decision": "approve", "note": "Checked"},
    )
    assert response.status_code == 302
    assert response["Location"] == URL + "#pending"
    owner.post(
        f"/kpis/satisfaction/values/{february.pk}/decision/",
        {"decision": "reject", "note": "Wrong"},
    )
    assert stored(kpi) == [
        ("2026-01", Decimal("0.84"), "approved"),
        ("2026-02", Decimal("0.6"), "rejected"),
    ]
    assert list(Result.objects.filter(kpi=kpi).values_list("period", flat=True)) == ["2026-01"]
    page = owner.get(URL).content.decode()
    assert "No value is waiting for approval." in page


def test_only_the_owner_or_an_admin_may_decide(org: Org, kpi: Kpi) -> None:
    Kpi.objects.filter(pk=kpi.pk).update(manual_approval=True)
    org.client(org.nora).post(URL, grid(**{"2026-01": "84"}))
    entry = ManualValue.objects.get(kpi=kpi)
    url = f"/kpis/satisfaction/values/{entry.pk}/decision/"
    for person in (org.nora, org.vic, org.sam):
        assert org.client(person).post(url, {"decision": "approve"}).status_code == 403
    response = org.client(org.ada).post(url, {"decision": "approve"})
    assert response.status_code == 302
    assert stored(kpi) == [("2026-01", Decimal("0.84"), "approved")]


def test_earlier_periods_are_one_link_away(org: Org, kpi: Kpi) -> None:
    html = org.client(org.mo).get(URL + "?from=2024-04").content.decode()
    labels = re.findall(r'<tr id="period-([0-9-]+)"', html)
    assert (labels[0], labels[-1]) == ("2025-03", "2024-04")
    assert "Later periods" in html


def test_the_kpi_page_links_to_the_grid_for_manual_kpis_only(org: Org, kpi: Kpi) -> None:
    client = org.client(org.vic)
    assert URL in client.get("/kpis/satisfaction/").content.decode()
    assert "/values/" not in client.get("/kpis/revenue/").content.decode()


def test_the_grid_reads_in_a_fixed_number_of_queries(org: Org, kpi: Kpi) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = org.client(org.mo)

    def count() -> int:
        with CaptureQueriesContext(connection) as context:
            assert client.get(URL).status_code == 200
        return len(context.captured_queries)

    empty = count()
    Kpi.objects.filter(pk=kpi.pk).update(manual_approval=True)
    org.client(org.mo).post(URL, grid(**{f"2025-{month:02d}": "50" for month in range(4, 13)}))
    manual.manual_values_submit(
        kpi=kpi,
        values={f"2025-{month:02d}": Decimal("0.6") for month in range(4, 13)}
        | {"2026-01": Decimal("0.7")},
        by=org.nora,
    )
    assert ManualValue.objects.filter(kpi=kpi).count() == 19
    assert count() <= empty + 1


def test_a_new_target_on_the_kpi_page_moves_the_status_of_entered_values(
    org: Org, kpi: Kpi
) -> None:
    org.client(org.mo).post(URL, grid(**{"2026-02": "84"}))
    assert Result.objects.get(kpi=kpi, period="2026-02").status == "green"
    response = org.client(org.nora).post(
        "/kpis/satisfaction/targets/new/",
        {"effective_from": "2026-02", "value": "95", "reason": "Stretch", "where_dimension": ""},
    )
    assert response.status_code == 302
    result = Result.objects.get(kpi=kpi, period="2026-02")
    assert (result.target, result.status) == (Decimal("0.95"), "red")
