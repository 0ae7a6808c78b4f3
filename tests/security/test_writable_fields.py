"""A member, a viewer and a manager of another team cannot set an owner, a target, a
status, an approver or a team through any path: the web forms (with extra fields posted),
the API's bodies, proposals and review decisions. Each test reads the database afterwards.

There is no web or API path to `headway apply` or workspace import: the workspace file
is applied from the command line, by whoever runs the installation.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from headway.kpis.models import Kpi, TargetVersion
from headway.participation.models import Comment, Proposal, ProposalStatus, Workshop
from headway.participation.permissions import proposal_team_id
from headway.results.models import ManualValue
from headway.reviews.choices import MeetingStatus
from headway.reviews.models import AgendaItem, Decision, Meeting, Participant
from tests.security import matrix_world
from tests.security.matrix_world import World

built = matrix_world.built
world = matrix_world.world

# The people who may not decide such things about team north's objects.
OUTSIDERS = ["viewer", "member", "other_manager"]
SEIZED = {"owner": "", "team": "", "status": "accepted", "approver": "", "chair": ""}


def _kpi_state(key: str) -> tuple[object, ...]:
    kpi = Kpi.objects.get(key=key)
    targets = TargetVersion.objects.filter(kpi=kpi).count()
    return (kpi.owner_id, kpi.team_id, kpi.name, kpi.version, kpi.is_active, targets)


def _api(world: World, caller: str, method: str, path: str, body: object) -> int:
    client = world.client(caller)
    send = getattr(client, method)
    response = send(f"/api/v1/{path}", data=json.dumps(body), content_type="application/json")
    status: int = response.status_code
    assert status < 500
    return status


@pytest.mark.parametrize("caller", OUTSIDERS)
def test_it_refuses_a_kpis_owner_team_and_target_from_the_edit_form(
    world: World, caller: str
) -> None:
    key = world.scopes["team"].kpi.key
    before = _kpi_state(key)
    sam = world.people["other_manager"]
    response = world.client(caller).post(
        reverse("web:kpi_edit", kwargs={"key": key}),
        {"name": "Taken", "owner": sam.pk, "team": world.south.pk, "version": 1, **SEIZED},
    )
    assert response.status_code == 403
    target = world.client(caller).post(
        reverse("web:target_new", kwargs={"key": key}),
        {"effective_from": "2026-04", "value": "1", "reason": "Mine"},
    )
    assert target.status_code == 403
    assert _kpi_state(key) == before


@pytest.mark.parametrize("caller", OUTSIDERS)
def test_it_refuses_a_kpis_owner_team_and_target_through_the_api(world: World, caller: str) -> None:
    key = world.scopes["team"].kpi.key
    before = _kpi_state(key)
    body = {"owner": "sam@example.com", "team": "south", "version": 1}
    assert _api(world, caller, "patch", f"kpis/{key}", body) == 403
    target = {"effective_from": "2026-04", "value": "1", "reason": "Mine"}
    assert _api(world, caller, "post", f"kpis/{key}/targets", target) == 403
    assert _kpi_state(key) == before


@pytest.mark.parametrize("caller", OUTSIDERS)
def test_it_refuses_a_goals_owner_and_team_through_the_form_and_the_api(
    world: World, caller: str
) -> None:
    goal = world.scopes["team"].goal
    before = (goal.owner_id, goal.team_id, goal.title)
    form = world.client(caller).post(
        reverse("web:goal_edit", kwargs={"key": goal.key}),
        {"title": "Taken", "team": world.south.pk, "version": 1, **SEIZED},
    )
    assert form.status_code == 403
    body = {"team": "south", "owner": "sam@example.com", "version": 1}
    assert _api(world, caller, "patch", f"goals/{goal.key}", body) == 403
    goal.refresh_from_db()
    assert (goal.owner_id, goal.team_id, goal.title) == before


def test_a_member_entering_values_cannot_approve_them_with_an_extra_field(world: World) -> None:
    # mark owns no north KPI but his own; nia's KPI needs its owner's approval.
    key = world.scopes["team"].kpi.key
    values = {"values": [{"period": "2026-03", "value": "5", "status": "approved"}]}
    assert _api(world, "member", "post", f"kpis/{key}/values", values) == 403
    pending = world.scopes["team"].value
    assert pending is not None
    decide = {"approve": True, "decided_by": "mark@example.com"}
    assert _api(world, "member", "post", f"kpis/{key}/values/{pending.pk}/decision", decide) == 403
    pending.refresh_from_db()
    assert pending.status == "pending"
    assert pending.decided_by_id is None
    assert not ManualValue.objects.filter(kpi__key=key, period="2026-03").exists()


@pytest.mark.parametrize("caller", ["viewer", "member"])
def test_the_author_of_a_proposal_cannot_set_its_status_or_who_decides(
    world: World, caller: str
) -> None:
    proposal = world.own[caller].proposal
    assert proposal is not None
    client = world.client(caller)
    client.post(
        reverse("web:proposal_edit", kwargs={"pk": proposal.pk}),
        {"title": "Still mine", "why": "Because", "version": proposal.version,
         "status": "accepted", "status_by": world.people[caller].pk, "team": world.south.pk},
    )  # fmt: skip
    status = client.post(
        reverse("web:proposal_status", kwargs={"pk": proposal.pk}),
        {"status": "accepted", "reason": "I like it"},
    )
    assert status.status_code == 403
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.OPEN
    assert proposal.status_by_id is None
    # The team an author names is part of what they propose; who decides on a proposal
    # about a KPI stays the KPI's team, whatever the form sent.
    assert proposal_team_id(proposal) == world.own[caller].kpi.team_id


def test_a_new_proposal_is_open_whatever_status_the_form_sends(world: World) -> None:
    client = world.client("member")
    before = set(Proposal.objects.values_list("pk", flat=True))
    client.post(
        reverse("web:proposal_new"),
        {"kind": "retire_kpi", "kpi": world.scopes["team"].kpi.pk, "title": "Drop it",
         "why": "Nobody reads it", "status": "accepted", "status_by": world.people["member"].pk,
         "author": world.people["admin"].pk},
    )  # fmt: skip
    made = Proposal.objects.exclude(pk__in=before)
    for proposal in made:
        assert proposal.status == ProposalStatus.OPEN
        assert proposal.status_by_id is None
        assert proposal.author_id == world.people["member"].pk


def test_a_comments_author_cannot_hide_it_or_change_its_author(world: World) -> None:
    comment = world.own["member"].comment
    assert comment is not None
    world.client("member").post(
        reverse("web:comment_edit", kwargs={"pk": comment.pk}),
        {"text": "Edited", "version": comment.version, "author": world.people["admin"].pk,
         "hidden_at": "2026-01-01", "hidden_reason": "mine"},
    )  # fmt: skip
    comment = Comment.objects.get(pk=comment.pk)
    assert comment.author_id == world.people["member"].pk
    assert comment.hidden_at is None
    assert comment.hidden_reason == ""


@pytest.mark.parametrize("caller", OUTSIDERS)
def test_nobody_but_the_chair_approves_a_decision_or_changes_the_chair(
    world: World, caller: str
) -> None:
    objects = world.scopes["team"]
    assert objects.meeting is not None
    assert objects.decision is not None
    client = world.client(caller)
    decided = client.post(
        reverse("web:review_decision_decide", kwargs={"pk": objects.decision.pk}),
        {"decision": "reject", "note": "No"},
    )
    assert decided.status_code == 403
    edited = client.post(
        reverse("web:review_meeting_edit", kwargs={"pk": objects.meeting.pk}),
        {"title": "Mine", "chair": world.people[caller].pk, "version": objects.meeting.version},
    )
    assert edited.status_code == 403
    decision = Decision.objects.get(pk=objects.decision.pk)
    assert (decision.status, decision.decided_by_id) == ("approved", None)
    meeting = Meeting.objects.get(pk=objects.meeting.pk)
    assert meeting.chair_id == objects.meeting.chair_id


@pytest.mark.parametrize("caller", OUTSIDERS)
def test_an_invited_person_cannot_make_themself_facilitator(world: World, caller: str) -> None:
    workshop = world.scopes["team"].workshop
    assert workshop is not None
    response = world.client(caller).post(
        reverse("web:workshop_edit", kwargs={"pk": workshop.pk}),
        {"topic": "Mine", "facilitator": world.people[caller].pk, "team": world.south.pk,
         "version": workshop.version},
    )  # fmt: skip
    assert response.status_code == 403
    after = Workshop.objects.get(pk=workshop.pk)
    assert (after.facilitator_id, after.team_id, after.topic) == (
        workshop.facilitator_id,
        workshop.team_id,
        workshop.topic,
    )


def test_a_read_token_of_a_manager_sets_nothing(world: World) -> None:
    key = world.scopes["team"].kpi.key
    before = _kpi_state(key)
    client = Client()
    headers = {"Authorization": f"Bearer {world.raw_tokens['token_read']}"}
    response = client.patch(
        f"/api/v1/kpis/{key}",
        data=json.dumps({"owner": "sam@example.com", "version": 1}),
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 403
    assert _kpi_state(key) == before


def _running_meeting(world: World) -> tuple[Meeting, AgendaItem]:
    """Team north's meeting under way, chaired by nora, with the member taking part and
    the team's KPI on its agenda."""
    chair = world.people["manager"]
    member = world.people["member"]
    meeting = Meeting.objects.create(
        cycle_id=world.cycle_pk,
        title="North's review under way",
        team=world.north,
        scheduled_at=matrix_world.at(2026, 4, 22),
        chair=chair,
        status=MeetingStatus.IN_MEETING,
        created_by=chair,
    )
    for person in (chair, member):
        Participant.objects.create(meeting=meeting, person=person)
    kpi = world.scopes["team"].kpi
    item = AgendaItem.objects.create(meeting=meeting, kpi=kpi, reason="added", added_by=chair)
    return meeting, item


