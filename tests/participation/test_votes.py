"""Support votes: one per person, withdrawn at will, while a proposal is being considered;
viewers do not vote."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from headway.accounts.models import User
from headway.audit.errors import NotAllowed
from headway.kpis.models import Kpi
from headway.participation.models import Proposal, ProposalKind, ProposalStatus, Vote
from headway.participation.proposals import (
    proposal_accept,
    proposal_create,
    proposal_set_status,
    vote_add,
    vote_withdraw,
)
from headway.participation.selectors import proposal_detail
from tests.app.conftest import Organisation
from tests.participation.conftest import audit_rows


@pytest.fixture
def proposal(org: Organisation) -> Proposal:
    return proposal_create(
        by=org.member,
        kind=ProposalKind.TARGET_CHANGE,
        title="Lower the conversion target",
        why="Out of reach",
        kpi=Kpi.objects.get(key="conversion"),
        target_value="0.4",
        effective_from="2026-03",
    )


def votes_of(proposal: Proposal) -> list[str]:
    return sorted(Vote.objects.filter(proposal=proposal).values_list("person__email", flat=True))


def test_a_colleague_supports_a_proposal_once(
    org: Organisation, proposal: Proposal, colleague: User
) -> None:
    vote = vote_add(proposal=proposal, by=colleague)
    assert (vote.proposal, vote.person) == (proposal, colleague)
    with pytest.raises(ValidationError) as raised:
        vote_add(proposal=proposal, by=colleague)
    assert raised.value.message_dict == {"vote": ["You support this proposal already."]}
    assert votes_of(proposal) == ["mia@example.com"]
    assert [row.action for row in audit_rows("participation.vote")] == ["participation.vote.add"]
    detail = proposal_detail(proposal, colleague)
    assert (detail.votes, detail.voted) == (1, True)
    assert proposal_detail(proposal, org.manager).voted is False


def test_support_is_withdrawn_and_may_be_given_again(
    org: Organisation, proposal: Proposal, colleague: User
) -> None:
    vote_add(proposal=proposal, by=colleague)
    vote_withdraw(proposal=proposal, by=colleague)
    assert votes_of(proposal) == []
    with pytest.raises(ValidationError) as raised:
        vote_withdraw(proposal=proposal, by=colleague)
    assert set(raised.value.message_dict) == {"vote"}
    vote_add(proposal=proposal, by=colleague)
    assert votes_of(proposal) == ["mia@example.com"]
    assert [row.action for row in audit_rows("participation.vote")] == [
        "participation.vote.add",
        "participation.vote.withdraw",
        "participation.vote.add",
    ]


def test_a_viewer_cannot_vote(org: Organisation, proposal: Proposal) -> None:
    with pytest.raises(NotAllowed):
        vote_add(proposal=proposal, by=org.viewer)
    with pytest.raises(NotAllowed):
        vote_withdraw(proposal=proposal, by=org.viewer)
    assert votes_of(proposal) == []
    assert audit_rows("participation.vote") == []
    assert proposal_detail(proposal, org.viewer).can_vote is False


def test_managers_admins_and_the_author_may_support_it_too(
    org: Organisation, proposal: Proposal
) -> None:
    for person in (org.member, org.manager, org.other_manager, org.admin):
        vote_add(proposal=proposal, by=person)
    assert proposal_detail(proposal, org.member).votes == 4


def test_support_counts_while_a_proposal_is_open_or_under_review_only(
    org: Organisation, proposal: Proposal, colleague: User
) -> None:
    proposal_set_status(proposal=proposal, by=org.manager, status=ProposalStatus.UNDER_REVIEW)
    vote_add(proposal=proposal, by=colleague)
    proposal_accept(proposal=proposal, by=org.manager)
    with pytest.raises(ValidationError) as raised:
        vote_add(proposal=proposal, by=org.other_manager)
    assert "accepted" in raised.value.message_dict["vote"][0]
    with pytest.raises(ValidationError):
        vote_withdraw(proposal=proposal, by=colleague)
    assert votes_of(proposal) == ["mia@example.com"]
    assert proposal_detail(proposal, org.other_manager).can_vote is False
