"""Discussions on proposals, KPIs, goals and results (one KPI's period): the thread shown
on each of those pages (`web/_discussion.html`), and the forms that write to it.

Everything is decided and saved by `headway.participation.comments`. A comment, a reply,
an edit, hiding and showing again are plain POSTs that come back to the subject's page at
the comment (`#comment-<id>`, the same address the notifications link to). When the
service refuses what was typed (empty, too long), nothing is written and the discussion is
shown again on a page of its own, the text kept and the error beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from headway.accounts.models import User
from headway.audit.errors import ConflictError
from headway.goals.models import Goal
from headway.kpis.models import Kpi
from headway.participation import comments as service
from headway.participation.models import Comment, CommentRevision, Proposal, SubjectKind
from headway.participation.permissions import can_comment
from headway.participation.selectors import ThreadComment, thread
from headway.reports.formatting import period_name
from headway.web.forms import HeadwayForm, service_errors
from headway.web.views.common import CONFLICT_MESSAGE, require

# How many people the form suggests mentioning.
MAX_HINTS = 6


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


# -- forms -----------------------------------------------------------------------------------
# The fields are lenient: the service says what is wrong (empty, too long) in the reader's
# language, and the form shows it beside the field.


class CommentForm(HeadwayForm):
    text = forms.CharField(
        label=gettext_lazy("Your comment"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": service.MAX_TEXT}),
    )


class ReplyForm(HeadwayForm):
    text = forms.CharField(
        label=gettext_lazy("Your reply"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": service.MAX_TEXT}),
    )


class EditForm(HeadwayForm):
    text = forms.CharField(
        label=gettext_lazy("The comment"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": service.MAX_TEXT}),
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


class HideForm(HeadwayForm):
    reason = forms.CharField(
        label=gettext_lazy("Why it is hidden"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": service.MAX_REASON}),
        help_text=gettext_lazy("Everyone sees that it was hidden and why; admins still read it."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


class UnhideForm(HeadwayForm):
    reason = forms.CharField(
        label=gettext_lazy("Why it is shown again (optional)"),
        required=False,
        widget=forms.TextInput(attrs={"maxlength": service.MAX_REASON}),
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


# -- mentions --------------------------------------------------------------------------------


def _mentioned(handle: str, people: Iterable[User]) -> User | None:
    """The person among a comment's mentions whom `handle` names (the service's rule)."""
    people = list(people)
    for person in people:
        if person.username.lower() == handle or person.email.lower() == handle:
            return person
    if "@" not in handle:
        found = [person for person in people if person.email.lower().startswith(f"{handle}@")]
        if len(found) == 1:
            return found[0]
    return None


def comment_html(text: str, people: Iterable[User]) -> SafeString:
    """A comment's text, escaped, its line breaks kept and the people it mentions
    highlighted (an "@" that mentions nobody stays plain text)."""
    people = list(people)
    parts: list[str] = []
    last = 0
    for match in service.MENTION.finditer(text):
        raw = match.group(1)
        handle = raw.rstrip(".")
        person = _mentioned(handle.lower(), people)
        if person is None:
            continue
        parts.append(escape(text[last : match.start()]))
        parts.append(
            format_html(
                '<span class="mention" title="{}">@{}</span>{}',
                str(person),
                handle,
                raw[len(handle) :],
            )
        )
        last = match.end()
    parts.append(escape(text[last:]))
    # Every piece is escaped or built by format_html: only the line breaks are added.
    return mark_safe("".join(parts).replace("\n", "<br>\n"))  # noqa: S308


def handle_of(person: User, people: Iterable[User]) -> str:
    """What to write after "@" to mention `person`: the start of their e-mail address,
    or the whole address when another of `people` shares that start. (Without a query per
    page: someone outside `people` with the same start at another domain would make the
    short form name nobody, and the service then mentions nobody rather than a stranger.)"""
    local = person.email.split("@")[0].lower()
    shared = [
        other
        for other in people
        if other.pk != person.pk and other.email.lower().startswith(f"{local}@")
    ]
    return person.email.lower() if shared else local


# -- the thread as a page shows it ------------------------------------------------------------


@dataclass
class ShownRevision:
    revision: CommentRevision
    html: SafeString


@dataclass
class ShownComment:
    """A comment of the thread with its text ready to show and the forms its reader may
    use on it (bound, with errors, after a refused POST)."""

    item: ThreadComment
    html: SafeString | None
    revisions: list[ShownRevision]
    reply_form: ReplyForm | None
    edit_form: EditForm | None
    hide_form: HideForm | None
    unhide_form: UnhideForm | None
    replies: list[ShownComment] = field(default_factory=list)
    # Which of its forms to open (the one that was refused).
    open_form: str = ""

    @property
    def comment(self) -> Comment:
        return self.item.comment


@dataclass(frozen=True)
class Hint:
    handle: str
    person: User


@dataclass
class Discussion:
    """What `web/_discussion.html` shows: a subject's thread and its forms."""

    kind: str
    key: str
    title: str
    comments: list[ShownComment]
    count: int
    can_comment: bool
    form: CommentForm | None
    hints: list[Hint]
    # The id of the section, unique on the page.
    anchor: str = "discussion"


