"""Employees' proposals on a review meeting's agenda.

Reviews reads these through a setting (a function's dotted path), so that neither app
imports the other (architecture.md, layer 6). A meeting is duck-typed: `team_id` is its
team, or None for the whole organisation.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from django.utils.translation import gettext as _

from headway.accounts.selectors import team_and_below
from headway.participation.models import Proposal, ProposalStatus
from headway.participation.permissions import proposal_team_id

# Accepted proposals waiting to be applied come before those still under review.
ORDER: dict[str, int] = {ProposalStatus.ACCEPTED: 0, ProposalStatus.UNDER_REVIEW: 1}


def _number(value: Any) -> str | None:
    return None if value is None else str(value)


def proposal_agenda_entries(meeting: Any) -> list[dict[str, Any]]:
    """The proposals a review meeting should look at: those accepted but not applied yet,
    and those under review; in a team's meeting only the proposals of that team and the
    teams below it (a proposal about a KPI belongs to the KPI's team), in an
    organisation-wide meeting all of them. Most supported first within each status.

    Each entry: {"kpi_id": the KPI's id or None (a new KPI), "title": ..., "facts":
    {"proposal": id, "kind", "status", "votes", "target_value" (text or None),
    "effective_from"}}."""
    found = (
        Proposal.objects.filter(
            Q(status=ProposalStatus.ACCEPTED, applied_at__isnull=True)
            | Q(status=ProposalStatus.UNDER_REVIEW)
        )
        .select_related("kpi")
        .annotate(vote_count=Count("votes", distinct=True))
    )
    team_id = getattr(meeting, "team_id", None)
    teams = team_and_below(team_id) if team_id is not None else None
    chosen = [
        proposal for proposal in found if teams is None or proposal_team_id(proposal) in teams
    ]
    chosen.sort(key=lambda proposal: (ORDER[proposal.status], -proposal.vote_count, proposal.pk))
    return [
        {
            "kpi_id": proposal.kpi_id,
            "title": _("Proposal: %(title)s") % {"title": proposal.title},
            "facts": {
                "proposal": proposal.pk,
                "kind": proposal.kind,
                "status": proposal.status,
                "votes": proposal.vote_count,
                "target_value": _number(proposal.target_value),
                "effective_from": proposal.effective_from,
            },
        }
        for proposal in chosen
    ]
