"""Every web form that takes text or numbers, given a NUL character in a text field or a
20-digit number in a number field, refuses it with an error that says why and saves
nothing; never a server error. PostgreSQL cannot store a NUL in text at all, and the app
database keeps at most 19 digits before the point: the API refuses both (422), and so
must the pages, those whose views read `request.POST` themselves included.

Each case is one field of one form. The form is read from the page that shows it (every
field a person can fill, with what the page fills in), and the same form sent unchanged
must save (a control: a refusal for another reason would otherwise pass as a refusal of
the bad value). "Nothing saved" is checked on the audit log: every write adds a row to
it. The cases run in the permission matrix's world, built once per module; each in a
savepoint rolled back after it.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern

from headway.accounts.models import Organization, Team, User
from headway.audit.models import AuditEntry
from headway.participation import comments
from headway.reviews.choices import DecisionKind, MeetingStatus
from headway.reviews.models import AgendaItem, Decision, Meeting, Participant
from headway.web import urls as web_urls
from tests.security.matrix_cells import cells
from tests.security.matrix_world import World, at, built, world

__all__ = ["built", "world"]

NUL = "before\x00after"
TWENTY_DIGITS = "12345678901234567890"
JSON_NUL = '{"before\\u0000after": "id"}'
# What a refusal looks like: Django's words for a NUL, Headway's for too many digits (in
# English, the test client's language), or a field marked invalid.
REFUSALS = (
    "Null characters are not allowed",
    "digits before the decimal point",
    'aria-invalid="true"',
    'class="errorlist',
)
HIDDEN = {"csrfmiddlewaretoken"}


# -- reading forms from pages -----------------------------------------------------------------


@dataclass
class Form:
    action: str
    fields: dict[str, Any] = field(default_factory=dict)  # a list for several boxes ticked
    kinds: dict[str, str] = field(default_factory=dict)


class _Forms(HTMLParser):
    """The POST forms of a page, each field with what the page fills in."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form" and a.get("method", "").lower() == "post":
            self._form = Form(action=a.get("action", ""))
            self.forms.append(self._form)
        if self._form is None or "name" not in a:
            if tag == "option" and self._form is not None and self._select:
                self._option(a)
            return
        name = a["name"]
        if tag == "input":
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    value = a.get("value", "on")
                    ticked = self._form.fields.get(name)
                    if kind == "checkbox" and ticked is not None:
                        listed = ticked if isinstance(ticked, list) else [ticked]
                        self._form.fields[name] = [*listed, value]
                    else:
                        self._form.fields[name] = value
                self._form.kinds[name] = kind
            elif kind not in ("submit", "button", "file", "image", "reset"):
                value = a.get("value", "")
                before = self._form.fields.get(name)
                if before is not None:  # a name repeated (hidden periods): all are sent
                    self._form.fields[name] = [
                        *(before if isinstance(before, list) else [before]),
                        value,
                    ]
                else:
                    self._form.fields[name] = value
                number = kind == "number" or a.get("inputmode") in ("decimal", "numeric")
                self._form.kinds[name] = "number" if number else kind
        elif tag == "textarea":
            self._textarea = name
            self._form.fields[name] = ""
            self._form.kinds[name] = "textarea"
        elif tag == "select":
            self._select = name
            self._form.kinds[name] = "select"

    def _option(self, a: dict[str, str]) -> None:
        assert self._form is not None
        assert self._select is not None
        # As a browser sends it: the option selected, or else the first.
        value = a.get("value", "")
        if "selected" in a or self._select not in self._form.fields:
            self._form.fields[self._select] = value

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea:
            # The first newline after <textarea> is not part of its value.
            text = self._form.fields[self._textarea] + data
            self._form.fields[self._textarea] = text.removeprefix("\n")


def forms_of(html: str) -> list[Form]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def typed_fields(form: Form) -> dict[str, str]:
    """The fields a person types into (text or number), by name: their kind."""
    return {
        name: kind
        for name, kind in form.kinds.items()
        if name not in HIDDEN and kind not in ("hidden", "checkbox", "radio", "select", "submit")
    }