def _count(shown: list[ShownComment]) -> int:
    return sum(1 + _count(item.replies) for item in shown)


def _show(
    item: ThreadComment,
    viewer: Any,
    bound: dict[str, forms.Form],
    may_comment: bool,
) -> ShownComment:
    comment = item.comment
    pk = comment.pk
    mentions = list(comment.mentions.all())
    open_form = next(
        (name for name in ("reply", "edit", "hide", "unhide") if f"{name}-{pk}" in bound), ""
    )

    def form(name: str, kind: type[forms.Form], initial: dict[str, Any]) -> Any:
        found = bound.get(f"{name}-{pk}")
        return found if found is not None else kind(initial=initial, auto_id=f"{name}-{pk}-%s")

    version = {"version": comment.version}
    return ShownComment(
        item=item,
        html=comment_html(item.text, mentions) if item.text is not None else None,
        revisions=[
            ShownRevision(revision=revision, html=comment_html(revision.text, []))
            for revision in item.revisions
        ],
        # A refused reply is shown with its error, even under a comment hidden meanwhile.
        reply_form=(
            form("reply", ReplyForm, {})
            if may_comment and (not item.hidden or f"reply-{pk}" in bound)
            else None
        ),
        edit_form=(
            form("edit", EditForm, {"text": comment.text, **version}) if item.can_edit else None
        ),
        hide_form=(
            form("hide", HideForm, version) if item.can_moderate and not item.hidden else None
        ),
        unhide_form=(
            form("unhide", UnhideForm, version) if item.can_moderate and item.hidden else None
        ),
        replies=[_show(reply, viewer, bound, may_comment) for reply in item.replies],
        open_form=open_form,
    )


def _authors(shown: list[ShownComment]) -> list[User]:
    found: list[User] = []
    for item in shown:
        found.append(item.item.author)
        found.extend(_authors(item.replies))
    return found


def discussion_for(
    request: HttpRequest,
    kind: str,
    key: str,
    *,
    title: str = "",
    people: Iterable[User | None] = (),
    bound: dict[str, forms.Form] | None = None,
    anchor: str = "discussion",
) -> Discussion:
    """The discussion of a subject as the signed-in reader sees it. `people` are those
    the form suggests mentioning (e.g. a KPI's owner) besides those who wrote in it;
    `bound` holds the forms refused by a POST, by name ("new", "reply-<id>", ...)."""
    viewer = request.user
    bound = bound or {}
    may_comment = can_comment(viewer)
    shown = [_show(item, viewer, bound, may_comment) for item in thread(kind, key, viewer)]
    candidates: list[User] = []
    for person in [*people, *_authors(shown)]:
        if (
            person is not None
            and person.pk != getattr(viewer, "pk", None)
            and person.is_active
            and all(person.pk != other.pk for other in candidates)
        ):
            candidates.append(person)
    candidates = candidates[:MAX_HINTS]
    form: CommentForm | None = None
    if may_comment:
        found = bound.get("new")
        form = found if isinstance(found, CommentForm) else CommentForm(auto_id=f"{anchor}-new-%s")
    return Discussion(
        kind=kind,
        key=key,
        title=title or _("Discussion"),
        comments=shown,
        count=_count(shown),
        can_comment=may_comment,
        form=form,
        hints=[Hint(handle=handle_of(person, candidates), person=person) for person in candidates],
        anchor=anchor,
    )


# -- what a subject is, for the page shown after a refused POST --------------------------------


@dataclass(frozen=True)
class Subject:
    kind: str
    key: str
    title: str
    path: str
    people: tuple[User | None, ...] = ()


def subject_of(kind: str, key: str) -> Subject:
    """The subject a form names, or 404 when there is none."""
    try:
        key = service.subject_check(kind, key)
    except ValidationError:
        raise Http404 from None
    path = service.subject_path(kind, key)
    if kind == SubjectKind.PROPOSAL:
        proposal = Proposal.objects.select_related("author").get(pk=int(key))
        return Subject(kind, key, proposal.title, path, (proposal.author,))
    if kind == SubjectKind.GOAL:
        goal = Goal.objects.select_related("owner").get(key=key)
        return Subject(kind, key, goal.title, path, (goal.owner,))
    kpi_key, _at, label = key.partition("@")
    kpi = Kpi.objects.select_related("owner").get(key=kpi_key)
    if kind == SubjectKind.RESULT:
        title = _("%(kpi)s in %(period)s") % {"kpi": kpi.name, "period": period_name(label)}
        return Subject(kind, key, title, path, (kpi.owner,))
    return Subject(kind, key, kpi.name, path, (kpi.owner,))


