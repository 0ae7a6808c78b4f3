"""Every web form given a NUL character in a text field, or a 20-digit number in a
number field, shows the form again with an error and saves nothing; never a server
error. PostgreSQL cannot store a NUL in text at all, and the app database keeps at most
19 digits before the point: the API refuses both (400), and so must the pages.

The forms are read from the pages themselves (every field a person can fill, with what
the page fills in), so a field added to a form is tested without being listed here.
"Nothing saved" is checked on the audit log: every write adds a row to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest

from headway.audit.models import AuditEntry
from headway.reviews.models import ReviewCycle
from tests.web import conftest as web_conftest
from tests.web.conftest import Org

org = web_conftest.org
_quick_passwords = web_conftest._quick_passwords

NUL = "before\x00after"
TWENTY_DIGITS = "12345678901234567890"
# A field that is not free text (a date, a time) refuses a NUL as a value of its kind.
FIELD_ERROR = ("Null characters are not allowed", "errorlist", 'aria-invalid="true"')
HIDDEN = {"csrfmiddlewaretoken", "version"}


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)
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
                    self._form.fields[name] = a.get("value", "on")
                    self._form.kinds[name] = kind
            elif kind not in ("submit", "button", "file"):
                self._form.fields[name] = a.get("value", "")
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
        value = a.get("value", "")
        if "selected" in a or (value and not self._form.fields.get(self._select)):
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
            self._form.fields[self._textarea] += data


def _form(html: str, action: str) -> Form:
    parser = _Forms()
    parser.feed(html)
    found = [form for form in parser.forms if form.action in ("", action)] or parser.forms
    assert found, f"no form posting to {action}"
    return max(found, key=lambda form: len(form.fields))


def _pages(org: Org) -> list[str]:
    cycle = ReviewCycle.objects.first()
    pages = [
        "/goals/new/",
        "/goals/win-more/edit/",
        "/kpis/new/",
        "/kpis/win_rate/edit/",
        "/kpis/win_rate/targets/new/",
        "/workshops/new/",
    ]
    if cycle is not None:
        pages.append(f"/reviews/{cycle.pk}/meetings/new/")
    return pages


def _attempts(form: Form) -> list[tuple[str, str]]:
    tried = []
    for name, kind in form.kinds.items():
        if name in HIDDEN or kind in ("hidden", "checkbox", "radio", "select", "password"):
            continue
        tried.append((name, TWENTY_DIGITS if kind == "number" else NUL))
    return tried


@pytest.mark.parametrize("index", range(8))
def test_a_form_given_nul_or_twenty_digits_shows_an_error_and_saves_nothing(
    org: Org, index: int
) -> None:
    pages = _pages(org)
    if index >= len(pages):
        pytest.skip("fewer pages")
    page = pages[index]
    client = org.client(org.ada)
    shown = client.get(page)
    assert shown.status_code == 200, page
    form = _form(shown.content.decode(), page)
    attempts = _attempts(form)
    assert attempts, f"{page}: no text or number field found"
    wrong = []
    for name, value in attempts:
        before = AuditEntry.objects.count()
        data = dict(form.fields) | {name: value}
        answer = client.post(form.action or page, data)
        html = answer.content.decode()
        if answer.status_code >= 500 or answer.status_code in (301, 302):
            wrong.append(f"{name}={value!r}: answered {answer.status_code}")
        elif AuditEntry.objects.count() != before:
            wrong.append(f"{name}={value!r}: saved")
        elif not any(sign in html for sign in (*FIELD_ERROR, "digits")):
            wrong.append(f"{name}={value!r}: no error said why")
    assert wrong == [], page
