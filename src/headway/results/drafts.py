"""A KPI that does not exist yet, computed by the engine over the real data without saving
anything: the preview of a formula being written (the KPI editor) and the history of a
proposed new KPI (participation's proposals)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from headway.accounts.models import Organization
from headway.engine.compute import ComputeRequest, Number
from headway.engine.workspace import workspace_from_data
from headway.kpis.workspace_io import workspace_data
from headway.lib.periods import Grain, period_containing
from headway.results import manual
from headway.results.engine import app_engine


@dataclass(frozen=True)
class DraftValue:
    period: str
    start: datetime.date
    value: Number | None


# The name the draft goes by in the workspace; formulas name measures, never KPIs, so it
# cannot clash with what the other KPIs compute.
DRAFT_KEY = "headway_draft_preview"


def draft_values(
    *,
    formula: str,
    unit: str,
    grain: str,
    direction: str,
    periods: int = 6,
    today: datetime.date | None = None,
) -> list[DraftValue]:
    """A KPI being written, computed by the engine over the real data without saving it:
    the latest `periods` periods that have data, up to the one `today` falls in (today
    where the organisation is, by default).

    Raises HeadwayError for a formula or data the engine refuses.
    """
    data = workspace_data(base_dir=None)
    data["kpis"] = [item for item in data["kpis"] if item["key"] != DRAFT_KEY]
    data["kpis"].append(
        {
            "key": DRAFT_KEY,
            "name": DRAFT_KEY,
            "formula": formula,
            "unit": unit,
            "direction": direction,
            "grain": grain,
        }
    )
    workspace = workspace_from_data(data, Path(settings.DATA_DIR) / "headway.yaml")
    organization = Organization.current()
    current = period_containing(
        Grain(grain), today or manual.organization_today(), organization.fiscal_year_start
    )
    with app_engine(workspace) as engine:
        # The data's own extent, so that a history that ended a while ago still shows.
        result = engine.compute(ComputeRequest(kpis=(DRAFT_KEY,)))
    rows = [row for row in result.rows if row.period.start <= current.start][-periods:]
    return [
        DraftValue(period=row.period.label, start=row.period.start, value=row.value) for row in rows
    ]