def _again(
    request: HttpRequest, subject: Subject, bound: dict[str, forms.Form], anchor: str
) -> HttpResponse:
    """The discussion on a page of its own, with the refused form and its errors."""
    discussion = discussion_for(
        request, subject.kind, subject.key, people=subject.people, bound=bound, anchor=anchor
    )
    context = {"subject": subject, "discussion": discussion}
    return render(request, "web/discussion.html", context)


def _to_comment(comment: Comment) -> HttpResponse:
    return redirect(service.comment_path(comment))


def _comment(pk: int) -> Comment:
    return get_object_or_404(Comment.objects.select_related("author"), pk=pk)


def _subject_of_comment(comment: Comment) -> Subject:
    return subject_of(comment.subject_kind, comment.subject_key)


# -- writes ----------------------------------------------------------------------------------


@require_POST
@login_required
def comment_add(request: HttpRequest) -> HttpResponse:
    """A new comment on a subject, or a reply (`reply_to`) in its discussion."""
    user = _user(request)
    require(can_comment(user))
    subject = subject_of(request.POST.get("subject_kind", ""), request.POST.get("subject_key", ""))
    anchor = request.POST.get("anchor", "discussion")
    if not anchor.replace("-", "").isalnum():
        anchor = "discussion"
    reply_to: Comment | None = None
    raw = request.POST.get("reply_to", "")
    if raw:
        if not raw.isdigit():
            raise Http404
        reply_to = _comment(int(raw))
    name = f"reply-{reply_to.pk}" if reply_to is not None else "new"
    kind: type[forms.Form] = ReplyForm if reply_to is not None else CommentForm
    form = kind(
        request.POST,
        auto_id=f"{name}-%s" if reply_to is not None else f"{anchor}-new-%s",
    )
    if form.is_valid():
        try:
            comment = service.comment_add(
                by=user,
                subject_kind=subject.kind,
                subject_key=subject.key,
                text=form.cleaned_data["text"],
                reply_to=reply_to,
            )
        except ValidationError as error:
            service_errors(form, error, {"reply_to": "text"})
        else:
            messages.success(
                request,
                _("Your reply was added.")
                if reply_to is not None
                else _("Your comment was added."),
            )
            return _to_comment(comment)
    return _again(request, subject, {name: form}, anchor)


@require_POST
@login_required
def comment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The author changes their comment (the earlier text is kept)."""
    user = _user(request)
    comment = _comment(pk)
    require(comment.author_id == user.pk)
    form = EditForm(request.POST, auto_id=f"edit-{pk}-%s")
    if form.is_valid():
        try:
            comment = service.comment_edit(
                comment=comment,
                by=user,
                text=form.cleaned_data["text"],
                expected_version=form.cleaned_data["version"],
            )
        except ConflictError:
            form.add_error(None, CONFLICT_MESSAGE)
        except ValidationError as error:
            service_errors(form, error, {})
        else:
            messages.success(request, _("Your comment was changed."))
            return _to_comment(comment)
    return _again(request, _subject_of_comment(comment), {f"edit-{pk}": form}, "discussion")


def _moderate(
    request: HttpRequest,
    pk: int,
    kind: type[HideForm] | type[UnhideForm],
    name: str,
    change: Callable[..., Comment],
    done: str,
) -> HttpResponse:
    """Hides a comment or shows it again (`change`, a service taking a reason): on the
    comment's page when done, or the form again with why it was refused."""
    user = _user(request)
    comment = _comment(pk)
    form = kind(request.POST, auto_id=f"{name}-{pk}-%s")
    if form.is_valid():
        try:
            comment = change(
                comment=comment,
                by=user,
                reason=form.cleaned_data["reason"],
                expected_version=form.cleaned_data["version"],
            )
        except ConflictError:
            form.add_error(None, CONFLICT_MESSAGE)
        except ValidationError as error:
            service_errors(form, error, {})
        else:
            messages.success(request, done)
            return _to_comment(comment)
    return _again(request, _subject_of_comment(comment), {f"{name}-{pk}": form}, "discussion")


@require_POST
@login_required
def comment_hide(request: HttpRequest, pk: int) -> HttpResponse:
    """An admin hides a comment, saying why (it is never deleted)."""
    return _moderate(
        request, pk, HideForm, "hide", service.comment_hide, _("The comment is hidden.")
    )


@require_POST
@login_required
def comment_unhide(request: HttpRequest, pk: int) -> HttpResponse:
    """An admin shows a hidden comment again."""
    return _moderate(
        request, pk, UnhideForm, "unhide", service.comment_unhide, _("The comment is shown again.")
    )
