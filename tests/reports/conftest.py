"""The web tests' small organisation, with Chinese KPI names, an owner, a KPI entered by
hand with its owner's comments, a target changed in March 2024 and data gone stale.

The stored numbers of March 2024, worked out from tests/web/conftest.py's deals:
    成交率 (win rate)   5 of 8 deals won = 62.5% against 60%: 104.2%, on track
                        (February: 4 of 8 = 50% against 50%: 100%)
    營收 (revenue)      5 won deals of 250.50 = TWD 1,253 against 1,000: 125.25%
                        (February: 4 x 250.50 = 1,002: 100.2%)
    成交件數 (deals)    8, no target
    神秘客評分 (manual) 86 against 85: 101.2% (February: 80 against 85: 94.1%, at risk)
"""

from __future__ import annotations

import datetime
import os
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from headway.accounts.models import Team, User
from headway.engine.workspace import load_workspace
from headway.goals.models import Goal
from headway.kpis.choices import EntryKind
from headway.kpis.models import Dataset, Kpi
from headway.kpis.services import kpi_create, target_revise
from headway.kpis.workspace_io import apply_plan, plan_apply
from headway.results.manual import manual_values_submit
from headway.results.services import results_recompute
from tests.web.conftest import PASSWORD, WON, WORKSPACE, Org, deal_rows, write_deals

CHINESE = (
    WORKSPACE.replace("name: Win rate", "name: 成交率\n    owner: nora@example.com")
    .replace("name: Revenue", "name: 營收")
    .replace("name: Deals closed", "name: 成交件數")
    .replace("title: Win more deals", "title: 贏得更多交易")
)


@pytest.fixture(autouse=True)
def _quick_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def decided_at(moment: datetime.datetime) -> Any:
    """Target versions record when they were decided as they are created: pretend it is then."""
    return mock.patch("django.utils.timezone.now", return_value=moment)


@pytest.fixture
def org(db: None, tmp_path: Path) -> Org:
    (tmp_path / "headway.yaml").write_text(CHINESE, encoding="utf-8")
    write_deals(tmp_path / "deals.csv", deal_rows(WON))
    apply_plan(plan_apply(load_workspace(tmp_path / "headway.yaml")), by=None)
    people = {}
    for person in User.objects.all():
        person.set_password(PASSWORD)
        person.save()
        people[person.email.split("@")[0]] = person
    results_recompute(by=None)
    ada = people["ada"]
    manual = kpi_create(
        by=ada,
        key="mystery_shopper",
        name="神秘客評分",
        formula="",
        entry=EntryKind.MANUAL,
        unit="score",
        grain="month",
        team=Team.objects.get(key="sales"),
        owner=people["nora"],
        goals=[(Goal.objects.get(key="grow"), Decimal(1))],
    )
    target_revise(kpi=manual, by=ada, effective_from="2024-01", value=Decimal(85), reason="起始")
    manual_values_submit(kpi=manual, by=ada, values={"2024-02": Decimal(80)}, comment="二月偏低")
    manual_values_submit(
        kpi=manual, by=ada, values={"2024-03": Decimal(86)}, comment="=三月門市活動奏效"
    )
    win_rate = Kpi.objects.get(key="win_rate")
    with decided_at(datetime.datetime(2024, 3, 20, 3, 0, tzinfo=datetime.UTC)):
        target_revise(
            kpi=win_rate,
            by=people["nora"],
            effective_from="2024-04",
            value=Decimal("0.65"),
            reason="+5 points after the March review",
        )
    # The deals' data is ten days old and may be a day old at most: every KPI reading it
    # is stale.
    deals = Dataset.objects.get(key="deals")
    deals.freshness_hours = 24
    deals.save()
    path = Path(deals.file)
    path = path if path.is_absolute() else tmp_path / path
    old = time.time() - 10 * 24 * 3600
    os.utime(path, (old, old))
    return Org(folder=tmp_path, **people)
