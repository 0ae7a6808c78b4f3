"""Reads of proposals and discussions for the pages, in a fixed, small number of queries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from headway.accounts.models import Team, User
from headway.accounts.selectors import team_and_below
from headway.kpis.models import Kpi
from headway.participation.models import (
    Comment,
    CommentRevision,
    Proposal,
    ProposalStatus,
    SubjectKind,
    Vote,
)
from headway.participation.permissions import (
    can_apply,
    can_decide,
    can_edit_comment,
    can_edit_proposal,
    can_moderate,
    can_vote,
)
from headway.participation.proposals import TRANSITIONS, VOTING_STATUSES

# -- discussions ---------------------------------------------------------------------------


@dataclass
class ThreadComment:
    """A comment as a reader sees it. A hidden comment shows everyone that a moderator
    hid it and why (`hidden_note`); its text and revisions only to admins."""

    comment: Comment
    text: str | None
    hidden: bool
    hidden_note: str
    revisions: list[CommentRevision]
    can_edit: bool
    can_moderate: bool
    replies: list[ThreadComment] = field(default_factory=list)

    @property
    def author(self) -> User:
        return self.comment.author

    @property
    def edited(self) -> bool:
        return self.comment.edited_at is not None


def thread(subject_kind: str, subject_key: str, viewer: Any) -> list[ThreadComment]:
    """The discussion of a subject: comments in the order written, each with its replies
    (and theirs) in order."""
    comments = list(
        Comment.objects.filter(subject_kind=subject_kind, subject_key=subject_key)
        .select_related("author", "hidden_by")
        .prefetch_related("revisions", "mentions")
        .order_by("created_at", "pk")
    )
    moderator = can_moderate(viewer)
    shown: dict[int, ThreadComment] = {}
    for comment in comments:
        hidden = comment.hidden_at is not None
        readable = not hidden or moderator
        shown[comment.pk] = ThreadComment(
            comment=comment,
            text=comment.text if readable else None,
            hidden=hidden,
            hidden_note=(
                _("Hidden by a moderator: %(reason)s") % {"reason": comment.hidden_reason}
                if hidden
                else ""
            ),
            revisions=list(comment.revisions.all()) if readable else [],
            can_edit=can_edit_comment(viewer, comment),
            can_moderate=moderator,
        )
    roots: list[ThreadComment] = []
    for comment in comments:
        parent = shown.get(comment.reply_to_id) if comment.reply_to_id is not None else None
        if parent is None:
            roots.append(shown[comment.pk])
        else:
            parent.replies.append(shown[comment.pk])
    return roots


def comment_count(subject_kind: str, subject_key: str) -> int:
    return Comment.objects.filter(subject_kind=subject_kind, subject_key=subject_key).count()


# -- proposals -----------------------------------------------------------------------------


def proposals(
    status: str | Iterable[str] | None = None, team: Team | None = None
) -> QuerySet[Proposal]:
    """Proposals, newest first, each with `vote_count`: of some status(es), and of a
    team and the teams below it (a proposal about a KPI counts for the KPI's team)."""
    found = (
        Proposal.objects.select_related("author", "kpi", "goal", "team", "merged_into")
        .annotate(vote_count=Count("votes", distinct=True))
        .order_by("-created_at", "-pk")
    )
    if status is not None:
        statuses = [status] if isinstance(status, str) else list(status)
        found = found.filter(status__in=statuses)
    if team is not None:
        teams = team_and_below(team.pk)
        found = found.filter(Q(kpi__isnull=True, team_id__in=teams) | Q(kpi__team_id__in=teams))
    return found


def kpi_proposals(kpi: Kpi) -> QuerySet[Proposal]:
    """Proposals about a KPI (a target change or its retirement), or that made it."""
    return (
        Proposal.objects.filter(Q(kpi=kpi) | Q(applied_kpi=kpi))
        .select_related("author")
        .annotate(vote_count=Count("votes", distinct=True))
        .order_by("-created_at", "-pk")
    )


@dataclass
class ProposalDetail:
    """A proposal with its support, what it became, and what the reader may do with it."""

    proposal: Proposal
    votes: int
    voted: bool
    supporters: list[User]
    merged: list[Proposal]
    comments: int
    can_vote: bool
    can_edit: bool
    can_decide: bool
    can_apply: bool
    # The statuses the reader may set it to (empty unless they decide on it).
    next_statuses: list[str]

    @property
    def applied(self) -> bool:
        return self.proposal.applied_at is not None


def proposal_detail(proposal: Proposal, viewer: Any) -> ProposalDetail:
    proposal = Proposal.objects.select_related(
        "author",
        "kpi",
        "kpi__team",
        "goal",
        "team",
        "merged_into",
        "status_by",
        "applied_kpi",
        "applied_target",
        "applied_by",
        "idea",
    ).get(pk=proposal.pk)
    supporters = [
        vote.person
        for vote in Vote.objects.filter(proposal=proposal)
        .select_related("person")
        .order_by("created_at", "pk")
    ]
    viewer_id = getattr(viewer, "pk", None)
    applied = proposal.applied_at is not None
    deciding = can_decide(viewer, proposal) and not applied
    return ProposalDetail(
        proposal=proposal,
        votes=len(supporters),
        voted=any(person.pk == viewer_id for person in supporters),
        supporters=supporters,
        merged=list(proposal.merged.select_related("author").order_by("created_at", "pk")),
        comments=comment_count(SubjectKind.PROPOSAL, str(proposal.pk)),
        can_vote=can_vote(viewer) and proposal.status in VOTING_STATUSES,
        can_edit=can_edit_proposal(viewer, proposal),
        can_decide=deciding,
        can_apply=(
            proposal.status == ProposalStatus.ACCEPTED
            and not applied
            and can_apply(viewer, proposal)
        ),
        next_statuses=(
            [status for status in ProposalStatus.values if status in TRANSITIONS[proposal.status]]
            if deciding
            else []
        ),
    )
