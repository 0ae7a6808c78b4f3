"""Who may do what with proposals, votes and comments. Deny by default.

- Anyone signed in proposes and comments (viewers too: taking part is the point).
- Support votes: anyone signed in but viewers.
- Putting a proposal under review, accepting, declining or merging it: admins and the
  managers of its team (the KPI's team for a target change or a retirement, the chosen
  team for a new KPI, with the teams below the ones they manage), but never its author:
  nobody decides on their own proposal, not even an admin.
- Applying an accepted proposal: whoever the KPI services let write it (an admin, or a
  manager of the team); the author may apply once someone else has accepted it.
- Editing a proposal: its author, while it is open. Editing a comment: its author, while
  it is not hidden. Hiding and unhiding comments: admins.
"""

from __future__ import annotations

from typing import Any

from headway.accounts.choices import Role
from headway.accounts.permissions import can_edit_team_things, is_admin, is_signed_in
from headway.participation.models import Comment, Proposal, ProposalStatus


def proposal_team_id(proposal: Proposal) -> int | None:
    """The team that decides on a proposal: the KPI's (as it is now) for a proposal about
    a KPI, the chosen one for a new KPI (None: the whole organisation, admins only)."""
    if proposal.kpi_id is not None and proposal.kpi is not None:
        return proposal.kpi.team_id
    return proposal.team_id


def _same_person(user: Any, person_id: int | None) -> bool:
    return person_id is not None and getattr(user, "pk", None) == person_id


def can_propose(user: Any) -> bool:
    return is_signed_in(user)


def can_comment(user: Any) -> bool:
    return is_signed_in(user)


def can_vote(user: Any) -> bool:
    """Support votes count people who work with the KPIs: viewers only read."""
    return is_signed_in(user) and getattr(user, "role", "") != Role.VIEWER


def can_decide(user: Any, proposal: Proposal) -> bool:
    """Put under review, accept, decline, merge or reopen the proposal."""
    if not is_signed_in(user) or _same_person(user, proposal.author_id):
        return False
    return can_edit_team_things(user, proposal_team_id(proposal))


def can_apply(user: Any, proposal: Proposal) -> bool:
    """Write an accepted proposal through the KPI services (which check this again)."""
    return is_signed_in(user) and can_edit_team_things(user, proposal_team_id(proposal))


def can_edit_proposal(user: Any, proposal: Proposal) -> bool:
    return (
        is_signed_in(user)
        and _same_person(user, proposal.author_id)
        and proposal.status == ProposalStatus.OPEN
    )


def can_edit_comment(user: Any, comment: Comment) -> bool:
    return (
        is_signed_in(user) and _same_person(user, comment.author_id) and comment.hidden_at is None
    )


def can_moderate(user: Any) -> bool:
    """Hide and unhide comments (with a reason; nothing is ever deleted)."""
    return is_admin(user)
