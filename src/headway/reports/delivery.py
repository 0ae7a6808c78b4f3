"""Sending the monthly report to its subscribers, and keeping each report as it was sent.

When a month closes (the worker looks on each of the first days of the next month, in the
organisation's time zone), the company's report and each team's report with subscribers is
made once per language, archived (`SentReport`: the HTML, the PDF and the Excel file) and
mailed as HTML with the PDF attached. A report already archived for its period, team and
language is never made again: resending takes the archived copy, so a report stays what
it was when it was sent.
"""

from __future__ import annotations

import datetime
import logging
import zoneinfo
from collections import defaultdict

from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from headway.accounts.models import Organization, Team, User
from headway.audit.services import audit_record
from headway.jobs.worker import JobContext
from headway.lib.periods import Grain, period_containing
from headway.reports.builder import build_report
from headway.reports.models import ReportSubscription, SentReport
from headway.reports.render import report_html, report_pdf, report_xlsx

logger = logging.getLogger("headway.reports")


def subscription_set(*, user: User, team: Team | None, language: str, by: User) -> None:
    """Subscribes `user` to the company's (no team) or a team's report in a language; people
    manage their own subscriptions, admins anyone's."""
    from headway.accounts.permissions import is_admin
    from headway.audit.errors import NotAllowed

    if by != user and not is_admin(by):
        raise NotAllowed("people choose their own reports")
    with transaction.atomic():
        ReportSubscription.objects.update_or_create(
            user=user, team=team, defaults={"language": language}
        )
        audit_record(
            actor=by,
            action="report.subscribe",
            target=user,
            after={"team": team.key if team else None, "language": language},
        )


def subscription_remove(*, user: User, team: Team | None, by: User) -> None:
    from headway.accounts.permissions import is_admin
    from headway.audit.errors import NotAllowed

    if by != user and not is_admin(by):
        raise NotAllowed("people choose their own reports")
    with transaction.atomic():
        removed, _count = ReportSubscription.objects.filter(user=user, team=team).delete()
        if removed:
            audit_record(
                actor=by,
                action="report.unsubscribe",
                target=user,
                after={"team": team.key if team else None},
            )


def archived_report(*, period: str, team: Team | None, language: str) -> SentReport:
    """The report of the period, team and language as archived; made and archived now
    when it is not yet."""
    found = SentReport.objects.filter(period=period, team=team, language=language).first()
    if found is not None:
        return found
    report = build_report(period=period, team=team, language=language)
    made = SentReport(
        period=period,
        team=team,
        language=language,
        made_at=timezone.now(),
        html=report_html(report),
        pdf=report_pdf(report),
        xlsx=report_xlsx(report),
    )
    try:
        with transaction.atomic():
            made.save()
            audit_record(
                actor=None,
                action="report.archive",
                target=made,
                after={"period": period, "team": team.key if team else None, "language": language},
            )
    except IntegrityError:
        # Made at the same moment by another worker: theirs is the archived one.
        return SentReport.objects.get(period=period, team=team, language=language)
    return made


def _file_name(sent: SentReport) -> str:
    scope = sent.team.key if sent.team else "company"
    return f"headway-report-{sent.period}-{scope}-{sent.language}.pdf"


def send_report(*, period: str, team: Team | None) -> list[SentReport]:
    """Mails the report of `period` for the company (no team) or a team to its subscribers,
    in each one's language; returns the archived reports, with whom each reached."""
    subscribers: dict[str, list[User]] = defaultdict(list)
    for subscription in ReportSubscription.objects.filter(team=team).select_related("user"):
        person = subscription.user
        if person.is_active and person.email:
            subscribers[subscription.language].append(person)
    sent = []
    for language, people in sorted(subscribers.items()):
        archived = archived_report(period=period, team=team, language=language)
        already = set(archived.recipients)
        with translation.override(language):
            scope = team.name if team else _("the company")
            subject = _("Headway: the KPI report of %(period)s for %(scope)s") % {
                "period": period,
                "scope": scope,
            }
            text = _(
                "The KPI report of %(period)s for %(scope)s is attached as a PDF and shown below."
            ) % {"period": period, "scope": scope}
        reached, failed = list(archived.recipients), list(archived.failed)
        for person in people:
            if person.email in already:
                continue
            message = EmailMultiAlternatives(subject, text, None, [person.email])
            message.attach_alternative(archived.html, "text/html")
            message.attach(_file_name(archived), bytes(archived.pdf), "application/pdf")
            try:
                message.send()
                reached.append(person.email)
            except OSError as error:
                logger.warning("report mail to %s failed: %s", person.email, error)
                failed.append(person.email)
        SentReport.objects.filter(pk=archived.pk).update(recipients=reached, failed=failed)
        archived.recipients, archived.failed = reached, failed
        sent.append(archived)
    return sent


def closed_month(now: datetime.datetime) -> str | None:
    """The month that closed, when `now` is in the first three days of the next one (in
    the organisation's time zone); else None."""
    organization = Organization.current()
    try:
        zone: datetime.tzinfo = zoneinfo.ZoneInfo(organization.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = datetime.UTC
    today = now.astimezone(zone).date()
    if today.day > 3:
        return None
    current = period_containing(Grain.MONTH, today, organization.fiscal_year_start)
    return current.shift(-1).label


def send_monthly_reports(period: str) -> int:
    """The company's report of the period and each team's with subscribers go out, each
    to whom it has not reached yet. Returns how many archived reports reached someone."""
    scopes: list[Team | None] = [None]
    team_ids = ReportSubscription.objects.filter(team__isnull=False).values_list("team", flat=True)
    scopes += list(Team.objects.filter(pk__in=set(team_ids)).order_by("key"))
    count = 0
    for team in scopes:
        for archived in send_report(period=period, team=team):
            count += 1 if archived.recipients else 0
    return count


MONTHLY_JOB = "reports.monthly"


def schedule_monthly_reports(now: datetime.datetime) -> None:
    """Queues the month's reports once the month closed, until they are archived."""
    from headway.jobs.services import job_enqueue

    period = closed_month(now)
    if period is None or not ReportSubscription.objects.exists():
        return
    languages = set(
        ReportSubscription.objects.filter(team__isnull=True).values_list("language", flat=True)
    )
    archived = set(
        SentReport.objects.filter(period=period, team__isnull=True).values_list(
            "language", flat=True
        )
    )
    if languages <= archived and SentReport.objects.filter(period=period).exists():
        return
    job_enqueue(kind=MONTHLY_JOB, payload={"period": period}, dedupe_key=f"reports:{period}")


def run_monthly_reports(context: JobContext) -> None:
    """The worker's job: send the reports of the month that closed."""
    send_monthly_reports(str(context.job.payload["period"]))
