"""Discussions: comments on proposals, KPIs, goals and results, with @mentions, replies,
edits kept as revisions, and moderation by admins (a hidden comment is never deleted).

What a comment is about is a `subject_kind` and a `subject_key`: a proposal's id, a KPI's
key, a goal's key, or "<kpi key>@<period label>" for one result (the label of a period of
the KPI's grain, e.g. "conversion@2026-02").

Mentions. "@" followed by a handle mentions a person:
- a handle is letters, digits and `. _ + -`, optionally followed by "@" and a domain, so
  "@nora", "@nora.north" and "@nora@example.com" are handles (a full stop ending the
  handle ends the sentence: "@nora." is "@nora");
- the "@" must not follow a letter, a digit or one of `. _ % + - @` (so that an e-mail
  address written in the text mentions nobody), but may follow anything else, Chinese
  text included ("請@nora看看" mentions nora);
- the handle names the active person whose username or e-mail address it is (ignoring
  case); failing that, a handle without a domain names the one active person whose
  e-mail address starts with "<handle>@". When several people's addresses do, nobody is
  mentioned: write the whole address;
- anything else stays plain text.
The mentioned people are stored with the comment and notified once per comment (an edit
notifies only people it newly mentions).
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from headway.accounts.models import Organization, User
from headway.audit.errors import NotAllowed, check_version
from headway.audit.services import audit_record, snapshot
from headway.goals.models import Goal
from headway.kpis.models import Kpi
from headway.lib import paths
from headway.lib.periods import PeriodLabelError, parse_period_label
from headway.notifications.models import Kind
from headway.notifications.services import notify
from headway.participation.models import Comment, CommentRevision, Proposal, SubjectKind
from headway.participation.permissions import can_comment, can_edit_comment, can_moderate

MAX_TEXT = 5000
MAX_REASON = 2000
# Mentions read from one comment at most (the rest stay plain text).
MAX_MENTIONS = 50
EXCERPT = 140

MENTION = re.compile(
    r"(?<![A-Za-z0-9._%+@-])@([A-Za-z0-9._+-]+(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?)"
)


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise NotAllowed(message)


# -- mentions ------------------------------------------------------------------------------


def mention_handles(text: str) -> list[str]:
    """The handles written after "@" in a text, lower-cased, each once, in order."""
    found: list[str] = []
    for match in MENTION.finditer(text):
        handle = match.group(1).rstrip(".").lower()
        if handle and handle not in found:
            found.append(handle)
    return found[:MAX_MENTIONS]


def mentioned_people(text: str) -> list[User]:
    """The active people a text mentions (see the module's rule), in the text's order."""
    handles = mention_handles(text)
    if not handles:
        return []
    query = Q()
    for handle in handles:
        query |= Q(username__iexact=handle) | Q(email__iexact=handle)
        if "@" not in handle:
            query |= Q(email__istartswith=f"{handle}@")
    candidates = list(User.objects.filter(query, is_active=True).order_by("pk"))
    people: list[User] = []
    for handle in handles:
        exact = [
            person
            for person in candidates
            if person.username.lower() == handle or person.email.lower() == handle
        ]
        if not exact and "@" not in handle:
            exact = [
                person for person in candidates if person.email.lower().startswith(f"{handle}@")
            ]
        if len(exact) == 1 and exact[0] not in people:
            people.append(exact[0])
    return people


# -- subjects ------------------------------------------------------------------------------


def subject_check(subject_kind: str, subject_key: str) -> str:
    """The subject's key as stored (a result's period label in its usual form), once it is
    known to exist; raises ValidationError naming the field at fault."""
    key = (subject_key or "").strip()
    if subject_kind not in SubjectKind.values:
        raise ValidationError(
            {"subject_kind": _("Comments are about a proposal, a KPI, a goal or a result.")}
        )
    if subject_kind == SubjectKind.PROPOSAL:
        if key.isdigit() and Proposal.objects.filter(pk=int(key)).exists():
            return str(int(key))
        raise ValidationError({"subject_key": _("There is no proposal %(key)s.") % {"key": key}})
    if subject_kind == SubjectKind.KPI:
        if Kpi.objects.filter(key=key).exists():
            return key
        raise ValidationError({"subject_key": _("There is no KPI %(key)s.") % {"key": key}})
    if subject_kind == SubjectKind.GOAL:
        if Goal.objects.filter(key=key).exists():
            return key
        raise ValidationError({"subject_key": _("There is no goal %(key)s.") % {"key": key}})
    kpi_key, at, label = key.partition("@")
    kpi = Kpi.objects.filter(key=kpi_key).first() if at else None
    if kpi is None:
        raise ValidationError(
            {
                "subject_key": _(
                    "A result is named “<KPI key>@<period>”, for a KPI that exists: %(key)s is not."
                )
                % {"key": key}
            }
        )
    try:
        period = parse_period_label(label, Organization.current().fiscal_year_start)
    except PeriodLabelError as error:
        raise ValidationError({"subject_key": str(error)}) from None
    if period.grain.value != kpi.grain:
        raise ValidationError(
            {
                "subject_key": _("%(label)s is not a period of the KPI %(key)s.")
                % {"label": label, "key": kpi.key}
            }
        )
    return f"{kpi.key}@{period.label}"


def subject_path(subject_kind: str, subject_key: str) -> str:
    """The page a subject is discussed on (paths: the web layer is above this one)."""
    if subject_kind == SubjectKind.PROPOSAL:
        return paths.proposal_path(int(subject_key))
    if subject_kind == SubjectKind.GOAL:
        return paths.goal_path(subject_key)
    if subject_kind == SubjectKind.RESULT:
        kpi_key, _at, label = subject_key.partition("@")
        return paths.kpi_path(kpi_key, period=label)
    return paths.kpi_path(subject_key)


def comment_path(comment: Comment) -> str:
    return f"{subject_path(comment.subject_kind, comment.subject_key)}#comment-{comment.pk}"


# -- notifications --------------------------------------------------------------------------


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1] + "…"


def _notify_mentioned(comment: Comment, people: list[User], by: User) -> set[int]:
    excerpt = _excerpt(comment.text)

    def text() -> str:
        return _("%(person)s mentioned you: “%(text)s”") % {"person": by, "text": excerpt}

    notify(
        people=people,
        kind=Kind.MENTION,
        text=text,
        url=comment_path(comment),
        actor=by,
        dedupe_key=f"comment:{comment.pk}:mention",
    )
    return {person.pk for person in people}


def _notify_added(comment: Comment, mentioned: list[User], by: User) -> None:
    """The mentioned people, the author of the comment replied to, and the author of the
    proposal discussed hear of a new comment: each once (a mention says most), never the
    writer themself."""
    told = _notify_mentioned(comment, mentioned, by) | {by.pk}
    excerpt = _excerpt(comment.text)
    reply_to = comment.reply_to
    if reply_to is not None and reply_to.author_id not in told:

        def reply_text() -> str:
            return _("%(person)s replied to your comment: “%(text)s”") % {
                "person": by,
                "text": excerpt,
            }

        notify(
            people=[reply_to.author],
            kind=Kind.REPLY,
            text=reply_text,
            url=comment_path(comment),
            actor=by,
        )
        told.add(reply_to.author_id)
    if comment.subject_kind == SubjectKind.PROPOSAL:
        proposal = Proposal.objects.select_related("author").get(pk=int(comment.subject_key))
        if proposal.author_id not in told:
            title = proposal.title

            def proposal_text() -> str:
                return _("%(person)s commented on your proposal “%(title)s”: “%(text)s”") % {
                    "person": by,
                    "title": title,
                    "text": excerpt,
                }

            notify(
                people=[proposal.author],
                kind=Kind.PROPOSAL,
                text=proposal_text,
                url=comment_path(comment),
                actor=by,
            )


# -- writes --------------------------------------------------------------------------------


def _clean_text(text: str, field: str = "text", limit: int = MAX_TEXT) -> str:
    cleaned = (text or "").strip()
    if not cleaned:
        raise ValidationError({field: _("Write something first.")})
    if len(cleaned) > limit:
        raise ValidationError(
            {
                field: _("Write at most %(limit)s characters (this has %(count)s).")
                % {"limit": f"{limit:,}", "count": f"{len(cleaned):,}"}
            }
        )
    return cleaned


def _brief(comment: Comment) -> dict[str, Any]:
    return {
        **snapshot(comment, ["subject_kind", "subject_key", "reply_to_id", "text"]),
        "mentions": sorted(comment.mentions.values_list("pk", flat=True)),
    }


def comment_add(
    *,
    by: User,
    subject_kind: str,
    subject_key: str,
    text: str,
    reply_to: Comment | None = None,
) -> Comment:
    """Anyone signed in comments on a proposal, a KPI, a goal or a result, or replies to
    a comment there; the people it mentions are stored and notified."""
    _require(can_comment(by), _("Sign in to take part in the discussion."))
    cleaned = _clean_text(text)
    key = subject_check(subject_kind, subject_key)
    if reply_to is not None:
        # As it is now: it may have been hidden since the page was read.
        reply_to = Comment.objects.select_related("author").get(pk=reply_to.pk)
        if (reply_to.subject_kind, reply_to.subject_key) != (subject_kind, key):
            raise ValidationError(
                {"reply_to": _("A reply belongs to the discussion of the comment it answers.")}
            )
        if reply_to.hidden_at is not None:
            raise ValidationError(
                {"reply_to": _("A comment hidden by a moderator cannot be replied to.")}
            )
    mentioned = mentioned_people(cleaned)
    with transaction.atomic():
        comment = Comment.objects.create(
            subject_kind=subject_kind,
            subject_key=key,
            author=by,
            reply_to=reply_to,
            text=cleaned,
        )
        comment.mentions.set(mentioned)
        audit_record(
            actor=by, action="participation.comment.add", target=comment, after=_brief(comment)
        )
        _notify_added(comment, mentioned, by)
    return comment


def _locked(comment: Comment) -> Comment:
    return Comment.objects.select_for_update().get(pk=comment.pk)


def comment_edit(
    *, comment: Comment, by: User, text: str, expected_version: int | None = None
) -> Comment:
    """The author changes their comment; the earlier text is kept as a revision, and the
    people it newly mentions are notified."""
    _require(
        getattr(by, "pk", None) == comment.author_id,
        _("Only the author of a comment may change it."),
    )
    cleaned = _clean_text(text)
    with transaction.atomic():
        current = _locked(comment)
        check_version(_("The comment"), expected_version, current.version)
        if not can_edit_comment(by, current):
            raise ValidationError({"text": _("A comment hidden by a moderator cannot be changed.")})
        if cleaned == current.text:
            return current  # nothing changed: nothing written
        before = _brief(current)
        earlier = set(current.mentions.values_list("pk", flat=True))
        CommentRevision.objects.create(comment=current, text=current.text)
        mentioned = mentioned_people(cleaned)
        current.text = cleaned
        current.edited_at = timezone.now()
        current.version += 1
        current.save()
        current.mentions.set(mentioned)
        audit_record(
            actor=by,
            action="participation.comment.edit",
            target=current,
            before=before,
            after=_brief(current),
        )
        _notify_mentioned(current, [p for p in mentioned if p.pk not in earlier], by)
    return current


def comment_hide(
    *, comment: Comment, by: User, reason: str, expected_version: int | None = None
) -> Comment:
    """An admin hides a comment, saying why: everyone sees that it was hidden and why,
    and only admins still read its text."""
    _require(can_moderate(by), _("Only an admin moderates comments."))
    cleaned = _clean_text(reason, "reason", MAX_REASON)
    with transaction.atomic():
        current = _locked(comment)
        check_version(_("The comment"), expected_version, current.version)
        if current.hidden_at is not None:
            raise ValidationError({"reason": _("This comment is hidden already.")})
        current.hidden_at = timezone.now()
        current.hidden_by = by
        current.hidden_reason = cleaned
        current.version += 1
        current.save()
        audit_record(
            actor=by,
            action="participation.comment.hide",
            target=current,
            before={"hidden": False},
            after={"hidden": True, "hidden_reason": cleaned},
            reason=cleaned,
        )
    return current


def comment_unhide(
    *, comment: Comment, by: User, reason: str = "", expected_version: int | None = None
) -> Comment:
    """An admin shows a hidden comment again (the audit log keeps that it was hidden)."""
    _require(can_moderate(by), _("Only an admin moderates comments."))
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON:
        _clean_text(reason, "reason", MAX_REASON)
    with transaction.atomic():
        current = _locked(comment)
        check_version(_("The comment"), expected_version, current.version)
        if current.hidden_at is None:
            raise ValidationError({"reason": _("This comment is not hidden.")})
        before = {"hidden": True, "hidden_reason": current.hidden_reason}
        current.hidden_at = None
        current.hidden_by = None
        current.hidden_reason = ""
        current.version += 1
        current.save()
        audit_record(
            actor=by,
            action="participation.comment.unhide",
            target=current,
            before=before,
            after={"hidden": False},
            reason=reason,
        )
    return current
