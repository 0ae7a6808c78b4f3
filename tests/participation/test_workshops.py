"""Workshops: planning one, inviting people, the board's ideas and dot votes, turning an
idea into a proposal, feedback, and the summary — each write checked and audited.

The workshop of these tests is north's, facilitated by Nora (north's manager), with Mark
(member), Vera (viewer) and Sam (south's manager) invited. Mia, another member of north,
and the admin are not invited.

Decided here (and in `headway.participation.workshops`): an invited viewer may add ideas
and give feedback (being heard is the point of a workshop), but does not place dot votes
(a dot is a vote, and viewers do not vote — the rule of proposals' support votes).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from headway.accounts.models import User
from headway.audit.errors import ConflictError, NotAllowed
from headway.audit.models import AuditEntry
from headway.goals.models import Goal
from headway.kpis.models import Kpi
from headway.notifications.models import Notification
from headway.participation.models import (
    DotVote,
    Proposal,
    Workshop,
    WorkshopFeedback,
    WorkshopIdea,
    WorkshopInvitation,
)
from headway.participation.workshops import (
    attendance_record,
    dot_add,
    dot_remove,
    feedback_give,
    idea_add,
    idea_board,
    idea_group,
    idea_to_proposal,
    my_dots_left,
    workshop_close,
    workshop_create,
    workshop_invite,
    workshop_start,
    workshop_summary,
    workshop_update,
)
from tests.app.conftest import Organisation, build_organisation
from tests.participation.conftest import audit_rows

TAIPEI = ZoneInfo("Asia/Taipei")
STARTS = datetime.datetime(2026, 4, 20, 10, 0, tzinfo=TAIPEI)


def plan(org: Organisation, **changes: object) -> Workshop:
    arguments: dict[str, object] = {
        "by": org.manager,
        "topic": "Better conversion KPIs",
        "starts_at": STARTS,
        "facilitator": org.manager,
        "team": org.north,
        "goals": [Goal.objects.get(key="convert")],
        "agenda": "10:00 ideas\n10:30 dots\n10:45 proposals",
        "dots_per_person": 3,
        "invited": [org.member, org.viewer, org.other_manager],
    }
    arguments.update(changes)
    return workshop_create(**arguments)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _quick_passwords(settings: Any) -> None:
    """A deliberately slow password hash is the point in production, not in tests."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def org(db: None, tmp_path: Path) -> Organisation:
    """The small organisation, not recomputed: workshops need no results."""
    return build_organisation(tmp_path)


@pytest.fixture
def workshop(org: Organisation) -> Workshop:
    return plan(org)


@pytest.fixture
def running(org: Organisation, workshop: Workshop) -> Workshop:
    return workshop_start(workshop=workshop, by=org.manager)


def fresh(workshop: Workshop) -> Workshop:
    return Workshop.objects.get(pk=workshop.pk)


# -- planning ----------------------------------------------------------------------------------


def test_an_admin_plans_for_any_team_and_a_manager_for_their_own_team_or_none(
    org: Organisation,
) -> None:
    assert plan(org, by=org.admin, team=org.south).team == org.south
    assert plan(org, by=org.manager, team=org.north).team == org.north
    assert plan(org, by=org.manager, team=None).team is None
    with pytest.raises(NotAllowed):
        plan(org, by=org.manager, team=org.south)
    with pytest.raises(NotAllowed):
        plan(org, by=org.member, team=None)
    with pytest.raises(NotAllowed):
        plan(org, by=org.viewer, team=org.north)
    assert Workshop.objects.count() == 3


def test_planning_writes_the_workshop_its_invitations_and_one_audit_row(
    org: Organisation, workshop: Workshop
) -> None:
    assert workshop.status == "planned"
    assert workshop.version == 1
    assert workshop.starts_at == STARTS
    assert [goal.key for goal in workshop.goals.all()] == ["convert"]
    invited = set(
        WorkshopInvitation.objects.filter(workshop=workshop).values_list("person__email", flat=True)
    )
    assert invited == {"mark@example.com", "vera@example.com", "sam@example.com"}
    rows = audit_rows()
    assert [row.action for row in rows] == ["participation.workshop.create"]
    assert rows[0].actor == org.manager
    assert rows[0].after is not None
    assert rows[0].after["goals"] == ["convert"]
    assert sorted(rows[0].after["invited"]) == sorted(
        [org.member.pk, org.viewer.pk, org.other_manager.pk]
    )


