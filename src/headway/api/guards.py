"""Text that no database can store is refused before any view sees it.

A NUL character cannot be stored in PostgreSQL's text (it is not even allowed in a query
parameter), and a lone surrogate (JSON allows `"\\ud800"`) is not Unicode, so neither
SQLite nor PostgreSQL can encode it. Either would otherwise fail deep in a lookup or a
save with a server error; here it is invalid input (422), naming the field. The check runs
after authentication and the schema's validation, on every value the view receives: path
and query parameters, and the body, keys of objects included (a pushed row's columns).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from pydantic import BaseModel


def _problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character, which no text may hold"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (it holds a lone surrogate)"
    return None


def _fields(model: BaseModel) -> Iterator[tuple[str, Any]]:
    """The model's fields as the API names them (by alias), with their values."""
    for name, field in type(model).model_fields.items():
        yield field.alias or name, getattr(model, name)


def unstorable_text(value: Any, where: str = "") -> tuple[str, str] | None:
    """The first text in a value that cannot be stored: where it is, and why."""
    if isinstance(value, str):
        problem = _problem(value)
        return (where, problem) if problem else None
    children: Iterator[tuple[Any, Any]]
    if isinstance(value, BaseModel):
        children = _fields(value)
    elif isinstance(value, dict):
        for key in value:
            if isinstance(key, str) and (problem := _problem(key)):
                return where, f"has a name that {problem}"
        children = iter(value.items())
    elif isinstance(value, list | tuple):
        children = enumerate(value)
    else:
        return None
    for name, child in children:
        found = unstorable_text(child, f"{where}.{name}" if where else str(name))
        if found is not None:
            return found
    return None


def refuse_unstorable_text(view: Callable[..., Any]) -> Callable[..., Any]:
    """An operation decorator (ninja's "operation" mode: after validation): the view's
    values are checked, body fields by their own names, other parameters by theirs."""

    @functools.wraps(view)
    def checked(request: HttpRequest, *args: Any, **values: Any) -> Any:
        for name, value in values.items():
            found = unstorable_text(value, "" if isinstance(value, BaseModel) else name)
            if found is not None:
                field, problem = found
                raise ValidationError({field: problem})
        return view(request, *args, **values)

    return checked