# -- the scene: the matrix's world with a meeting under way -----------------------------------


@dataclass
class Scene:
    world: World
    admin: User
    meeting: Meeting  # in the meeting, chaired by the admin
    item: AgendaItem  # the admin's own KPI on its agenda
    decision: Decision  # recorded, waiting for the admin as chair
    hidden_comment: int

    def own(self, name: str) -> Any:
        return getattr(self.world.own["admin"], name)

    def team(self, name: str) -> Any:
        return getattr(self.world.scopes["team"], name)


@pytest.fixture
def scene(world: World) -> Scene:
    admin = world.people["admin"]
    # The Django admin's pages (organisation, teams, people) are for superusers.
    admin.is_staff = admin.is_superuser = True
    admin.save(update_fields=["is_staff", "is_superuser"])
    cycle_meeting = world.own["admin"].meeting
    assert cycle_meeting is not None
    meeting = Meeting.objects.create(
        cycle=cycle_meeting.cycle,
        title="The running review",
        scheduled_at=at(2026, 4, 20),
        chair=admin,
        status=MeetingStatus.IN_MEETING,
        created_by=admin,
    )
    Participant.objects.create(meeting=meeting, person=admin)
    kpi = world.own["admin"].kpi
    item = AgendaItem.objects.create(meeting=meeting, kpi=kpi, reason="added", added_by=admin)
    decision = Decision.objects.create(
        meeting=meeting,
        item=item,
        kpi=kpi,
        kind=DecisionKind.KEEP,
        reason="Keep it as it is",
        status="proposed",
        recorded_by=admin,
    )
    other = world.scopes["other"].comment
    assert other is not None
    hidden = comments.comment_hide(comment=other, by=admin, reason="Off topic")
    return Scene(world, admin, meeting, item, decision, hidden.pk)


# -- the cases --------------------------------------------------------------------------------

Url = Callable[[Scene], str]


@dataclass(frozen=True)
class Case:
    """A form: the page showing it, the URL it posts to (the page itself when None), its
    typed fields (`numbers` take numbers, the rest text), and values that make the form
    as the page fills it in valid. `then` is how a refusal shows: the form again with
    its errors, or a message on the page the view goes back to."""

    name: str
    page: Url
    texts: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    action: Url | None = None
    valid: dict[str, str] = field(default_factory=dict)
    # Per number field, values that make it count (e.g. the kind of decision reading it).
    for_numbers: dict[str, dict[str, str]] = field(default_factory=dict)
    then: str = "form"
    writes: bool = True
    caller: str = "admin"
    pick: str = ""  # a field the wanted form has, when several post to the same URL
    # Posted by htmx from another form's fields as they are typed (a check, a preview).
    htmx: bool = False
    # Text fields read as JSON: tried with a NUL written as a JSON escape too.
    json: tuple[str, ...] = ()
    # Text fields the page shows which the view never reads.
    unread: tuple[str, ...] = ()


def _meeting_page(scene: Scene) -> str:
    return f"/reviews/meetings/{scene.meeting.pk}/"


def _own_meeting_page(scene: Scene) -> str:
    return f"/reviews/meetings/{scene.own('meeting').pk}/"


SOURCE_VALID = {
    "sql": {
        "config_url": "postgresql://reader@db.example.com/sales",
        "config_query": "SELECT deal_id FROM deals",
        "secret_password": "secret",
    },
    "rest": {"config_base_url": "https://crm.example.com", "config_path": "/leads"},
    "hubspot": {"secret_access_token": "a-token"},
    "pipedrive": {"secret_api_token": "a-token"},
    "salesforce": {
        "config_object": "Opportunity",
        "secret_client_id": "an-id",
        "secret_client_secret": "a-secret",
    },
}


def _source_case(kind: str, texts: tuple[str, ...], numbers: tuple[str, ...]) -> Case:
    return Case(
        name=f"source_edit:{kind}",
        page=lambda s: f"/data/deals/source/?kind={kind}",
        action=lambda s: f"/data/deals/source/?kind={kind}",
        texts=texts,
        numbers=numbers,
        valid=SOURCE_VALID[kind],
        json=tuple(name for name in texts if name in JSON_FIELDS),
    )


