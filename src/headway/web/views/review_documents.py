"""A review meeting's documents: the pre-read pack and the minutes, as pages of the site and
as PDF downloads, and the minutes mailed to the participants.

Every signed-in person may read them (as every KPI page). Sending the minutes is for the
meeting's organisers; `headway.reports.reviews.minutes_send` checks it before any mail
goes out. The minutes exist once the meeting has decided: before that their page says so,
with a 404 status (there is no such document yet), and the PDF is a plain 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from headway.accounts.models import User
from headway.engine.problems import HeadwayError
from headway.reports.builder import report_language
from headway.reports.reviews import (
    MINUTES_STATUSES,
    MinutesNotReady,
    document_filename,
    minutes,
    minutes_pdf,
    minutes_recipients,
    minutes_send,
    pre_read,
    pre_read_pdf,
    render_minutes_html,
    render_pre_read_html,
    review_style,
)
from headway.reviews.models import Meeting
from headway.reviews.services import can_organise


def _meeting(pk: int) -> Meeting:
    return get_object_or_404(Meeting.objects.select_related("cycle", "team", "chair"), pk=pk)


def _language(request: HttpRequest) -> str:
    """The document's language: ?language=, else the page's; an unknown one is a 404."""
    try:
        return report_language(request.GET.get("language") or get_language() or "en")
    except HeadwayError as error:
        raise Http404(str(error)) from None


def _pdf(meeting: Meeting, kind: str, language: str, content: bytes) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    filename = document_filename(meeting, kind, language, "pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
def preread_page(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _meeting(pk)
    pack = pre_read(meeting, _language(request))
    context = {
        "meeting": meeting,
        "pack": pack,
        "body": render_pre_read_html(pack, standalone=False),
        "style": review_style(),
        "minutes_ready": meeting.status in MINUTES_STATUSES,
    }
    return render(request, "web/review_preread.html", context)


@login_required
def preread_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _meeting(pk)
    language = _language(request)
    return _pdf(meeting, "pre-read", language, pre_read_pdf(meeting, language))


@login_required
def minutes_page(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _meeting(pk)
    language = _language(request)
    user = request.user
    assert isinstance(user, User)
    try:
        record = minutes(meeting, language)
    except MinutesNotReady:
        context = {"meeting": meeting, "status": meeting.get_status_display()}
        return render(request, "web/review_minutes.html", context, status=404)
    context = {
        "meeting": meeting,
        "minutes": record,
        "body": render_minutes_html(record, standalone=False),
        "style": review_style(),
        "may_send": can_organise(user, meeting),
        "recipients": minutes_recipients(meeting),
    }
    return render(request, "web/review_minutes.html", context)


@login_required
def minutes_pdf_download(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = _meeting(pk)
    language = _language(request)
    try:
        content = minutes_pdf(meeting, language)
    except MinutesNotReady:
        raise Http404(_("The minutes exist once the meeting has decided.")) from None
    return _pdf(meeting, "minutes", language, content)


@require_POST
@login_required
def minutes_send_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Mails the minutes to the participants; NotAllowed (not an organiser) is a 403."""
    meeting = _meeting(pk)
    user = request.user
    assert isinstance(user, User)
    back = reverse("web:review_meeting", args=[meeting.pk])
    try:
        reached = set(minutes_send(meeting, user))
    except ValidationError as error:
        for problem in error.messages:
            messages.error(request, problem)
        return redirect(back)
    people = minutes_recipients(meeting)
    got = [str(person) for person in people if person.email in reached]
    missed = [str(person) for person in people if person.email not in reached]
    if got:
        messages.success(
            request, _("The minutes were sent to: %(people)s.") % {"people": ", ".join(got)}
        )
    if missed:
        messages.error(
            request,
            _("The minutes could not be delivered to: %(people)s.") % {"people": ", ".join(missed)},
        )
    if not people:
        messages.error(request, _("No participant has an e-mail address to send the minutes to."))
    return redirect(back)
