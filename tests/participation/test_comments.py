"""Discussions: subjects, @mentions, replies, notifications, edits kept as revisions, and
moderation by admins."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError

from headway.accounts.models import User
from headway.audit.errors import ConflictError, NotAllowed
from headway.kpis.models import Kpi
from headway.notifications.models import Notification
from headway.participation.comments import (
    comment_add,
    comment_edit,
    comment_hide,
    comment_unhide,
    mentioned_people,
)
from headway.participation.models import Comment, CommentRevision, Proposal, ProposalKind
from headway.participation.proposals import proposal_create
from headway.participation.selectors import thread
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


def on_kpi(by: User, text: str, reply_to: Comment | None = None) -> Comment:
    return comment_add(
        by=by, subject_kind="kpi", subject_key="conversion", text=text, reply_to=reply_to
    )


def notes() -> list[tuple[str, str]]:
    """Who was notified of what, in the order made."""
    return [
        (note.person.email, note.kind)
        for note in Notification.objects.select_related("person").order_by("pk")
    ]


# -- subjects ---------------------------------------------------------------------------------


def test_people_comment_on_proposals_kpis_goals_and_results(
    org: Organisation, proposal: Proposal
) -> None:
    subjects = [
        ("proposal", str(proposal.pk), str(proposal.pk)),
        ("kpi", "conversion", "conversion"),
        ("goal", "convert", "convert"),
        ("result", " conversion@2026-02 ", "conversion@2026-02"),
    ]
    for kind, key, stored in subjects:
        comment = comment_add(by=org.viewer, subject_kind=kind, subject_key=key, text="Why?")
        assert (comment.subject_kind, comment.subject_key, comment.author) == (
            kind,
            stored,
            org.viewer,
        )
    assert [row.action for row in audit_rows()][1:] == ["participation.comment.add"] * 4


@pytest.mark.parametrize(
    ("kind", "key", "field"),
    [
        ("proposal", "999", "subject_key"),
        ("proposal", "one", "subject_key"),
        ("kpi", "nope", "subject_key"),
        ("goal", "nope", "subject_key"),
        ("result", "conversion", "subject_key"),
        ("result", "nope@2026-02", "subject_key"),
        ("result", "conversion@2026-Q1", "subject_key"),
        ("result", "conversion@someday", "subject_key"),
        ("dataset", "leads", "subject_kind"),
    ],
)
def test_a_comment_needs_a_subject_that_exists(
    org: Organisation, kind: str, key: str, field: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        comment_add(by=org.member, subject_kind=kind, subject_key=key, text="Hello")
    assert set(raised.value.message_dict) == {field}
    assert not Comment.objects.exists()
    assert audit_rows() == []


def test_a_comment_is_between_one_and_five_thousand_characters(org: Organisation) -> None:
    for text in ("", "   \n ", "x" * 5001):
        with pytest.raises(ValidationError) as raised:
            on_kpi(org.member, text)
        assert set(raised.value.message_dict) == {"text"}
    assert "5,000" in raised.value.message_dict["text"][0]
    assert not Comment.objects.exists()
    assert len(on_kpi(org.member, "x" * 5000).text) == 5000


def test_only_people_signed_in_comment(org: Organisation) -> None:
    with pytest.raises(NotAllowed):
        on_kpi(AnonymousUser(), "Hello")  # type: ignore[arg-type]


# -- mentions -----------------------------------------------------------------------------------


def emails(people: list[User]) -> list[str]:
    return [person.email for person in people]


def test_a_mention_names_a_person_by_username_e_mail_or_its_local_part(org: Organisation) -> None:
    org.member.username = "mark.m"
    org.member.save()
    assert emails(mentioned_people("@nora and @SAM@example.com, ask @mark.m.")) == [
        "nora@example.com",
        "sam@example.com",
        "mark@example.com",
    ]
    assert emails(mentioned_people("請@vera看看，謝謝")) == ["vera@example.com"]
    assert emails(mentioned_people("@nora @nora @Nora")) == ["nora@example.com"]


def test_what_is_not_a_mention_stays_plain_text(org: Organisation) -> None:
    assert mentioned_people("write to nora@example.com") == []
    assert mentioned_people("@nobody, @ nora, @@") == []
    User.objects.create_user(email="nora@other.example", display_name="Other Nora")
    assert mentioned_people("@nora") == []
    assert emails(mentioned_people("@nora@example.com")) == ["nora@example.com"]
    org.viewer.is_active = False
    org.viewer.save()
    assert mentioned_people("@vera") == []


# -- notifications -------------------------------------------------------------------------------


def test_the_mentioned_hear_of_a_comment_but_never_its_writer(org: Organisation) -> None:
    comment = on_kpi(org.member, "@nora @sam and me, @mark: look")
    assert sorted(emails(list(comment.mentions.all()))) == [
        "mark@example.com",
        "nora@example.com",
        "sam@example.com",
    ]
    assert notes() == [("nora@example.com", "mention"), ("sam@example.com", "mention")]
    note = Notification.objects.get(person=org.manager)
    assert note.text == "Mark Member mentioned you: “@nora @sam and me, @mark: look”"
    assert note.url == f"/kpis/conversion/#comment-{comment.pk}"
    assert note.actor == org.member


def test_a_reply_tells_the_author_of_the_comment_it_answers(org: Organisation) -> None:
    question = on_kpi(org.member, "Why did it drop?")
    answer = on_kpi(org.manager, "Fewer leads", reply_to=question)
    on_kpi(org.member, "Thanks", reply_to=answer)
    on_kpi(org.member, "And I add to my own", reply_to=question)
    assert notes() == [("mark@example.com", "reply"), ("nora@example.com", "reply")]


def test_a_reply_stays_in_its_discussion_and_not_under_a_hidden_comment(
    org: Organisation,
) -> None:
    question = on_kpi(org.member, "Why?")
    with pytest.raises(ValidationError) as raised:
        comment_add(
            by=org.manager, subject_kind="goal", subject_key="convert", text="x", reply_to=question
        )
    assert set(raised.value.message_dict) == {"reply_to"}
    comment_hide(comment=question, by=org.admin, reason="Off topic")
    with pytest.raises(ValidationError):
        on_kpi(org.manager, "x", reply_to=question)


def test_the_author_of_a_proposal_hears_of_comments_on_it_once_each(
    org: Organisation, proposal: Proposal, colleague: User
) -> None:
    key = str(proposal.pk)
    first = comment_add(by=colleague, subject_kind="proposal", subject_key=key, text="+1")
    comment_add(by=colleague, subject_kind="proposal", subject_key=key, text="@mark see this")
    comment_add(by=org.manager, subject_kind="proposal", subject_key=key, text="Ok", reply_to=first)
    comment_add(by=org.member, subject_kind="proposal", subject_key=key, text="Thanks all")
    assert notes() == [
        ("mark@example.com", "proposal"),
        ("mark@example.com", "mention"),
        ("mia@example.com", "reply"),
        ("mark@example.com", "proposal"),
    ]
    assert Notification.objects.order_by("pk").first().text == (  # type: ignore[union-attr]
        "Mia Member commented on your proposal “Lower the conversion target”: “+1”"
    )


def test_notifications_are_written_in_each_readers_language(org: Organisation) -> None:
    org.manager.language = "zh-hant"
    org.manager.save()
    on_kpi(org.member, "@nora look")
    assert (
        Notification.objects.get(person=org.manager).text == "Mark Member 提到了您：「@nora look」"
    )


# -- edits ----------------------------------------------------------------------------------------


def test_an_edit_keeps_the_earlier_text_and_tells_only_the_newly_mentioned(
    org: Organisation,
) -> None:
    comment = on_kpi(org.member, "@nora first thoughts")
    edited = comment_edit(
        comment=comment, by=org.member, text="@nora @sam second thoughts", expected_version=1
    )
    assert (edited.text, edited.version) == ("@nora @sam second thoughts", 2)
    assert edited.edited_at is not None
    assert list(CommentRevision.objects.values_list("text", flat=True)) == ["@nora first thoughts"]
    assert sorted(emails(list(edited.mentions.all()))) == ["nora@example.com", "sam@example.com"]
    assert notes() == [("nora@example.com", "mention"), ("sam@example.com", "mention")]
    comment_edit(comment=edited, by=org.member, text="@nora third", expected_version=2)
    comment_edit(comment=edited, by=org.member, text="@nora @sam fourth", expected_version=3)
    assert len(notes()) == 2
    assert [row.action for row in audit_rows()] == [
        "participation.comment.add",
        "participation.comment.edit",
        "participation.comment.edit",
        "participation.comment.edit",
    ]
    [shown] = thread("kpi", "conversion", org.viewer)
    assert [revision.text for revision in shown.revisions] == [
        "@nora first thoughts",
        "@nora @sam second thoughts",
        "@nora third",
    ]
    assert shown.edited


def test_only_the_author_edits_a_comment_and_with_the_version_read(org: Organisation) -> None:
    comment = on_kpi(org.member, "Hello")
    with pytest.raises(NotAllowed):
        comment_edit(comment=comment, by=org.admin, text="Changed", expected_version=1)
    comment_edit(comment=comment, by=org.member, text="Hello again", expected_version=1)
    with pytest.raises(ConflictError):
        comment_edit(comment=comment, by=org.member, text="Stale", expected_version=1)
    with pytest.raises(ValidationError):
        comment_edit(comment=comment, by=org.member, text=" ", expected_version=2)
    unchanged = comment_edit(
        comment=comment, by=org.member, text="Hello again ", expected_version=2
    )
    assert unchanged.version == 2
    assert CommentRevision.objects.count() == 1


# -- moderation -----------------------------------------------------------------------------------


def test_an_admin_hides_a_comment_with_a_reason_and_everyone_sees_why(
    org: Organisation,
) -> None:
    comment = on_kpi(org.member, "Something rude")
    comment_edit(comment=comment, by=org.member, text="Something ruder", expected_version=1)
    on_kpi(org.manager, "A reply", reply_to=comment)
    for person in (org.manager, org.member):
        with pytest.raises(NotAllowed):
            comment_hide(comment=comment, by=person, reason="No")
    with pytest.raises(ValidationError) as raised:
        comment_hide(comment=comment, by=org.admin, reason="  ")
    assert set(raised.value.message_dict) == {"reason"}
    hidden = comment_hide(comment=comment, by=org.admin, reason="Not kind")
    assert (hidden.hidden_by, hidden.hidden_reason, hidden.version) == (org.admin, "Not kind", 3)
    [seen] = thread("kpi", "conversion", org.member)
    assert (seen.hidden, seen.text, seen.revisions) == (True, None, [])
    assert seen.hidden_note == "Hidden by a moderator: Not kind"
    assert [reply.text for reply in seen.replies] == ["A reply"]
    [moderated] = thread("kpi", "conversion", org.admin)
    assert moderated.text == "Something ruder"
    assert [revision.text for revision in moderated.revisions] == ["Something rude"]
    assert moderated.hidden_note == "Hidden by a moderator: Not kind"
    with pytest.raises(ValidationError):
        comment_edit(comment=hidden, by=org.member, text="Sorry", expected_version=3)
    with pytest.raises(ValidationError):
        comment_hide(comment=hidden, by=org.admin, reason="Again")


def test_an_admin_shows_a_hidden_comment_again(org: Organisation) -> None:
    comment = on_kpi(org.member, "Borderline")
    with pytest.raises(ValidationError):
        comment_unhide(comment=comment, by=org.admin, reason="Not hidden")
    comment_hide(comment=comment, by=org.admin, reason="Hmm")
    with pytest.raises(NotAllowed):
        comment_unhide(comment=comment, by=org.manager)
    shown = comment_unhide(comment=comment, by=org.admin, reason="On second thought")
    assert (shown.hidden_at, shown.hidden_by, shown.hidden_reason) == (None, None, "")
    [seen] = thread("kpi", "conversion", org.viewer)
    assert (seen.hidden, seen.text, seen.hidden_note) == (False, "Borderline", "")
    assert [row.action for row in audit_rows()] == [
        "participation.comment.add",
        "participation.comment.hide",
        "participation.comment.unhide",
    ]
    assert audit_rows()[-1].reason == "On second thought"


def test_a_thread_lists_comments_in_order_with_their_replies(org: Organisation) -> None:
    first = on_kpi(org.member, "first")
    second = on_kpi(org.manager, "second")
    on_kpi(org.admin, "reply to first", reply_to=first)
    nested = on_kpi(org.member, "reply to second", reply_to=second)
    on_kpi(org.manager, "reply to the reply", reply_to=nested)
    on_kpi(org.viewer, "third")
    comment_add(by=org.member, subject_kind="goal", subject_key="convert", text="elsewhere")

    def shape(items: list[Any]) -> list[Any]:
        return [(item.text, shape(item.replies)) for item in items]

    assert shape(thread("kpi", "conversion", org.viewer)) == [
        ("first", [("reply to first", [])]),
        ("second", [("reply to second", [("reply to the reply", [])])]),
        ("third", []),
    ]
    mine = [item.can_edit for item in thread("kpi", "conversion", org.member)]
    assert mine == [True, False, False]