# Source fields typed in as JSON: a NUL can hide in them as an escape.
JSON_FIELDS = {
    "config_fields",
    "config_headers",
    "config_params",
    "config_paging",
    "config_incremental",
}
CRM = ("config_base_url", "config_fields", "config_id_column", "config_updated_column")

CASES: list[Case] = [
    Case(
        "goal_new",
        lambda s: "/goals/new/",
        ("key", "title", "statement", "start", "due", "description"),
        valid={"key": "a-new-goal", "title": "A new goal"},
    ),
    Case(
        "goal_edit",
        lambda s: f"/goals/{s.team('goal').key}/edit/",
        ("title", "statement", "start", "due", "description"),
    ),
    Case(
        "kpi_new",
        lambda s: "/kpis/new/",
        ("key", "name", "description", "formula"),
        ("green_from", "amber_from"),
        valid={"key": "a_new_kpi", "name": "A new KPI", "formula": "won"},
    ),
    Case(
        "kpi_edit",
        lambda s: f"/kpis/{s.team('kpi').key}/edit/",
        ("name", "description", "formula"),
        ("green_from", "amber_from"),
    ),
    Case(
        "target_new",
        lambda s: f"/kpis/{s.team('kpi').key}/targets/new/",
        ("effective_from", "where_value", "reason"),
        ("value",),
        valid={"effective_from": "2026-07", "value": "5", "reason": "Raised"},
    ),
    Case(
        "formula_check",
        lambda s: "/kpis/new/",
        ("formula",),
        action=lambda s: "/kpis/formula-check/",
        writes=False,
        htmx=True,
    ),
    Case(
        "kpi_preview",
        lambda s: "/kpis/new/",
        ("formula",),
        action=lambda s: "/kpis/preview/",
        writes=False,
        htmx=True,
    ),
    Case("tokens", lambda s: "/me/tokens/", ("name",), valid={"name": "My laptop"}),
    Case(
        "glossary_edit",
        lambda s: "/glossary/",
        ("kpi{pk}-meaning_en", "kpi{pk}-meaning_zh", "kpi{pk}-why_en", "kpi{pk}-why_zh"),
        action=lambda s: f"/glossary/{s.team('kpi').key}/edit/",
    ),
    _source_case(
        "sql",
        (
            "name",
            "config_url",
            "config_table",
            "config_query",
            "config_cursor_column",
            "secret_password",
        ),
        ("config_max_rows", "config_timeout_seconds"),
    ),
    _source_case(
        "rest",
        (
            "name",
            "config_base_url",
            "config_path",
            "config_records_path",
            "config_fields",
            "config_headers",
            "config_params",
            "config_paging",
            "config_incremental",
        ),
        ("config_max_pages",),
    ),
    _source_case("hubspot", ("name", *CRM, "secret_access_token"), ("config_page_size",)),
    _source_case("pipedrive", ("name", *CRM, "secret_api_token"), ("config_page_size",)),
    _source_case(
        "salesforce",
        (
            "name",
            "config_login_url",
            "config_object",
            "config_fields",
            "config_id_column",
            "config_updated_column",
            "config_updated_field",
            "config_api_version",
            "secret_client_id",
            "secret_client_secret",
            "secret_refresh_token",
        ),
        ("config_page_size",),
    ),
    Case(
        "source_edit",
        lambda s: "/data/leads/source/",
        (
            "name",
            "config_base_url",
            "config_path",
            "config_records_path",
            "config_fields",
            "config_headers",
            "config_params",
            "config_paging",
            "config_incremental",
        ),
        ("config_max_pages",),
        json=("config_fields", "config_headers", "config_params"),
    ),
    Case(
        "periods",
        lambda s: "/periods/",
        ("period", "reason"),
        valid={"period": "2026-02", "reason": "Books closed"},
    ),
    Case(
        "period_reopen",
        lambda s: "/periods/",
        ("reason",),
        action=lambda s: f"/periods/{s.world.lock_pk}/reopen/",
        valid={"reason": "A late invoice"},
    ),
    Case("reviews", lambda s: "/reviews/", ("period", "title"), valid={"period": "2025-Q4"}),
    Case(
        "review_meeting_new",
        lambda s: f"/reviews/{s.world.cycle_pk}/meetings/new/",
        ("title", "scheduled_at", "location", "comments_due"),
        ("remind_days_before",),
        valid={"scheduled_at": "2026-06-01T10:00"},
    ),
    Case(
        "review_meeting_edit",
        lambda s: f"/reviews/meetings/{s.meeting.pk}/edit/",
        ("title", "scheduled_at", "location", "comments_due"),
        ("remind_days_before",),
    ),
    Case(
        "review_agenda_add",
        _meeting_page,
        ("title",),
        action=lambda s: f"/reviews/meetings/{s.meeting.pk}/agenda/",
        valid={"kpi": "", "title": "Any other business"},
    ),
    Case(
        "review_add_kpi",
        _meeting_page,
        ("key", "name", "formula", "target_from", "reason"),
        ("target",),
        action=lambda s: f"/reviews/meetings/{s.meeting.pk}/new-kpi/",
        valid={"key": "added_kpi", "name": "Added", "formula": "won", "reason": "Wanted"},
    ),
    Case(
        "review_item_notes",
        _meeting_page,
        ("notes",),
        action=lambda s: f"/reviews/items/{s.item.pk}/notes/",
        valid={"notes": "Noted"},
    ),
    Case(
        "review_item_comment",
        _meeting_page,
        ("text",),
        action=lambda s: f"/reviews/items/{s.item.pk}/comment/",
        valid={"text": "It recovers"},
    ),
    Case(
        "review_item_decision",
        _meeting_page,
        ("value", "effective_from", "formula", "action_title", "action_due", "reason"),
        ("value", "green_from", "amber_from"),
        action=lambda s: f"/reviews/items/{s.item.pk}/decision/",
        valid={"kind": "keep", "reason": "It works"},
        for_numbers={
            "value": {"kind": "change_target", "effective_from": "2026-07", "value": "5"},
            "green_from": {"kind": "change_kpi", "green_from": "95"},
            "amber_from": {"kind": "change_kpi", "amber_from": "85"},
        },
    ),
    Case(
        "review_decision_decide",
        _meeting_page,
        ("note",),
        action=lambda s: f"/reviews/decisions/{s.decision.pk}/decide/",
        valid={"decision": "approve"},
    ),
    Case(
        "review_decision_withdraw",
        _own_meeting_page,
        ("note",),
        action=lambda s: f"/reviews/decisions/{s.own('decision').pk}/withdraw/",
        valid={"note": "It cannot be applied"},
        then="message",
    ),
    Case(
        "review_action_close",
        _own_meeting_page,
        ("note",),
        action=lambda s: f"/reviews/actions/{s.own('action').pk}/close/",
        valid={"status": "done"},
    ),
    Case(
        "kpi_values",
        lambda s: f"/kpis/{s.own('kpi').key}/values/",
        ("comment",),
        ("value-{first}",),
        valid={"value-{first}": "12"},
    ),
    Case(
        "kpi_value_decision",
        lambda s: f"/kpis/{s.own('kpi').key}/values/",
        ("note",),
        action=lambda s: f"/kpis/{s.own('kpi').key}/values/{s.own('value').pk}/decision/",
        valid={"decision": "approve"},
        then="message",
    ),
    Case(
        "proposal_new:new_kpi",
        lambda s: "/proposals/new/?kind=new_kpi",
        ("kpi_name", "formula", "effective_from", "title", "why"),
        ("target_value",),
        action=lambda s: "/proposals/new/?kind=new_kpi",
        valid={
            "kpi_name": "Churn",
            "formula": "won",
            "title": "Count churn",
            "why": "We lose clients",
            "target_value": "5",
        },
    ),
    Case(
        "proposal_new:target_change",
        lambda s: f"/proposals/new/?kind=target_change&kpi={s.team('kpi').key}",
        ("effective_from", "title", "why"),
        ("target_value",),
        action=lambda s: f"/proposals/new/?kind=target_change&kpi={s.team('kpi').key}",
        valid={"target_value": "9", "why": "Too easy"},
    ),
    Case(
        "proposal_new:retire_kpi",
        lambda s: f"/proposals/new/?kind=retire_kpi&kpi={s.team('kpi').key}",
        ("title", "why"),
        action=lambda s: f"/proposals/new/?kind=retire_kpi&kpi={s.team('kpi').key}",
        valid={"why": "Nobody reads it"},
    ),
    Case("proposal_edit", lambda s: f"/proposals/{s.own('proposal').pk}/edit/", ("title", "why")),
    Case(
        "proposal_formula_check",
        lambda s: "/proposals/new/?kind=new_kpi",
        ("formula",),
        action=lambda s: "/proposals/formula-check/",
        writes=False,
        htmx=True,
    ),
    Case(
        "proposal_preview",
        lambda s: "/proposals/new/?kind=new_kpi",
        ("kpi_name", "formula", "effective_from", "title", "why"),
        ("target_value",),
        action=lambda s: "/proposals/preview/",
        writes=False,
        htmx=True,
        valid={"kind": "new_kpi", "formula": "won"},
    ),
    Case(
        "proposal_status",
        lambda s: f"/proposals/{s.team('proposal').pk}/",
        ("reason",),
        action=lambda s: f"/proposals/{s.team('proposal').pk}/status/",
        valid={"status": "declined", "reason": "Not now"},
    ),
    Case(
        "comment_add",
        lambda s: f"/kpis/{s.team('kpi').key}/",
        ("text",),
        action=lambda s: "/comments/",
        valid={"text": "Why so low?"},
        pick="subject_key",
    ),
    Case(
        "comment_add:reply",
        lambda s: f"/kpis/{s.team('kpi').key}/",
        ("text",),
        action=lambda s: "/comments/",
        valid={"text": "Because"},
        pick="reply_to",
    ),
    Case(
        "comment_edit",
        lambda s: f"/kpis/{s.own('kpi').key}/",
        ("text",),
        action=lambda s: f"/comments/{s.own('comment').pk}/edit/",
        valid={"text": "Changed words"},
    ),
    Case(
        "comment_hide",
        lambda s: f"/kpis/{s.team('kpi').key}/",
        ("reason",),
        action=lambda s: f"/comments/{s.team('comment').pk}/hide/",
        valid={"reason": "Off topic"},
    ),
    Case(
        "comment_unhide",
        lambda s: f"/kpis/{s.world.scopes['other'].kpi.key}/",
        ("reason",),
        action=lambda s: f"/comments/{s.hidden_comment}/unhide/",
    ),
    Case(
        "workshop_new",
        lambda s: "/workshops/new/",
        ("topic", "starts_at", "location", "agenda"),
        ("dots_per_person",),
        valid={"topic": "Better KPIs", "starts_at": "2026-06-01T10:00"},
    ),
    Case(
        "workshop_edit",
        lambda s: f"/workshops/{s.own('workshop').pk}/edit/",
        ("topic", "starts_at", "location", "agenda"),
        ("dots_per_person",),
    ),
    Case(
        "workshop_idea_add",
        lambda s: f"/workshops/{s.own('workshop').pk}/board/",
        ("text",),
        action=lambda s: f"/workshops/{s.own('workshop').pk}/ideas/",
        valid={"text": "Count churn"},
    ),
    Case(
        "workshop_idea_group",
        lambda s: f"/workshops/{s.own('workshop').pk}/board/",
        ("group",),
        action=lambda s: f"/workshops/{s.own('workshop').pk}/ideas/{s.own('idea').pk}/group/",
        valid={"group": "Clients"},
        then="message",
    ),
    Case(
        "workshop_idea_propose",
        lambda s: f"/workshops/{s.own('workshop').pk}/ideas/{s.own('idea').pk}/propose/",
        ("title", "why", "kpi_name", "formula", "effective_from"),
        ("target_value",),
        valid={
            "kind": "new_kpi",
            "kpi": "",
            "kpi_name": "Churn",
            "formula": "won",
            "unit": "number",
            "grain": "month",
            "direction": "up",
        },
    ),
    Case(
        "workshop_feedback",
        lambda s: f"/workshops/{s.own('workshop').pk}/feedback/",
        ("comment",),
        valid={"rating": "4"},
    ),
    Case(
        "admin:organization",
        lambda s: f"/admin/accounts/organization/{Organization.objects.get().pk}/change/",
        ("name", "timezone", "currency"),
    ),
    Case(
        "admin:team",
        lambda s: f"/admin/accounts/team/{Team.objects.get(key='north').pk}/change/",
        ("name", "key"),
    ),
    Case(
        "admin:user",
        lambda s: f"/admin/accounts/user/{s.world.people['member'].pk}/change/",
        ("email", "display_name"),
    ),
]