def test_a_member_recording_a_decision_sets_no_owner_target_status_or_approver(
    world: World,
) -> None:
    """A participant may record what the meeting decided, in full, but it waits for the
    chair: the posted status, approver and chair are ignored and the KPI is unchanged."""
    meeting, item = _running_meeting(world)
    member = world.people["member"]
    key = world.scopes["team"].kpi.key
    before = _kpi_state(key)
    for body in (
        {"kind": "change_kpi", "new_owner": member.pk, "green_from": "80", "amber_from": "70"},
        {"kind": "change_target", "value": "99", "effective_from": "2026-07"},
    ):
        response = world.client("member").post(
            reverse("web:review_item_decision", kwargs={"pk": item.pk}),
            {
                **body,
                "reason": "The member wants it",
                "status": "approved",
                "decided_by": member.pk,
                "approver": member.pk,
                "chair": member.pk,
            },
        )
        assert response.status_code == 302
    recorded = list(Decision.objects.filter(meeting=meeting).order_by("pk"))
    assert [(d.status, d.decided_by_id, d.recorded_by_id) for d in recorded] == [
        ("proposed", None, member.pk),
        ("proposed", None, member.pk),
    ]
    assert recorded[0].details["changes"]["owner"] == member.pk
    assert _kpi_state(key) == before
    meeting.refresh_from_db()
    assert meeting.chair_id == world.people["manager"].pk


