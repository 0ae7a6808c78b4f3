"""The monthly report goes to its subscribers over SMTP, each in their language with the
PDF attached, once; the archived report stays as it was sent."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from headway.accounts.models import Team
from headway.audit.errors import NotAllowed
from headway.jobs.models import Job
from headway.jobs.worker import Worker
from headway.kpis.models import Kpi
from headway.kpis.services import target_revise
from headway.reports.delivery import (
    MONTHLY_JOB,
    closed_month,
    schedule_monthly_reports,
    send_report,
    subscription_set,
)
from headway.reports.models import SentReport
from headway.results.services import results_refresh_kpi
from tests.conftest import MailServer
from tests.web.conftest import Org

pytestmark = pytest.mark.slow


def test_each_subscriber_gets_the_report_in_their_language_with_the_pdf(
    org: Org, smtp_server: MailServer
) -> None:
    subscription_set(user=org.nora, team=None, language="zh-hant", by=org.nora)
    subscription_set(user=org.sam, team=None, language="en", by=org.sam)

    sent = send_report(period="2024-03", team=None)

    assert sorted(item.language for item in sent) == ["en", "zh-hant"]
    by_address = {message["To"]: message for message in smtp_server.messages}
    assert sorted(by_address) == ["nora@example.com", "sam@example.com"]
    chinese = by_address["nora@example.com"]
    assert "2024-03" in str(chinese["Subject"])
    html = chinese.get_body(preferencelist=("html",))
    assert html is not None
    assert "成交率" in html.get_content()
    (attachment,) = list(chinese.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content().startswith(b"%PDF")
    assert by_address["sam@example.com"]["Subject"].startswith("Headway: the KPI report")


def test_a_report_is_sent_once_and_stays_as_it_was_sent(org: Org, smtp_server: MailServer) -> None:
    subscription_set(user=org.sam, team=None, language="en", by=org.sam)
    first = send_report(period="2024-03", team=None)[0]
    win_rate = Kpi.objects.get(key="win_rate")
    target_revise(
        kpi=win_rate, by=org.ada, effective_from="2024-01", value=Decimal("0.99"), reason="Higher"
    )
    results_refresh_kpi(key="win_rate", by=org.ada)

    again = send_report(period="2024-03", team=None)[0]

    assert len(smtp_server.messages) == 1
    assert again.pk == first.pk
    assert SentReport.objects.get().html == first.html
    assert again.recipients == ["sam@example.com"]


def test_a_team_report_goes_to_the_teams_subscribers_only(
    org: Org, smtp_server: MailServer
) -> None:
    north = Team.objects.get(key="north")
    subscription_set(user=org.nora, team=north, language="en", by=org.nora)
    subscription_set(user=org.sam, team=None, language="en", by=org.sam)

    send_report(period="2024-03", team=north)

    assert [message["To"] for message in smtp_server.messages] == ["nora@example.com"]


def test_people_choose_their_own_reports_and_admins_anyones(org: Org) -> None:
    with pytest.raises(NotAllowed):
        subscription_set(user=org.nora, team=None, language="en", by=org.mo)
    subscription_set(user=org.nora, team=None, language="en", by=org.ada)


def test_the_worker_sends_the_closed_months_reports_once_in_the_first_days(
    org: Org, smtp_server: MailServer, settings: object
) -> None:
    subscription_set(user=org.sam, team=None, language="en", by=org.sam)
    # 2024-04-01 09:00 in Taipei: March has closed.
    now = datetime.datetime(2024, 4, 1, 1, tzinfo=datetime.UTC)
    assert closed_month(now) == "2024-03"
    assert closed_month(datetime.datetime(2024, 4, 9, tzinfo=datetime.UTC)) is None

    schedule_monthly_reports(now)
    Worker(name="test", schedule_seconds=3600).run(until_idle=True)
    schedule_monthly_reports(now)

    assert [job.status for job in Job.objects.filter(kind=MONTHLY_JOB)] == ["succeeded"]
    # (The worker's other schedules mail too: stale data, red KPIs.)
    reports = [
        message["To"] for message in smtp_server.messages if "KPI report" in message["Subject"]
    ]
    assert reports == ["sam@example.com"]
