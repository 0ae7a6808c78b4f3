"""Proposals: what each kind needs, who decides, how they move, and what applying writes."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError

from headway.accounts.models import Team, User
from headway.audit.errors import ConflictError, NotAllowed
from headway.audit.models import AuditEntry
from headway.goals.models import Goal
from headway.kpis.choices import TargetOrigin
from headway.kpis.models import Kpi, KpiGoal, TargetVersion
from headway.kpis.services import kpi_create, kpi_retire
from headway.notifications.models import Notification
from headway.participation.agenda import proposal_agenda_entries
from headway.participation.models import Proposal, ProposalKind, ProposalStatus
from headway.participation.proposals import (
    proposal_accept,
    proposal_apply,
    proposal_create,
    proposal_set_status,
    proposal_update,
    vote_add,
)
from headway.participation.selectors import proposal_detail, proposals
from headway.results.locks import period_lock
from headway.results.models import Result
from tests.app.conftest import Organisation
from tests.participation.conftest import audit_rows


def conversion() -> Kpi:
    return Kpi.objects.get(key="conversion")


def revenue() -> Kpi:
    return Kpi.objects.get(key="revenue")


def target_change(by: User, value: str = "0.4", effective_from: str = "2026-02") -> Proposal:
    return proposal_create(
        by=by,
        kind=ProposalKind.TARGET_CHANGE,
        title="Lower the conversion target",
        why="Half of all leads is out of reach with the new lead source",
        kpi=conversion(),
        target_value=value,
        effective_from=effective_from,
    )


def new_kpi(by: User, **fields: object) -> Proposal:
    values: dict[str, object] = {
        "title": "Count won deals",
        "why": "Wins are what we celebrate",
        "kpi_name": "Won deals",
        "formula": "won",
        "unit": "count",
        "grain": "month",
        "direction": "up",
        "team": Team.objects.get(key="north"),
    }
    values.update(fields)
    return proposal_create(by=by, kind=ProposalKind.NEW_KPI, **values)  # type: ignore[arg-type]


def field_errors(raised: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return raised.value.message_dict


# -- proposing ---------------------------------------------------------------------------


def test_a_member_proposes_a_target_change_for_the_kpis_team(org: Organisation) -> None:
    proposal = target_change(org.member)
    assert proposal.status == ProposalStatus.OPEN
    assert proposal.author == org.member
    assert proposal.team == org.north
    assert proposal.target_value == Decimal("0.4")
    assert proposal.effective_from == "2026-02"
    assert proposal.reference == f"proposal:{proposal.pk}"
    [row] = audit_rows()
    assert row.action == "participation.proposal.create"
    assert row.actor == org.member


def test_a_proposal_about_a_kpi_belongs_to_the_kpis_team_whatever_team_is_given(
    org: Organisation,
) -> None:
    proposal = proposal_create(
        by=org.member,
        kind=ProposalKind.RETIRE_KPI,
        title="Retire revenue",
        why="Nobody reads it",
        kpi=revenue(),
        team=org.north,
    )
    assert proposal.team == org.south


def test_viewers_propose_too_but_people_not_signed_in_do_not(org: Organisation) -> None:
    assert target_change(org.viewer).author == org.viewer
    with pytest.raises(NotAllowed):
        target_change(AnonymousUser())  # type: ignore[arg-type]
    assert Proposal.objects.count() == 1


def test_a_new_kpi_gets_a_key_made_from_its_name_unique_among_the_kpis(
    org: Organisation,
) -> None:
    assert new_kpi(org.member, kpi_name="Won deals (%)").kpi_key == "won_deals"
    assert new_kpi(org.member, kpi_name="Conversion").kpi_key == "conversion_2"
    assert new_kpi(org.member, kpi_name="贏得的交易").kpi_key == "proposed_kpi"
    assert new_kpi(org.member, kpi_key="wins.monthly").kpi_key == "wins.monthly"


def test_a_new_kpi_is_checked_field_by_field_and_nothing_is_written(org: Organisation) -> None:
    with pytest.raises(ValidationError) as raised:
        new_kpi(
            org.member,
            title=" ",
            formula="won / nonsense",
            unit="litres",
            grain="fortnight",
            kpi_key="-bad key",
        )
    errors = field_errors(raised)
    assert set(errors) == {"title", "formula", "unit", "grain", "kpi_key"}
    assert "nonsense" in errors["formula"][0]
    with pytest.raises(ValidationError) as raised:
        new_kpi(org.member, kpi_key="revenue")
    assert "revenue" in field_errors(raised)["kpi_key"][0]
    with pytest.raises(ValidationError) as raised:
        new_kpi(org.member, kpi=conversion())
    assert set(field_errors(raised)) == {"kpi"}
    assert Proposal.objects.count() == 0
    assert audit_rows() == []


def test_a_new_kpis_suggested_target_needs_a_period_of_its_grain(org: Organisation) -> None:
    with pytest.raises(ValidationError) as raised:
        new_kpi(org.member, target_value="5", effective_from="2026-Q3")
    assert "month" in field_errors(raised)["effective_from"][0]
    with pytest.raises(ValidationError) as raised:
        new_kpi(org.member, target_value="5")
    assert set(field_errors(raised)) == {"effective_from"}
    with pytest.raises(ValidationError) as raised:
        new_kpi(org.member, effective_from="2026-07")
    assert set(field_errors(raised)) == {"target_value"}
    proposal = new_kpi(org.member, target_value="5", effective_from=" 2026-07 ")
    assert (proposal.target_value, proposal.effective_from) == (Decimal(5), "2026-07")


@pytest.mark.parametrize("value", ["", None, "NaN", "Infinity", "-inf", "lots", "1e400"])
def test_a_target_change_needs_a_finite_new_value(org: Organisation, value: object) -> None:
    with pytest.raises(ValidationError) as raised:
        target_change(org.member, value=value)  # type: ignore[arg-type]
    assert set(field_errors(raised)) == {"target_value"}
    assert Proposal.objects.count() == 0


@pytest.mark.parametrize("label", ["", "2026-Q2", "2026", "2026-13", "next month"])
def test_a_target_change_applies_from_a_period_of_the_kpis_grain(
    org: Organisation, label: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        target_change(org.member, effective_from=label)
    assert set(field_errors(raised)) == {"effective_from"}


def test_a_target_cannot_be_proposed_for_a_closed_period(org: Organisation) -> None:
    period_lock(period="2026-01", by=org.admin, reason="January is closed")
    with pytest.raises(ValidationError) as raised:
        target_change(org.member, effective_from="2026-01")
    assert "closed" in field_errors(raised)["effective_from"][0]


def test_proposals_about_a_kpi_need_an_active_one(org: Organisation) -> None:
    for kind in (ProposalKind.TARGET_CHANGE, ProposalKind.RETIRE_KPI):
        with pytest.raises(ValidationError) as raised:
            proposal_create(by=org.member, kind=kind, title="t", why="w")
        assert "kpi" in field_errors(raised)
    kpi_retire(kpi=revenue(), by=org.admin, reason="gone")
    with pytest.raises(ValidationError) as raised:
        proposal_create(
            by=org.member, kind=ProposalKind.RETIRE_KPI, title="t", why="w", kpi=revenue()
        )
    assert "retired" in field_errors(raised)["kpi"][0]
    with pytest.raises(ValidationError) as raised:
        proposal_create(by=org.member, kind="rename_kpi", title="t", why="w")
    assert set(field_errors(raised)) == {"kind"}
    assert Proposal.objects.count() == 0


def test_the_author_edits_an_open_proposal_with_its_version(org: Organisation) -> None:
    proposal = target_change(org.member)
    edited = proposal_update(
        proposal=proposal, by=org.member, expected_version=1, target_value="0.45", why="Better"
    )
    assert (edited.target_value, edited.why, edited.version) == (Decimal("0.45"), "Better", 2)
    with pytest.raises(ConflictError):
        proposal_update(proposal=proposal, by=org.member, expected_version=1, title="Stale")
    with pytest.raises(NotAllowed):
        proposal_update(proposal=proposal, by=org.manager, title="Not mine")
    with pytest.raises(ValidationError) as raised:
        proposal_update(proposal=proposal, by=org.member, effective_from="2026-Q1")
    assert set(field_errors(raised)) == {"effective_from"}
    unchanged = proposal_update(proposal=proposal, by=org.member, target_value="0.450")
    assert unchanged.version == 2
    assert [row.action for row in audit_rows()] == [
        "participation.proposal.create",
        "participation.proposal.update",
    ]
    proposal_set_status(proposal=proposal, by=org.manager, status=ProposalStatus.UNDER_REVIEW)
    with pytest.raises(ValidationError) as raised:
        proposal_update(proposal=proposal, by=org.member, title="Too late")
    assert "under review" in field_errors(raised)["status"][0]


# -- deciding -----------------------------------------------------------------------------


def test_nobody_decides_on_their_own_proposal(org: Organisation) -> None:
    for author in (org.member, org.manager, org.admin):
        proposal = target_change(author)
        with pytest.raises(NotAllowed):
            proposal_accept(proposal=proposal, by=author)
    assert not Proposal.objects.exclude(status=ProposalStatus.OPEN).exists()


def test_only_admins_and_the_kpis_team_managers_decide(org: Organisation) -> None:
    proposal = target_change(org.member)
    for outsider in (org.viewer, org.other_manager):
        with pytest.raises(NotAllowed):
            proposal_set_status(proposal=proposal, by=outsider, status=ProposalStatus.UNDER_REVIEW)
    assert proposal_accept(proposal=proposal, by=org.manager).status == ProposalStatus.ACCEPTED
    other = target_change(org.member)
    assert proposal_accept(proposal=other, by=org.admin).status_by == org.admin


def test_a_new_kpi_for_no_team_is_decided_by_admins_only(org: Organisation) -> None:
    proposal = new_kpi(org.member, team=None)
    with pytest.raises(NotAllowed):
        proposal_accept(proposal=proposal, by=org.manager)
    assert proposal_accept(proposal=proposal, by=org.admin).status == ProposalStatus.ACCEPTED


def test_a_proposal_goes_under_review_then_is_accepted(org: Organisation) -> None:
    proposal = target_change(org.member)
    proposal = proposal_set_status(
        proposal=proposal, by=org.manager, status=ProposalStatus.UNDER_REVIEW, expected_version=1
    )
    assert (proposal.status, proposal.version) == (ProposalStatus.UNDER_REVIEW, 2)
    with pytest.raises(ConflictError):
        proposal_accept(proposal=proposal, by=org.manager, expected_version=1)
    proposal = proposal_accept(proposal=proposal, by=org.manager, reason="Fair")
    assert (proposal.status, proposal.status_reason) == (ProposalStatus.ACCEPTED, "Fair")
    assert proposal.status_by == org.manager
    assert proposal.status_at is not None
    assert [row.action for row in audit_rows()][1:] == ["participation.proposal.status"] * 2


def test_declining_says_why_and_a_declined_proposal_may_be_reopened(org: Organisation) -> None:
    proposal = target_change(org.member)
    with pytest.raises(ValidationError) as raised:
        proposal_set_status(proposal=proposal, by=org.manager, status=ProposalStatus.DECLINED)
    assert set(field_errors(raised)) == {"reason"}
    proposal = proposal_set_status(
        proposal=proposal, by=org.manager, status=ProposalStatus.DECLINED, reason="Too soon"
    )
    assert proposal.status_reason == "Too soon"
    with pytest.raises(ValidationError) as raised:
        proposal_accept(proposal=proposal, by=org.manager)
    assert "declined" in field_errors(raised)["status"][0]
    proposal = proposal_set_status(proposal=proposal, by=org.manager, status=ProposalStatus.OPEN)
    assert proposal.status == ProposalStatus.OPEN
    with pytest.raises(ValidationError):
        proposal_set_status(proposal=proposal, by=org.manager, status=ProposalStatus.OPEN)
    with pytest.raises(ValidationError):
        proposal_set_status(proposal=proposal, by=org.manager, status="shelved")


def test_merging_names_another_proposal_still_under_consideration(org: Organisation) -> None:
    first, second, third = (target_change(org.member) for _ in range(3))
    with pytest.raises(ValidationError) as raised:
        proposal_set_status(proposal=first, by=org.manager, status=ProposalStatus.MERGED)
    assert set(field_errors(raised)) == {"merged_into"}
    with pytest.raises(ValidationError):
        proposal_set_status(
            proposal=first, by=org.manager, status=ProposalStatus.MERGED, merged_into=first
        )
    with pytest.raises(ValidationError):
        proposal_set_status(
            proposal=first, by=org.manager, status=ProposalStatus.UNDER_REVIEW, merged_into=second
        )
    first = proposal_set_status(
        proposal=first, by=org.manager, status=ProposalStatus.MERGED, merged_into=second
    )
    assert first.merged_into == second
    with pytest.raises(ValidationError) as raised:
        proposal_set_status(
            proposal=third, by=org.manager, status=ProposalStatus.MERGED, merged_into=first
        )
    assert "merged" in field_errors(raised)["merged_into"][0]
    # Merging the second into the third takes the first along: no merge points at a merge.
    proposal_set_status(
        proposal=second, by=org.manager, status=ProposalStatus.MERGED, merged_into=third
    )
    first.refresh_from_db()
    assert first.merged_into == third
    assert [item.pk for item in proposal_detail(third, org.member).merged] == [
        first.pk,
        second.pk,
    ]


def test_the_author_and_the_supporters_hear_of_a_status_change_but_not_the_decider(
    org: Organisation, colleague: User
) -> None:
    proposal = target_change(org.member)
    vote_add(proposal=proposal, by=colleague)
    vote_add(proposal=proposal, by=org.admin)
    org.member.language = "zh-hant"
    org.member.save()
    proposal_set_status(
        proposal=proposal, by=org.admin, status=ProposalStatus.DECLINED, reason="Not now"
    )
    told = {note.person.email: note for note in Notification.objects.all()}
    assert set(told) == {"mark@example.com", "mia@example.com"}
    assert all(note.kind == "proposal" and note.actor == org.admin for note in told.values())
    assert told["mia@example.com"].text == (
        "Ada Admin set the proposal “Lower the conversion target” to declined. Reason: Not now"
    )
    assert "已拒絕" in told["mark@example.com"].text
    assert told["mark@example.com"].url == f"/proposals/{proposal.pk}/"


# -- applying -----------------------------------------------------------------------------


def test_an_accepted_target_change_becomes_a_target_version_pointing_back(
    org: Organisation,
) -> None:
    proposal = target_change(org.member, value="0.4", effective_from="2026-02")
    with pytest.raises(ValidationError):
        proposal_apply(proposal=proposal, by=org.manager)
    proposal = proposal_accept(proposal=proposal, by=org.manager)
    for outsider in (org.member, org.other_manager):
        with pytest.raises(NotAllowed):
            proposal_apply(proposal=proposal, by=outsider)
    proposal = proposal_apply(proposal=proposal, by=org.manager)
    version = proposal.applied_target
    assert version is not None
    assert version.origin == TargetOrigin.PROPOSAL
    assert version.origin_reference == f"proposal:{proposal.pk}"
    assert (version.value, version.effective_from) == (Decimal("0.4"), "2026-02")
    assert proposal.applied_by == org.manager
    assert proposal.applied_at is not None
    february = Result.objects.get(kpi__key="conversion", period="2026-02", group_value="")
    january = Result.objects.get(kpi__key="conversion", period="2026-01", group_value="")
    assert (january.target, february.target) == (Decimal("0.5"), Decimal("0.4"))
    with pytest.raises(ValidationError) as raised:
        proposal_apply(proposal=proposal, by=org.manager)
    assert "already" in field_errors(raised)["status"][0]
    with pytest.raises(ValidationError):
        proposal_set_status(proposal=proposal, by=org.admin, status=ProposalStatus.UNDER_REVIEW)
    assert TargetVersion.objects.filter(origin=TargetOrigin.PROPOSAL).count() == 1
    assert [row.action for row in audit_rows()] == [
        "participation.proposal.create",
        "participation.proposal.status",
        "participation.proposal.apply",
    ]
    assert AuditEntry.objects.filter(action="target.create", actor=org.manager).count() == 1


def test_the_author_may_apply_a_proposal_someone_else_accepted(org: Organisation) -> None:
    proposal = proposal_accept(proposal=target_change(org.manager), by=org.admin)
    assert proposal_apply(proposal=proposal, by=org.manager).applied_target is not None


def test_an_accepted_new_kpi_is_created_with_its_target_and_computed(org: Organisation) -> None:
    goal = Goal.objects.get(key="convert")
    proposal = new_kpi(
        org.member, kpi_name="Won deals", goal=goal, target_value="2", effective_from="2026-01"
    )
    proposal = proposal_accept(proposal=proposal, by=org.manager)
    proposal = proposal_apply(proposal=proposal, by=org.manager)
    kpi = proposal.applied_kpi
    assert kpi is not None
    assert (kpi.key, kpi.name, kpi.formula, kpi.team) == (
        "won_deals",
        "Won deals",
        "won",
        org.north,
    )
    assert kpi.from_proposals.get() == proposal
    assert KpiGoal.objects.filter(kpi=kpi, goal=goal).exists()
    target = TargetVersion.objects.get(kpi=kpi)
    assert proposal.applied_target == target
    assert (target.origin, target.origin_reference) == ("proposal", f"proposal:{proposal.pk}")
    # One won deal in January (deal a) and one in February (deal b), against a target of 2.
    totals = {
        result.period: (result.value, result.status)
        for result in Result.objects.filter(kpi=kpi, group_dimension="")
    }
    assert totals == {"2026-01": (Decimal(1), "red"), "2026-02": (Decimal(1), "red")}


def test_a_new_kpis_key_taken_since_it_was_proposed_gets_a_free_one(org: Organisation) -> None:
    proposal = proposal_accept(proposal=new_kpi(org.member, kpi_key="wins"), by=org.admin)
    kpi_create(by=org.admin, key="wins", name="Wins", formula="won", unit="count", grain="month")
    assert proposal_apply(proposal=proposal, by=org.admin).applied_kpi.key == "wins_2"  # type: ignore[union-attr]


def test_an_accepted_retirement_retires_the_kpi_naming_the_proposal(org: Organisation) -> None:
    proposal = proposal_create(
        by=org.member,
        kind=ProposalKind.RETIRE_KPI,
        title="Retire conversion",
        why="Deals now come without leads",
        kpi=conversion(),
    )
    proposal = proposal_accept(proposal=proposal, by=org.admin, reason="Agreed")
    proposal_apply(proposal=proposal, by=org.manager)
    assert not conversion().is_active
    retired = AuditEntry.objects.get(action="kpi.retire")
    assert retired.after["decided_by_reference"] == f"proposal:{proposal.pk}"
    assert retired.reason == "Agreed"


def test_a_failing_apply_writes_nothing(org: Organisation) -> None:
    proposal = proposal_accept(proposal=target_change(org.member), by=org.manager)
    kpi_retire(kpi=conversion(), by=org.admin, reason="gone")
    before = AuditEntry.objects.count()
    with pytest.raises(ValidationError) as raised:
        proposal_apply(proposal=proposal, by=org.manager)
    assert "retired" in field_errors(raised)["kpi"][0]
    proposal.refresh_from_db()
    assert proposal.applied_at is None
    assert proposal.applied_target is None
    assert AuditEntry.objects.count() == before
    assert not TargetVersion.objects.filter(origin=TargetOrigin.PROPOSAL).exists()


# -- reading, and the review's agenda ----------------------------------------------------------


def test_proposals_are_listed_by_status_and_team_with_their_support(
    org: Organisation, colleague: User
) -> None:
    north = target_change(org.member)
    south = proposal_create(
        by=org.member, kind=ProposalKind.RETIRE_KPI, title="r", why="w", kpi=revenue()
    )
    vote_add(proposal=north, by=colleague)
    vote_add(proposal=north, by=org.admin)
    listed = {proposal.pk: proposal.vote_count for proposal in proposals()}
    assert listed == {north.pk: 2, south.pk: 0}
    assert [item.pk for item in proposals(team=org.north)] == [north.pk]
    assert [item.pk for item in proposals(team=org.south.parent)] == [south.pk, north.pk]
    assert list(proposals(status=ProposalStatus.ACCEPTED)) == []
    detail = proposal_detail(north, colleague)
    assert (detail.votes, detail.voted, detail.can_vote, detail.can_decide) == (
        2,
        True,
        True,
        False,
    )
    deciding = proposal_detail(north, org.manager)
    assert deciding.can_decide
    assert not deciding.voted
    assert set(deciding.next_statuses) == {"under_review", "accepted", "declined", "merged"}
    assert proposal_detail(north, org.member).can_edit


def test_the_review_agenda_gets_accepted_and_under_review_proposals_of_its_scope(
    org: Organisation, colleague: User
) -> None:
    accepted = proposal_accept(proposal=target_change(org.member), by=org.manager)
    reviewed = proposal_set_status(
        proposal=new_kpi(org.member), by=org.manager, status=ProposalStatus.UNDER_REVIEW
    )
    vote_add(proposal=reviewed, by=colleague)
    proposal_create(by=org.member, kind=ProposalKind.RETIRE_KPI, title="r", why="w", kpi=revenue())
    applied = proposal_apply(
        proposal=proposal_accept(proposal=target_change(org.member), by=org.admin), by=org.admin
    )
    south = proposal_accept(
        proposal=proposal_create(
            by=org.member, kind=ProposalKind.RETIRE_KPI, title="s", why="w", kpi=revenue()
        ),
        by=org.admin,
    )
    whole = proposal_agenda_entries(SimpleNamespace(team_id=None))
    assert [entry["facts"]["proposal"] for entry in whole] == [accepted.pk, south.pk, reviewed.pk]
    assert applied.pk not in [entry["facts"]["proposal"] for entry in whole]
    north_only = proposal_agenda_entries(SimpleNamespace(team_id=org.north.pk))
    assert north_only == [
        {
            "kpi_id": conversion().pk,
            "title": "Proposal: Lower the conversion target",
            "facts": {
                "proposal": accepted.pk,
                "kind": "target_change",
                "status": "accepted",
                "votes": 0,
                "target_value": "0.4000000000",
                "effective_from": "2026-02",
            },
        },
        {
            "kpi_id": None,
            "title": "Proposal: Count won deals",
            "facts": {
                "proposal": reviewed.pk,
                "kind": "new_kpi",
                "status": "under_review",
                "votes": 1,
                "target_value": None,
                "effective_from": "",
            },
        },
    ]
    south_only = proposal_agenda_entries(SimpleNamespace(team_id=org.south.pk))
    assert [entry["facts"]["proposal"] for entry in south_only] == [south.pk]
