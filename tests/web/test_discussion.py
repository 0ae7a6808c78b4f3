"""Discussions on the pages: comments on a proposal, a KPI, a goal and one result (a KPI's
period), replies, @mentions shown highlighted, edits with their earlier versions, and
moderation by admins; bad input shows its error at the form and writes nothing.

The people of tests/web/conftest.py: Ada (admin), Nora (north's manager), Mo (a member of
north), Vic (a viewer) and Sam (south's manager).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import translation

from headway.kpis.models import Kpi
from headway.notifications.models import Notification
from headway.participation.comments import comment_add, comment_hide
from headway.participation.models import Comment, CommentRevision, Proposal, ProposalKind
from headway.participation.proposals import proposal_create
from tests.web.conftest import Org

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _default_language_after() -> Iterator[None]:
    """A page asked for in 繁體中文 leaves the language active in this thread: put it
    back, so that the next test (which may call services directly) reads English."""
    yield
    translation.deactivate()


def html_of(response: Any) -> str:
    return str(response.content.decode())


def text_of(response: Any) -> str:
    html = html_of(response)
    main = html[html.index("<main") : html.index("</main>")]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main)).strip()


def comment_block(html: str, comment: Comment) -> str:
    """The HTML of one comment, up to the next comment (its replies excluded)."""
    start = html.index(f'id="comment-{comment.pk}"')
    following = re.search(r'id="comment-\d+"', html[start + 10 :])
    return html[start : start + 10 + following.start()] if following else html[start:]


@pytest.fixture
def proposal(org: Org) -> Proposal:
    return proposal_create(
        by=org.mo,
        kind=ProposalKind.RETIRE_KPI,
        title="Retire deals closed",
        why="The win rate says it better.",
        kpi=Kpi.objects.get(key="deal_count"),
    )


def post_comment(client: Any, kind: str, key: str, text: str, **extra: Any) -> Any:
    return client.post(
        "/comments/", {"subject_kind": kind, "subject_key": key, "text": text, **extra}
    )


# -- on each subject -----------------------------------------------------------------------------


def test_people_comment_on_a_proposal_and_come_back_to_their_comment(
    org: Org, proposal: Proposal
) -> None:
    client = org.client(org.vic)  # viewers take part in discussions too
    page = html_of(client.get(f"/proposals/{proposal.pk}/"))
    assert 'action="/comments/"' in page
    response = post_comment(client, "proposal", str(proposal.pk), "Who still reads it?")
    comment = Comment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/proposals/{proposal.pk}/#comment-{comment.pk}"
    page = client.get(f"/proposals/{proposal.pk}/")
    assert "Your comment was added." in text_of(page)
    block = comment_block(html_of(page), comment)
    assert "Vic Viewer" in block
    assert "Who still reads it?" in block
    assert "1 comment" in text_of(page)
    # The author of the proposal was told, with a link to the comment.
    note = Notification.objects.get(person=org.mo)
    assert note.url == f"/proposals/{proposal.pk}/#comment-{comment.pk}"


def test_people_comment_on_a_kpi_and_a_goal(org: Org) -> None:
    client = org.client(org.mo)
    response = post_comment(client, "kpi", "win_rate", "Why did March jump?")
    on_kpi = Comment.objects.get(subject_kind="kpi")
    assert response["Location"] == f"/kpis/win_rate/#comment-{on_kpi.pk}"
    page = html_of(client.get("/kpis/win_rate/"))
    assert "Why did March jump?" in comment_block(page, on_kpi)

    response = post_comment(client, "goal", "win-more", "Should south join this goal?")
    on_goal = Comment.objects.get(subject_kind="goal")
    assert response["Location"] == f"/goals/win-more/#comment-{on_goal.pk}"
    page = html_of(client.get("/goals/win-more/"))
    assert "Should south join this goal?" in comment_block(page, on_goal)
    assert "Why did March jump?" not in page  # each subject has its own thread


def test_each_period_of_a_kpi_has_its_own_discussion(org: Org) -> None:
    client = org.client(org.nora)
    page = html_of(client.get("/kpis/win_rate/"))
    assert 'href="?period=2024-03#period-discussion"' in page
    assert 'id="period-discussion"' not in page  # until a period is chosen
    response = post_comment(
        client,
        "result",
        "win_rate@2024-03",
        "Two big deals closed early.",
        anchor="period-discussion",
    )
    comment = Comment.objects.get()
    assert comment.subject_key == "win_rate@2024-03"
    assert response["Location"] == f"/kpis/win_rate/?period=2024-03#comment-{comment.pk}"
    page = client.get("/kpis/win_rate/?period=2024-03")
    html = html_of(page)
    assert 'id="period-discussion"' in html
    assert "Discussion of March 2024" in text_of(page)
    assert "Two big deals closed early." in comment_block(html, comment)
    assert '<option value="2024-03" selected>' in html
    other = html_of(client.get("/kpis/win_rate/?period=2024-02"))
    assert "Two big deals closed early." not in other
    wrong = text_of(client.get("/kpis/win_rate/?period=2024-Q1"))
    assert "2024-Q1 is not a period of this KPI." in wrong


def test_a_comment_on_nothing_that_exists_is_not_found(org: Org, proposal: Proposal) -> None:
    client = org.client(org.mo)
    assert post_comment(client, "kpi", "no_such_kpi", "Hello").status_code == 404
    assert post_comment(client, "proposal", "9999", "Hello").status_code == 404
    assert post_comment(client, "meeting", "1", "Hello").status_code == 404
    assert Comment.objects.count() == 0
    assert org.client(None).post("/comments/", {}).status_code == 302  # sign in first


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("   ", "Write something first."),
        ("x" * 5001, "Write at most 5,000 characters (this has 5,001)."),
    ],
)
def test_bad_input_shows_its_error_at_the_form_and_writes_nothing(
    org: Org, proposal: Proposal, text: str, error: str
) -> None:
    client = org.client(org.mo)
    response = post_comment(client, "proposal", str(proposal.pk), text)
    assert response.status_code == 200
    html = html_of(response)
    assert "Nothing was saved" in html
    form = html[html.index('id="discussion-form"') :]
    assert re.search(r'field-invalid">\s*<label for="discussion-new-text"', form)
    assert error in form
    assert Comment.objects.count() == 0
    assert f'href="/proposals/{proposal.pk}/"' in html  # the way back


# -- replies and mentions -------------------------------------------------------------------------


def test_a_reply_is_shown_under_the_comment_it_answers(org: Org, proposal: Proposal) -> None:
    first = comment_add(
        by=org.nora, subject_kind="proposal", subject_key=str(proposal.pk), text="Hm."
    )
    client = org.client(org.mo)
    page = html_of(client.get(f"/proposals/{proposal.pk}/"))
    assert f'name="reply_to" value="{first.pk}"' in page
    response = post_comment(client, "proposal", str(proposal.pk), "It is.", reply_to=first.pk)
    reply = Comment.objects.get(reply_to=first)
    assert response["Location"].endswith(f"#comment-{reply.pk}")
    html = html_of(client.get(f"/proposals/{proposal.pk}/"))
    parent = html.index(f'id="comment-{first.pk}"')
    replies = html.index('class="comments comment-replies"', parent)
    assert parent < replies < html.index(f'id="comment-{reply.pk}"')
    assert Notification.objects.filter(person=org.nora, kind="reply").count() == 1


def test_mentions_are_highlighted_and_told(org: Org) -> None:
    comment_add(by=org.nora, subject_kind="kpi", subject_key="win_rate", text="Any ideas?")
    client = org.client(org.mo)
    page = text_of(client.get("/kpis/win_rate/"))
    assert "@nora Nora North" in page  # those who wrote in the thread are suggested
    post_comment(client, "kpi", "win_rate", "@nora, see this. Mail me at mo@example.com <b>!</b>")
    comment = Comment.objects.get(author=org.mo)
    block = comment_block(html_of(client.get("/kpis/win_rate/")), comment)
    assert '<span class="mention" title="Nora North">@nora</span>, see this.' in block
    assert "mo@example.com &lt;b&gt;!&lt;/b&gt;" in block  # escaped, and no mention
    assert list(comment.mentions.values_list("email", flat=True)) == ["nora@example.com"]
    assert Notification.objects.get(kind="mention").person == org.nora


# -- edits --------------------------------------------------------------------------------------


def test_the_author_edits_a_comment_and_its_earlier_text_stays_readable(org: Org) -> None:
    comment = comment_add(by=org.mo, subject_kind="kpi", subject_key="win_rate", text="Frist!")
    client = org.client(org.mo)
    page = html_of(client.get("/kpis/win_rate/"))
    assert f'action="/comments/{comment.pk}/edit/"' in page
    response = client.post(
        f"/comments/{comment.pk}/edit/", {"text": "First!", "version": comment.version}
    )
    assert response["Location"] == f"/kpis/win_rate/#comment-{comment.pk}"
    comment.refresh_from_db()
    assert comment.text == "First!"
    for reader in (org.mo, org.vic, org.ada):
        block = comment_block(html_of(org.client(reader).get("/kpis/win_rate/")), comment)
        assert "edited" in block
        assert "1 earlier version" in block
        assert "Frist!" in block
    # Nobody else may edit it.
    other = org.client(org.nora)
    assert f'action="/comments/{comment.pk}/edit/"' not in html_of(other.get("/kpis/win_rate/"))
    refused = other.post(f"/comments/{comment.pk}/edit/", {"text": "Mine", "version": 2})
    assert refused.status_code == 403
    # An empty edit is refused at the form, the comment unchanged.
    empty = client.post(f"/comments/{comment.pk}/edit/", {"text": "", "version": comment.version})
    assert empty.status_code == 200
    assert "Write something first." in html_of(empty)
    assert re.search(r'<details class="comment-action" open>\s*<summary>Edit', html_of(empty))
    # An edit of a version read before someone else's is a conflict.
    stale = client.post(f"/comments/{comment.pk}/edit/", {"text": "Again", "version": 1})
    assert "Someone else changed this" in html_of(stale)
    comment.refresh_from_db()
    assert comment.text == "First!"
    assert CommentRevision.objects.count() == 1


# -- moderation --------------------------------------------------------------------------------


def test_an_admin_hides_a_comment_with_a_reason_and_shows_it_again(org: Org) -> None:
    comment = comment_add(by=org.mo, subject_kind="goal", subject_key="grow", text="Something rude")
    admin = org.client(org.ada)
    page = html_of(admin.get("/goals/grow/"))
    assert f'action="/comments/{comment.pk}/hide/"' in page
    empty = admin.post(f"/comments/{comment.pk}/hide/", {"reason": "", "version": 1})
    assert "Write something first." in html_of(empty)
    assert Comment.objects.get().hidden_at is None
    response = admin.post(
        f"/comments/{comment.pk}/hide/", {"reason": "Not how we talk here.", "version": 1}
    )
    assert response["Location"] == f"/goals/grow/#comment-{comment.pk}"
    for reader in (org.mo, org.vic, org.nora):
        block = comment_block(html_of(org.client(reader).get("/goals/grow/")), comment)
        assert "Hidden by a moderator: Not how we talk here." in block
        assert "Something rude" not in block
        assert "/hide/" not in block
        assert "/unhide/" not in block
    block = comment_block(html_of(admin.get("/goals/grow/")), comment)
    assert "Something rude" in block  # admins still read it
    assert f'action="/comments/{comment.pk}/unhide/"' in block
    admin.post(f"/comments/{comment.pk}/unhide/", {"reason": "", "version": 2})
    comment.refresh_from_db()
    assert comment.hidden_at is None
    assert "Something rude" in html_of(org.client(org.vic).get("/goals/grow/"))


def test_only_admins_moderate(org: Org) -> None:
    comment = comment_add(by=org.mo, subject_kind="goal", subject_key="grow", text="Fine")
    for person in (org.nora, org.mo, org.vic):
        client = org.client(person)
        assert "/hide/" not in html_of(client.get("/goals/grow/"))
        response = client.post(f"/comments/{comment.pk}/hide/", {"reason": "No", "version": 1})
        assert response.status_code == 403
    comment_hide(comment=comment, by=org.ada, reason="Test")
    response = org.client(org.nora).post(f"/comments/{comment.pk}/unhide/", {"version": 2})
    assert response.status_code == 403
    assert Comment.objects.get().hidden_at is not None


def test_a_hidden_comment_cannot_be_replied_to(org: Org) -> None:
    comment = comment_add(by=org.mo, subject_kind="kpi", subject_key="win_rate", text="Hm")
    comment_hide(comment=comment, by=org.ada, reason="Off topic")
    client = org.client(org.nora)
    assert f'name="reply_to" value="{comment.pk}"' not in html_of(client.get("/kpis/win_rate/"))
    response = post_comment(client, "kpi", "win_rate", "But why?", reply_to=comment.pk)
    assert response.status_code == 200
    assert "A comment hidden by a moderator cannot be replied to." in html_of(response)
    assert Comment.objects.count() == 1


def test_the_discussion_reads_in_traditional_chinese(org: Org) -> None:
    comment_add(by=org.mo, subject_kind="kpi", subject_key="win_rate", text="@nora 請看")
    page = html_of(org.client(org.vic).get("/kpis/win_rate/", HTTP_ACCEPT_LANGUAGE="zh-hant"))
    assert "1 則留言" in page
    assert '<span class="mention" title="Nora North">@nora</span> 請看' in page
