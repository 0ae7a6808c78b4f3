"""After an import, the app recomputes only the periods and groups the new rows touch, and
the stored Results are those a full recompute stores, row for row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from headway.audit.models import AuditEntry
from headway.ingestion.services import import_file
from headway.kpis.models import Dataset
from headway.results.models import Result
from headway.results.services import results_recompute, results_refresh_dataset
from tests.app.conftest import Organisation, build_organisation

pytestmark = pytest.mark.django_db

HISTORY = """\
deal_id,closed_at,team,stage,amount
a1,2026-01-10,north,won,100
a2,2026-01-20,south,lost,40
b1,2026-02-11,south,won,50
b2,2026-02-12,north,lost,70
c1,2026-03-05,north,won,30
c2,2026-03-25,south,won,80
d1,2026-04-02,north,won,10
"""

# One month of new rows (February), one changed (b1's amount) and a new group (east).
FEBRUARY = """\
deal_id,closed_at,team,stage,amount
b1,2026-02-11,south,won,55
b3,2026-02-14,north,won,20
b4,2026-02-27,east,won,15
"""


@pytest.fixture
def org(db: None, tmp_path: Path, settings: Any) -> Organisation:
    settings.HEADWAY_WAREHOUSE_DIR = tmp_path / "warehouse"
    return build_organisation(tmp_path)


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def stored() -> dict[tuple[str, str, str, str], tuple[Any, ...]]:
    return {
        (row[0], row[1], row[2], row[3]): row[4:]
        for row in Result.objects.values_list(
            "kpi__key",
            "period",
            "group_dimension",
            "group_value",
            "value",
            "target",
            "attainment",
            "status",
            "measures",
        )
    }


def test_an_import_of_one_month_recomputes_it_alone_and_equals_a_full_recompute(
    org: Organisation, tmp_path: Path
) -> None:
    deals = Dataset.objects.get(key="deals")
    import_file(dataset=deals, path=_write(tmp_path, "history.csv", HISTORY), by=org.admin)
    results_recompute(by=None)
    ids_before = dict(Result.objects.values_list("pk", "period"))
    run = import_file(dataset=deals, path=_write(tmp_path, "feb.csv", FEBRUARY), by=org.admin)
    assert (run.added, run.updated) == (2, 1)
    assert run.touched_from is not None
    assert run.touched_to is not None
    audits = AuditEntry.objects.filter(action="results.recompute").count()

    problems = results_refresh_dataset(
        dataset_key="deals", by=org.admin, touched_from=run.touched_from, touched_to=run.touched_to
    )

    assert problems == []
    assert AuditEntry.objects.filter(action="results.recompute").count() == audits + 1
    incremental = stored()
    # Every Result outside February kept its row (same id) unless it is the new group's.
    kept = dict(Result.objects.values_list("pk", "period"))
    untouched = {pk for pk, period in ids_before.items() if period != "2026-02"}
    assert untouched <= set(kept)
    results_recompute(by=None)
    full = stored()
    assert incremental == full
    # The new group is there for every month, as a full recompute gives it.
    east = {key[1] for key in full if key[3] == "east" and key[0] == "revenue"}
    assert east == {"2026-01", "2026-02", "2026-03", "2026-04"}
    assert full[("revenue", "2026-02", "", "")][0] == 55 + 20 + 15


def test_rows_appended_after_the_last_month_extend_the_range_like_a_full_recompute(
    org: Organisation, tmp_path: Path
) -> None:
    deals = Dataset.objects.get(key="deals")
    import_file(dataset=deals, path=_write(tmp_path, "history.csv", HISTORY), by=org.admin)
    results_recompute(by=None)
    later = "deal_id,closed_at,team,stage,amount\nf1,2026-06-30T23:30:00,north,won,5\n"
    run = import_file(dataset=deals, path=_write(tmp_path, "june.csv", later), by=org.admin)

    assert (
        results_refresh_dataset(
            dataset_key="deals", by=None, touched_from=run.touched_from, touched_to=run.touched_to
        )
        == []
    )

    incremental = stored()
    results_recompute(by=None)
    assert incremental == stored()
    # May is empty but inside the range now: it has a row, and July has none.
    assert ("revenue", "2026-05", "", "") in incremental
    assert ("revenue", "2026-07", "", "") not in incremental
