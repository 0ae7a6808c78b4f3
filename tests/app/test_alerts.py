"""Alerts: a KPI that turns red, or is forecast to miss, tells its owner once per period,
by e-mail and through the Slack and Teams webhooks of its team and of the company."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from headway.audit.models import AuditEntry
from headway.kpis.models import Kpi
from headway.kpis.services import target_revise
from headway.results.alerts import alert_channel_create, send_alerts
from headway.results.models import AlertSent
from headway.results.services import results_recompute, results_refresh_kpi
from tests.app.conftest import Organisation
from tests.conftest import MailServer

pytestmark = pytest.mark.django_db


class Hooks:
    """A fake webhook receiver on 127.0.0.1: keeps each JSON body, answers `status`."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, Any]] = []
        self.status = 200
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                hooks.bodies.append((self.path, json.loads(self.rfile.read(length))))
                self.send_response(hooks.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hooks(settings: Any) -> Iterator[Hooks]:
    settings.HEADWAY_HTTP_ALLOW = ["127.0.0.1"]
    receiver = Hooks()
    yield receiver
    receiver.server.shutdown()


def turn_revenue_red(org: Organisation) -> Kpi:
    results_recompute(by=None)
    revenue = Kpi.objects.get(key="revenue")
    target_revise(
        kpi=revenue, by=org.admin, effective_from="2026-01", value=Decimal(10_000), reason="Grow"
    )
    results_refresh_kpi(key="revenue", by=org.admin)
    return revenue


def test_a_red_kpi_alerts_its_owner_by_mail_and_the_webhooks_once(
    org: Organisation, smtp_server: MailServer, hooks: Hooks
) -> None:
    alert_channel_create(
        kind="slack", label="Sales", url=f"{hooks.url}/slack", team_id=org.south.pk, by=org.admin
    )
    alert_channel_create(
        kind="teams", label="Company", url=f"{hooks.url}/teams", team_id=None, by=org.admin
    )
    alert_channel_create(
        kind="slack", label="North only", url=f"{hooks.url}/north", team_id=org.north.pk, by=None
    )
    turn_revenue_red(org)

    sent = send_alerts()
    again = send_alerts()

    assert [(alert.kpi.key, alert.reason) for alert in sent] == [("revenue", "red")]
    assert again == []
    assert [message["To"] for message in smtp_server.messages] == ["sam@example.com"]
    assert "off track" in str(smtp_server.messages[0]["Subject"])
    paths = sorted(path for path, _ in hooks.bodies)
    assert paths == ["/slack", "/teams"]
    bodies = dict(hooks.bodies)
    assert "Revenue" in bodies["/slack"]["text"]
    assert bodies["/teams"]["@type"] == "MessageCard"
    alert = AlertSent.objects.get()
    assert sorted(alert.delivered) == ["mail:sam@example.com", "slack:Sales", "teams:Company"]
    assert AuditEntry.objects.filter(action="kpi.alert").count() == 1


def test_a_kpi_forecast_to_miss_alerts_with_the_chance_in_the_owners_language(
    org: Organisation, smtp_server: MailServer
) -> None:
    results_recompute(by=None)
    org.manager.language = "zh-hant"
    org.manager.save()

    sent = send_alerts(kpi_keys=["conversion"], chance=lambda kpi, period: 0.18)

    assert [(alert.kpi.key, alert.reason) for alert in sent] == [("conversion", "forecast")]
    message = smtp_server.messages[0]
    assert message["To"] == "nora@example.com"
    assert "18%" in message.get_content()


def test_a_kpi_likely_to_meet_its_target_is_not_alerted(org: Organisation) -> None:
    results_recompute(by=None)

    assert send_alerts(kpi_keys=["conversion"], chance=lambda kpi, period: 0.8) == []


def test_a_webhook_that_refuses_is_recorded_and_the_mail_still_goes(
    org: Organisation, smtp_server: MailServer, hooks: Hooks
) -> None:
    hooks.status = 500
    alert_channel_create(
        kind="slack", label="Broken", url=f"{hooks.url}/x", team_id=None, by=org.admin
    )
    turn_revenue_red(org)

    (alert,) = send_alerts()

    assert alert.delivered == ["mail:sam@example.com"]
    assert alert.failed == ["slack:Broken"]


def test_a_webhook_to_an_internal_address_is_refused_when_it_is_added(
    org: Organisation,
) -> None:
    from headway.lib.http import UnsafeAddressError

    with pytest.raises(UnsafeAddressError):
        alert_channel_create(
            kind="slack", label="x", url="http://169.254.169.254/hook", team_id=None, by=org.admin
        )