# POST views that take no typed text or number: what they read instead.
NO_TYPED_INPUT = {
    "language": "a language chosen from a list",
    "notifications": "a choice of digest (radio buttons)",
    "notifications_read_all": "nothing",
    "notification_open": "nothing",
    "token_revoke": "nothing",
    "import_upload": "a file (its name: tests/security/test_upload_names.py)",
    "import_preview": "a cancel button and a checkbox",
    "source_sync": "a checkbox",
    "report_subscriptions": "a language chosen from a list per team",
    "review_meeting_step": "a step button",
    "review_attendance": "checkboxes",
    "review_item_move": "an up or down button",
    "review_item_remove": "nothing",
    "review_decision_apply": "nothing",
    "review_minutes_send": "nothing",
    "proposal_vote": "a support or withdraw button",
    "proposal_apply": "nothing",
    "workshop_start": "nothing",
    "workshop_close": "nothing",
    "workshop_invite": "checkboxes",
    "workshop_attendance": "checkboxes",
    "workshop_dot_add": "nothing",
    "workshop_dot_remove": "nothing",
}


def _attempts() -> list[tuple[str, str, str]]:
    tried = []
    for case in CASES:
        tried.extend((case.name, name, "nul") for name in case.texts)
        tried.extend((case.name, name, "digits") for name in case.numbers)
        tried.extend((case.name, name, "json") for name in case.json)
    return tried