def test_the_invited_are_notified_in_their_own_language_but_not_the_planner(
    org: Organisation,
) -> None:
    org.viewer.language = "zh-hant"
    org.viewer.save()
    workshop = plan(org, invited=[org.manager, org.member, org.viewer])
    notes = {note.person.email: note for note in Notification.objects.select_related("person")}
    assert set(notes) == {"mark@example.com", "vera@example.com"}
    mark = notes["mark@example.com"]
    assert mark.kind == "workshop"
    assert mark.url == f"/workshops/{workshop.pk}/"
    assert mark.actor == org.manager
    assert mark.text.startswith("Nora North invited you to the workshop “Better conversion KPIs”")
    assert "2026" in mark.text
    assert "邀請你參加工作坊" in notes["vera@example.com"].text


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"topic": "  "}, "topic"),
        ({"dots_per_person": 0}, "dots_per_person"),
        ({"dots_per_person": 21}, "dots_per_person"),
        ({"starts_at": "tomorrow"}, "starts_at"),
        ({"agenda": "x" * 10_001}, "agenda"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(
    org: Organisation, changes: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        plan(org, **changes)
    assert field in caught.value.message_dict
    assert Workshop.objects.count() == 0
    assert audit_rows() == []


def test_an_inactive_person_can_neither_facilitate_nor_be_invited(org: Organisation) -> None:
    org.viewer.is_active = False
    org.viewer.save()
    with pytest.raises(ValidationError) as caught:
        plan(org, facilitator=org.viewer, invited=[org.member])
    assert "facilitator" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        plan(org, invited=[org.viewer])
    assert "invited" in caught.value.message_dict
    assert Workshop.objects.count() == 0


def test_an_edit_of_a_stale_version_is_refused_as_a_conflict(
    org: Organisation, workshop: Workshop
) -> None:
    changed = workshop_update(
        workshop=workshop, by=org.manager, expected_version=1, topic="Conversion KPIs"
    )
    assert changed.version == 2
    with pytest.raises(ConflictError):
        workshop_update(workshop=workshop, by=org.admin, expected_version=1, location="Room 5")
    assert fresh(workshop).topic == "Conversion KPIs"
    assert fresh(workshop).location == ""
    assert [row.action for row in audit_rows()][-1] == "participation.workshop.update"


def test_only_the_organisers_change_a_workshop(org: Organisation, workshop: Workshop) -> None:
    for person in (org.member, org.viewer, org.other_manager):
        with pytest.raises(NotAllowed):
            workshop_update(workshop=workshop, by=person, topic="Mine now")
    assert workshop_update(workshop=workshop, by=org.admin, location="Room 5").location == "Room 5"


def test_a_manager_cannot_move_the_workshop_to_a_team_they_do_not_manage(
    org: Organisation, workshop: Workshop
) -> None:
    with pytest.raises(NotAllowed):
        workshop_update(workshop=workshop, by=org.manager, team=org.south)
    assert fresh(workshop).team == org.north


def test_people_may_be_taken_off_the_list_only_before_it_starts(
    org: Organisation, workshop: Workshop
) -> None:
    workshop_update(workshop=workshop, by=org.manager, invited=[org.member, org.viewer])
    assert set(fresh(workshop).invited.all()) == {org.member, org.viewer}
    workshop_start(workshop=workshop, by=org.manager)
    with pytest.raises(ValidationError) as caught:
        workshop_update(workshop=workshop, by=org.manager, invited=[org.member])
    assert "invited" in caught.value.message_dict
    assert set(fresh(workshop).invited.all()) == {org.member, org.viewer}


def test_inviting_more_people_notifies_only_the_newly_invited(
    org: Organisation, workshop: Workshop, colleague: User
) -> None:
    Notification.objects.all().delete()
    made = workshop_invite(workshop=workshop, by=org.manager, people=[org.member, colleague])
    assert [row.person for row in made] == [colleague]
    assert list(Notification.objects.values_list("person__email", flat=True)) == ["mia@example.com"]
    assert fresh(workshop).version == 2
    assert workshop_invite(workshop=workshop, by=org.manager, people=[colleague]) == []
    with pytest.raises(NotAllowed):
        workshop_invite(workshop=workshop, by=org.member, people=[org.admin])


# -- its course ------------------------------------------------------------------------------


def test_a_workshop_moves_from_planned_to_running_to_closed_and_never_back(
    org: Organisation, workshop: Workshop
) -> None:
    with pytest.raises(NotAllowed):
        workshop_start(workshop=workshop, by=org.member)
    with pytest.raises(ValidationError) as caught:
        workshop_close(workshop=workshop, by=org.manager)
    assert "status" in caught.value.message_dict
    assert workshop_start(workshop=workshop, by=org.manager).status == "running"
    with pytest.raises(ValidationError):
        workshop_start(workshop=workshop, by=org.manager)
    assert workshop_close(workshop=workshop, by=org.manager).status == "closed"
    with pytest.raises(ValidationError):
        workshop_update(workshop=workshop, by=org.manager, topic="Later")
    actions = [row.action for row in audit_rows()]
    assert actions == [
        "participation.workshop.create",
        "participation.workshop.start",
        "participation.workshop.close",
    ]


def test_starting_tells_the_invited_to_open_the_board(
    org: Organisation, workshop: Workshop
) -> None:
    Notification.objects.all().delete()
    workshop_start(workshop=workshop, by=org.manager)
    urls = set(Notification.objects.values_list("person__email", "url"))
    board = f"/workshops/{workshop.pk}/board/"
    assert urls == {
        ("mark@example.com", board),
        ("vera@example.com", board),
        ("sam@example.com", board),
    }


def test_the_facilitator_records_who_attended(org: Organisation, running: Workshop) -> None:
    with pytest.raises(NotAllowed):
        attendance_record(workshop=running, by=org.member, present=[org.member.pk])
    with pytest.raises(ValidationError) as caught:
        attendance_record(workshop=running, by=org.manager, present=[org.admin.pk])
    assert "present" in caught.value.message_dict
    attendance_record(workshop=running, by=org.manager, present=[org.member.pk, org.viewer.pk])
    attended = dict(
        WorkshopInvitation.objects.filter(workshop=running).values_list("person__email", "attended")
    )
    assert attended == {
        "mark@example.com": True,
        "vera@example.com": True,
        "sam@example.com": False,
    }
    assert audit_rows()[-1].action == "participation.workshop.attendance"


def test_attendance_waits_until_the_workshop_has_started(
    org: Organisation, workshop: Workshop
) -> None:
    with pytest.raises(ValidationError):
        attendance_record(workshop=workshop, by=org.manager, present=[org.member.pk])


# -- ideas -------------------------------------------------------------------------------------


def test_invited_people_and_the_facilitator_add_ideas_while_it_runs(
    org: Organisation, workshop: Workshop
) -> None:
    with pytest.raises(ValidationError) as caught:
        idea_add(workshop=workshop, by=org.member, kind="kpi", text="Too early")
    assert "status" in caught.value.message_dict
    workshop_start(workshop=workshop, by=org.manager)
    mine = idea_add(workshop=workshop, by=org.member, kind="kpi", text="  Calls per lead  ")
    assert mine.text == "Calls per lead"
    assert mine.author == org.member
    # The facilitator is not on the list but runs the board; the invited viewer speaks up.
    idea_add(workshop=workshop, by=org.manager, kind="target", text="55% is within reach")
    idea_add(workshop=workshop, by=org.viewer, kind="data", text="Leads lack a source")
    assert WorkshopIdea.objects.filter(workshop=workshop).count() == 3
    assert [row.action for row in audit_rows("participation.idea.")] == [
        "participation.idea.add"
    ] * 3


def test_someone_not_invited_cannot_add_ideas(
    org: Organisation, running: Workshop, colleague: User
) -> None:
    for person in (colleague, org.admin):
        with pytest.raises(NotAllowed):
            idea_add(workshop=running, by=person, kind="kpi", text="Me too")
    assert not WorkshopIdea.objects.exists()


@pytest.mark.parametrize(
    ("kind", "text", "field"),
    [("wish", "An idea", "kind"), ("kpi", "   ", "text"), ("kpi", "x" * 1001, "text")],
)
def test_an_idea_needs_a_kind_and_some_words(
    org: Organisation, running: Workshop, kind: str, text: str, field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        idea_add(workshop=running, by=org.member, kind=kind, text=text)
    assert field in caught.value.message_dict
    assert not WorkshopIdea.objects.exists()


def test_the_facilitator_groups_ideas_and_nobody_else_does(
    org: Organisation, running: Workshop
) -> None:
    idea = idea_add(workshop=running, by=org.member, kind="kpi", text="Calls per lead")
    with pytest.raises(NotAllowed):
        idea_group(idea=idea, by=org.member, group="Activity")
    grouped = idea_group(idea=idea, by=org.manager, group="  Sales   activity ")
    assert grouped.group == "Sales activity"
    row = audit_rows()[-1]
    assert row.action == "participation.idea.group"
    assert (row.before, row.after) == ({"group": ""}, {"group": "Sales activity"})
    with pytest.raises(ValidationError) as caught:
        idea_group(idea=idea, by=org.manager, group="x" * 101)
    assert "group" in caught.value.message_dict


# -- dot votes -----------------------------------------------------------------------------------


def test_dots_are_limited_to_the_budget_per_person_with_a_clear_error(
    org: Organisation,
) -> None:
    workshop = workshop_start(workshop=plan(org, dots_per_person=2), by=org.manager)
    first = idea_add(workshop=workshop, by=org.member, kind="kpi", text="Calls per lead")
    second = idea_add(workshop=workshop, by=org.member, kind="kpi", text="Demo bookings")
    assert my_dots_left(workshop, org.member) == 2
    dot_add(idea=first, by=org.member)
    dot_add(idea=first, by=org.member)  # both dots on one idea is fine
    assert my_dots_left(workshop, org.member) == 0
    with pytest.raises(ValidationError) as caught:
        dot_add(idea=second, by=org.member)
    assert caught.value.message_dict["dots"] == [
        "You have used all your 2 dots. Take one back from another idea to put it here."
    ]
    assert DotVote.objects.filter(person=org.member).count() == 2
    # Another person's budget is their own.
    dot_add(idea=second, by=org.other_manager)
    dot_remove(idea=first, by=org.member)
    assert my_dots_left(workshop, org.member) == 1
    dot_add(idea=second, by=org.member)
    counts = {line.idea.text: line.dots for group in idea_board(workshop) for line in group.ideas}
    assert counts == {"Calls per lead": 1, "Demo bookings": 2}
    actions = [row.action for row in audit_rows("participation.idea.") if "dot" in row.action]
    assert actions == [
        "participation.idea.dot",
        "participation.idea.dot",
        "participation.idea.dot",
        "participation.idea.undot",
        "participation.idea.dot",
    ]


def test_a_viewer_and_people_not_invited_cannot_place_dots(
    org: Organisation, running: Workshop, colleague: User
) -> None:
    idea = idea_add(workshop=running, by=org.member, kind="kpi", text="Calls per lead")
    for person in (org.viewer, colleague, org.admin, org.manager):
        with pytest.raises(NotAllowed):
            dot_add(idea=idea, by=person)
    assert not DotVote.objects.exists()


def test_taking_back_a_dot_that_is_not_there_is_refused(
    org: Organisation, running: Workshop
) -> None:
    idea = idea_add(workshop=running, by=org.member, kind="kpi", text="Calls per lead")
    dot_add(idea=idea, by=org.other_manager)
    with pytest.raises(ValidationError) as caught:
        dot_remove(idea=idea, by=org.member)
    assert caught.value.message_dict["dots"] == ["You have no dot on this idea."]
    assert DotVote.objects.count() == 1


def test_dots_are_frozen_once_the_workshop_is_closed(org: Organisation, running: Workshop) -> None:
    idea = idea_add(workshop=running, by=org.member, kind="kpi", text="Calls per lead")
    dot_add(idea=idea, by=org.member)
    workshop_close(workshop=running, by=org.manager)
    with pytest.raises(ValidationError):
        dot_add(idea=idea, by=org.member)
    with pytest.raises(ValidationError):
        dot_remove(idea=idea, by=org.member)
    assert DotVote.objects.count() == 1


def test_a_smaller_budget_cannot_strand_dots_already_placed(
    org: Organisation, running: Workshop
) -> None:
    idea = idea_add(workshop=running, by=org.member, kind="kpi", text="Calls per lead")
    dot_add(idea=idea, by=org.member)
    dot_add(idea=idea, by=org.member)
    with pytest.raises(ValidationError) as caught:
        workshop_update(workshop=running, by=org.manager, dots_per_person=1)
    assert "dots_per_person" in caught.value.message_dict
    assert workshop_update(workshop=running, by=org.manager, dots_per_person=2).dots_per_person == 2


# -- ideas into proposals ------------------------------------------------------------------------


def test_the_author_turns_an_idea_into_a_proposal_linked_to_it(
    org: Organisation, running: Workshop
) -> None:
    idea = idea_add(workshop=running, by=org.member, kind="target", text="Aim for 55% in May")
    proposal = idea_to_proposal(
        idea=idea,
        by=org.member,
        kind="target_change",
        kpi=Kpi.objects.get(key="conversion"),
        target_value=Decimal("0.55"),
        effective_from="2026-05",
    )
    proposal.refresh_from_db()
    assert proposal.idea == idea
    assert proposal.author == org.member
    assert proposal.kind == "target_change"
    assert proposal.status == "open"
    assert proposal.title == "Aim for 55% in May"
    assert proposal.why == "Aim for 55% in May"
    assert proposal.target_value == Decimal("0.55")
    assert proposal.team == org.north
    assert proposal.goal == Goal.objects.get(key="convert")  # the workshop's one goal
    created = AuditEntry.objects.get(
        action="participation.proposal.create", object_id=str(proposal.pk)
    )
    assert created.actor == org.member
    assert created.after is not None
    assert created.after["idea_id"] == idea.pk
    linked = AuditEntry.objects.get(action="participation.idea.propose", object_id=str(idea.pk))
    assert linked.after == {"proposal": proposal.pk, "kind": "target_change"}


def test_an_idea_becomes_one_proposal_only(org: Organisation, running: Workshop) -> None:
    idea = idea_add(workshop=running, by=org.member, kind="data", text="Retire revenue")
    revenue = Kpi.objects.get(key="revenue")
    idea_to_proposal(idea=idea, by=org.manager, kind="retire_kpi", kpi=revenue)
    written = AuditEntry.objects.count()
    with pytest.raises(ValidationError) as caught:
        idea_to_proposal(idea=idea, by=org.member, kind="retire_kpi", kpi=revenue)
    assert "idea" in caught.value.message_dict
    assert Proposal.objects.count() == 1
    assert AuditEntry.objects.count() == written


def test_only_the_facilitator_an_admin_or_the_author_makes_the_proposal(
    org: Organisation, running: Workshop
) -> None:
    idea = idea_add(workshop=running, by=org.member, kind="data", text="Retire revenue")
    revenue = Kpi.objects.get(key="revenue")
    for person in (org.viewer, org.other_manager):
        with pytest.raises(NotAllowed):
            idea_to_proposal(idea=idea, by=person, kind="retire_kpi", kpi=revenue)
    assert not Proposal.objects.exists()
    assert idea_to_proposal(idea=idea, by=org.admin, kind="retire_kpi", kpi=revenue).idea == idea


def test_the_proposals_own_checks_apply_and_nothing_is_written_when_they_fail(
    org: Organisation, running: Workshop
) -> None:
    idea = idea_add(workshop=running, by=org.member, kind="target", text="Aim higher")
    written = AuditEntry.objects.count()
    with pytest.raises(ValidationError) as caught:
        idea_to_proposal(
            idea=idea,
            by=org.member,
            kind="target_change",
            kpi=Kpi.objects.get(key="conversion"),
            effective_from="2026-05",
        )
    assert "target_value" in caught.value.message_dict
    assert not Proposal.objects.exists()
    assert AuditEntry.objects.count() == written


# -- feedback ------------------------------------------------------------------------------------


def test_feedback_is_given_once_by_each_invited_person_once_it_has_started(
    org: Organisation, workshop: Workshop, colleague: User
) -> None:
    with pytest.raises(ValidationError):
        feedback_give(workshop=workshop, by=org.member, rating=4)
    workshop_start(workshop=workshop, by=org.manager)
    feedback_give(workshop=workshop, by=org.member, rating=4, comment="  Useful  ")
    workshop_close(workshop=workshop, by=org.manager)
    feedback_give(workshop=workshop, by=org.viewer, rating=5)  # an invited viewer too
    with pytest.raises(ValidationError) as caught:
        feedback_give(workshop=workshop, by=org.member, rating=2)
    assert "rating" in caught.value.message_dict
    with pytest.raises(NotAllowed):
        feedback_give(workshop=workshop, by=colleague, rating=5)
    stored = dict(WorkshopFeedback.objects.values_list("person__email", "rating"))
    assert stored == {"mark@example.com": 4, "vera@example.com": 5}
    assert WorkshopFeedback.objects.get(person=org.member).comment == "Useful"
    assert [row.action for row in audit_rows("participation.workshop.feedback")] == [
        "participation.workshop.feedback"
    ] * 2


@pytest.mark.parametrize("rating", [0, 6, -1, 4.5, "five", None])
def test_a_rating_outside_one_to_five_is_refused(
    org: Organisation, running: Workshop, rating: object
) -> None:
    with pytest.raises(ValidationError) as caught:
        feedback_give(workshop=running, by=org.member, rating=rating)
    assert caught.value.message_dict == {"rating": ["Rate the workshop from 1 to 5."]}
    assert not WorkshopFeedback.objects.exists()


# -- the summary -----------------------------------------------------------------------------


def test_the_summary_adds_up_attendance_ideas_dots_proposals_and_feedback(
    org: Organisation, running: Workshop, colleague: User
) -> None:
    workshop_invite(workshop=running, by=org.manager, people=[colleague])
    calls = idea_add(workshop=running, by=org.member, kind="kpi", text="Calls per lead")
    demos = idea_add(workshop=running, by=colleague, kind="kpi", text="Demo bookings")
    aim = idea_add(workshop=running, by=org.other_manager, kind="target", text="Aim for 55%")
    source = idea_add(workshop=running, by=org.viewer, kind="data", text="Leads lack a source")
    for idea in (calls, demos):
        idea_group(idea=idea, by=org.manager, group="Activity")
    # Dots: Mark 2 on demos and 1 on aim; Mia 3 on demos; Sam 1 on calls and 1 on source.
    for idea, person in [
        (demos, org.member),
        (demos, org.member),
        (aim, org.member),
        (demos, colleague),
        (demos, colleague),
        (demos, colleague),
        (calls, org.other_manager),
        (source, org.other_manager),
    ]:
        dot_add(idea=idea, by=person)
    attendance_record(
        workshop=running, by=org.manager, present=[org.member.pk, colleague.pk, org.viewer.pk]
    )
    proposal = idea_to_proposal(
        idea=aim,
        by=org.other_manager,
        kind="target_change",
        kpi=Kpi.objects.get(key="conversion"),
        target_value="0.55",
        effective_from="2026-05",
    )
    workshop_close(workshop=running, by=org.manager)
    feedback_give(workshop=running, by=org.member, rating=5, comment="Great")
    feedback_give(workshop=running, by=colleague, rating=4)
    feedback_give(workshop=running, by=org.viewer, rating=2, comment="Too long")

    summary = workshop_summary(running)

    assert summary.attendance.invited == 4
    assert [str(person) for person in summary.attendance.attended] == [
        "Mark Member",
        "Mia Member",
        "Vera Viewer",
    ]
    assert [str(person) for person in summary.attendance.absent] == ["Sam South"]
    assert summary.attendance.unknown == []
    # Groups with most dots first, the ideas in no group last; in a group, most dots first.
    assert [
        (group.name, group.dots, [(line.idea.text, line.dots) for line in group.ideas])
        for group in summary.groups
    ] == [
        ("Activity", 6, [("Demo bookings", 5), ("Calls per lead", 1)]),
        ("", 2, [("Aim for 55%", 1), ("Leads lack a source", 1)]),
    ]
    assert summary.idea_count == 4
    assert summary.dot_count == 8 == DotVote.objects.count()
    assert [(item.title, item.status) for item in summary.proposals] == [("Aim for 55%", "open")]
    assert summary.proposals[0].pk == proposal.pk
    lines = {line.idea.pk: line for group in summary.groups for line in group.ideas}
    assert lines[aim.pk].proposal == proposal
    assert lines[calls.pk].proposal is None
    assert summary.feedback.count == 3
    assert summary.feedback.average == Decimal("3.7")  # (5 + 4 + 2) / 3 = 3.67
    assert summary.feedback.ratings == {5: 1, 4: 1, 3: 0, 2: 1, 1: 0}
    assert [(row.rating, row.comment) for row in summary.feedback.comments] == [
        (2, "Too long"),
        (5, "Great"),
    ]


def test_the_board_counts_the_readers_own_dots(org: Organisation, running: Workshop) -> None:
    idea = idea_add(workshop=running, by=org.member, kind="kpi", text="Calls per lead")
    dot_add(idea=idea, by=org.member)
    dot_add(idea=idea, by=org.other_manager)
    dot_add(idea=idea, by=org.other_manager)
    [group] = idea_board(running, org.other_manager)
    [line] = group.ideas
    assert (line.dots, line.mine) == (3, 2)
    [group] = idea_board(running, org.member)
    assert group.ideas[0].mine == 1
    assert my_dots_left(running, org.other_manager) == 1


def test_an_empty_workshop_has_an_empty_summary(org: Organisation, workshop: Workshop) -> None:
    summary = workshop_summary(workshop)
    assert summary.attendance.invited == 3
    assert len(summary.attendance.unknown) == 3
    assert summary.groups == []
    assert (summary.idea_count, summary.dot_count, summary.proposals) == (0, 0, [])
    assert summary.feedback.count == 0
    assert summary.feedback.average is None