def test_a_member_recording_a_new_kpi_creates_nothing_until_the_chair_approves(
    world: World,
) -> None:
    meeting, _item = _running_meeting(world)
    member = world.people["member"]
    response = world.client("member").post(
        reverse("web:review_add_kpi", kwargs={"pk": meeting.pk}),
        {
            "key": "seized_kpi",
            "name": "Seized",
            "formula": "won",
            "unit": "number",
            "grain": "month",
            "direction": "up",
            "team": world.south.pk,
            "owner": member.pk,
            "target": "5",
            "target_from": "2026-07",
            "reason": "The member wants it",
            "status": "approved",
            "approver": member.pk,
            "decided_by": member.pk,
        },
    )
    assert response.status_code == 302
    decision = Decision.objects.get(meeting=meeting)
    assert (decision.status, decision.decided_by_id) == ("proposed", None)
    assert not Kpi.objects.filter(key="seized_kpi").exists()


@pytest.mark.parametrize("caller", ["viewer", "other_manager"])
def test_who_takes_no_part_in_a_meeting_records_no_decision(world: World, caller: str) -> None:
    meeting, item = _running_meeting(world)
    for url, body in (
        (
            reverse("web:review_item_decision", kwargs={"pk": item.pk}),
            {"kind": "change_kpi", "new_owner": world.people[caller].pk, "reason": "Mine"},
        ),
        (
            reverse("web:review_add_kpi", kwargs={"pk": meeting.pk}),
            {
                "key": "theirs",
                "name": "Theirs",
                "formula": "won",
                "unit": "number",
                "grain": "month",
                "direction": "up",
                "reason": "Mine",
                "status": "approved",
            },
        ),
    ):
        assert world.client(caller).post(url, body).status_code == 403
    assert not Decision.objects.filter(meeting=meeting).exists()