BY_NAME = {case.name: case for case in CASES}


def _field_name(name: str, scene: Scene, form: Form) -> str:
    """A field's name on the page: {pk} is the team KPI's id, {first} the first period of
    a grid of values."""
    if "{first}" in name:
        prefix = name.split("{first}")[0]
        first = next(shown for shown in form.fields if shown.startswith(prefix))
        return first
    return name.replace("{pk}", str(scene.team("kpi").pk))


def _form_of(case: Case, scene: Scene, client: Client) -> tuple[str, Form]:
    page = case.page(scene)
    shown = client.get(page)
    assert shown.status_code == 200, f"{page} answered {shown.status_code}"
    action = case.action(scene) if case.action is not None else page
    wanted = urlsplit(page if case.htmx else action).path
    found = [
        form
        for form in forms_of(shown.content.decode())
        if urlsplit(form.action or page).path == wanted
        and (not case.pick or case.pick in form.fields)
    ]
    assert found, f"{page} shows no form posting to {action}"
    return action, found[0]


def _send(client: Client, action: str, data: dict[str, str]) -> tuple[int, str, int]:
    """Posts in a savepoint rolled back after it: the status, the page the person ends on
    and how many audit rows the post added. A server error is status 500."""
    with transaction.atomic():
        before = AuditEntry.objects.count()
        try:
            answer = client.post(action, data, follow=False)
        except Exception as error:  # the test client re-raises what would be a 500
            transaction.set_rollback(True)
            return 500, f"{type(error).__name__}: {error}", 0
        added = AuditEntry.objects.count() - before
        html = answer.content.decode()
        status = answer.status_code
        if status in (301, 302):
            status = 302
            html = client.get(answer["Location"]).content.decode()
        transaction.set_rollback(True)
    return status, html, added


