"""A KPI that turns red (or is forecast to miss) rings its owner's bell once per period, in
the owner's language, with a link to the KPI."""

from __future__ import annotations

import pytest

from headway.notifications.models import Notification
from headway.notifications.services import unread_count
from headway.results.alerts import send_alerts
from headway.results.models import AlertSent
from headway.results.services import results_recompute
from tests.app.conftest import Organisation
from tests.app.test_alerts import turn_revenue_red
from tests.conftest import MailServer

pytestmark = pytest.mark.django_db


def test_a_red_kpi_notifies_its_owner_once(org: Organisation, smtp_server: MailServer) -> None:
    turn_revenue_red(org)

    send_alerts()
    send_alerts()

    notice = Notification.objects.get()
    period = AlertSent.objects.get().period
    assert notice.person == org.other_manager
    assert notice.kind == "kpi_red"
    assert notice.dedupe_key == f"kpi_red:revenue:{period}"
    assert notice.url == "/kpis/revenue/"
    assert notice.text.startswith(f"Revenue is off track in {period}: ")
    assert unread_count(org.other_manager) == 1
    assert unread_count(org.manager) == 0


def test_a_kpi_forecast_to_miss_notifies_its_owner_in_their_language(
    org: Organisation, smtp_server: MailServer
) -> None:
    results_recompute(by=None)
    org.manager.language = "zh-hant"
    org.manager.save()

    send_alerts(kpi_keys=["conversion"], chance=lambda kpi, period: 0.18)

    notice = Notification.objects.get(person=org.manager)
    period = AlertSent.objects.get().period
    assert notice.dedupe_key == f"kpi_red:conversion:{period}"
    assert notice.text == f"預測 Conversion 在 {period} 無法達標：達標機率 18%。"


def test_a_kpi_without_an_owner_notifies_nobody(org: Organisation, smtp_server: MailServer) -> None:
    from headway.kpis.models import Kpi

    Kpi.objects.filter(key="revenue").update(owner=None)
    turn_revenue_red(org)

    assert len(send_alerts()) == 1
    assert not Notification.objects.exists()