def _errors_in(html: str) -> list[str]:
    """The errors and messages a page shows, as text."""
    found = re.findall(
        r'class="(?:errorlist|message[^"]*)[^"]*"[^>]*>(.*?)</(?:ul|div|li)>', html, re.S
    )
    return [re.sub(r"<[^>]+>|\s+", " ", text).strip() for text in found]


def _signed_in(scene: Scene, caller: str) -> Client:
    client = Client()
    person = scene.world.person(caller)
    assert person is not None
    client.force_login(person)
    return client


@pytest.mark.parametrize(("name", "field_name", "bad"), _attempts())
def test_a_form_refuses_nul_or_twenty_digits_with_an_error_and_saves_nothing(
    scene: Scene, name: str, field_name: str, bad: str
) -> None:
    case = BY_NAME[name]
    client = _signed_in(scene, case.caller)
    action, form = _form_of(case, scene, client)
    body = form.fields | {_field_name(key, scene, form): value for key, value in case.valid.items()}
    if bad == "digits":
        body |= case.for_numbers.get(field_name, {})
    status, html, added = _send(client, action, body)
    assert status < 400, f"the form as shown was refused: {status} {html[:2000]}"
    if case.writes:
        # Saved: an audit row, or (where a change is kept as a revision) the page after.
        saved = added > 0 or status == 302
        assert saved, f"the form as shown saved nothing: {_errors_in(html)}"
    target = _field_name(field_name, scene, form)
    assert target in form.fields, f"{target} is not on the form"
    value = {"nul": NUL, "digits": TWENTY_DIGITS, "json": JSON_NUL}[bad]
    status, html, added = _send(client, action, body | {target: value})
    assert status < 500, html
    assert added == 0, "saved"
    if case.then == "form":
        assert status not in (301, 302), "went on as if saved"
    assert any(sign in html for sign in REFUSALS), f"no error said why: {html[:3000]}"


def test_every_typed_field_of_every_form_is_tried(scene: Scene) -> None:
    """A field added to a form, or a form whose fields changed, shows here."""
    wrong = []
    for case in CASES:
        client = _signed_in(scene, case.caller)
        try:
            _action, form = _form_of(case, scene, client)
        except AssertionError as error:
            wrong.append(f"{case.name}: {error}")
            continue
        shown = {name for name, kind in typed_fields(form).items() if kind != "password"}
        shown |= {name for name, kind in typed_fields(form).items() if kind == "password"} & {
            _field_name(name, scene, form) for name in case.texts
        }
        listed = {_field_name(name, scene, form) for name in (*case.texts, *case.numbers)}
        if case.htmx:
            continue  # the fields of another form, tried in its own case
        if any("{first}" in name for name in case.numbers):
            # One cell of the grid of values stands for them all.
            shown = {name for name in shown if not name.startswith("value-")} | (listed & shown)
        if case.name.startswith("admin:"):
            shown &= listed | {"username", "first_name", "last_name"}
            shown -= {"username", "first_name", "last_name"} - listed
        if shown - set(case.unread) != listed:
            wrong.append(f"{case.name}: shown {sorted(shown)}, listed {sorted(listed)}")
    assert not wrong, "\n".join(wrong)


def test_every_post_view_is_tried_or_takes_no_typed_input() -> None:
    names = {
        pattern.name
        for pattern in web_urls.urlpatterns
        if isinstance(pattern, URLPattern) and pattern.name
    }
    tried = {case.name.split(":")[0] for case in CASES}
    posted = {name for name in names if _takes_post(name)}
    assert sorted(posted - tried - set(NO_TYPED_INPUT)) == []


def _takes_post(name: str) -> bool:
    """Whether the permission matrix lists a POST for a web URL name."""
    return any(cell.method == "POST" for cell in cells("ui").get(name, []))


def test_the_scene_is_what_the_cases_expect(scene: Scene) -> None:
    assert scene.meeting.status == MeetingStatus.IN_MEETING
    assert scene.own("meeting").status == MeetingStatus.DECIDED
    assert scene.own("decision").status == "approved"
    assert scene.own("workshop").status == "running"
    assert datetime.date(2026, 2, 1) == scene.own("value").period_start
