"""The security log: one line per event on the `headway.security` logger.

Sign-ins and their failures, sign-outs, refusals (a 403, a SQL query or a formula that did
not pass the checks), changes of who may do what. Each line is the event's name and its
facts as `key=value`, e.g.::

    login.failure user=ada@example.com ip=203.0.113.9 reason=password

Values come from people (an e-mail address typed at the sign-in page, a path, a formula),
so they are written so that a line can never pass for two: control and line-separator
characters are replaced, anything with a space, quote or `=` is quoted as JSON, and every
value is cut at 200 characters. Passwords, codes and tokens are never given to it.

Who and from where: a request sets a context (`security_context`, done by
`headway.accounts.security.SecurityLogMiddleware`) that every event during it carries, so
that code far from the request (the SQL vetting, the engine) logs the person too.

Pure Python: no Django here.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["LOGGER_NAME", "security_context", "security_event"]

LOGGER_NAME = "headway.security"
MAX_VALUE_LENGTH = 200

logger = logging.getLogger(LOGGER_NAME)

Describe = Callable[[], Mapping[str, object]]
_context: ContextVar[Describe | None] = ContextVar("headway_security_context", default=None)
_PLAIN = re.compile(r"[\w.@:/+\-\[\]%,>]+")


@contextmanager
def security_context(describe: Describe) -> Iterator[None]:
    """Events logged inside this block carry what `describe()` returns (user, ip...).

    `describe` is called when an event is logged, not now: the person behind an API
    token is only known once the API has authenticated the request."""
    token = _context.set(describe)
    try:
        yield
    finally:
        _context.reset(token)


def _clean(value: object) -> str:
    text = str(value)
    if len(text) > MAX_VALUE_LENGTH:
        text = text[:MAX_VALUE_LENGTH] + "…"
    # Control characters, line and paragraph separators and other invisible marks could
    # start a forged line or hide part of one: each becomes a question mark.
    return "".join(
        "?" if unicodedata.category(char)[0] in "CZ" and char != " " else char for char in text
    )


def format_value(value: object) -> str:
    text = _clean(value)
    if text and _PLAIN.fullmatch(text):
        return text
    return json.dumps(text, ensure_ascii=False)


def format_event(event: str, fields: Mapping[str, object]) -> str:
    parts = [_clean(event)]
    parts.extend(f"{key}={format_value(value)}" for key, value in fields.items())
    return " ".join(parts)


def security_event(event: str, *, level: int = logging.INFO, **fields: object) -> None:
    """Logs one line: the event, the request's context (user, ip), then `fields`.

    Fields that are None are left out. The record also carries the event and its facts as
    `security_event` and `security_fields`, for a handler that writes JSON."""
    describe = _context.get()
    values: dict[str, object] = {}
    if describe is not None:
        try:
            values.update(describe())
        except Exception:  # the log line matters more than the context's details
            values["context"] = "unavailable"
    values.update(fields)
    # Who and from where first, in the same order on every line.
    ordered: dict[str, object] = {
        key: values.pop(key) for key in ("user", "via", "ip") if key in values
    }
    ordered.update(values)
    values = {key: value for key, value in ordered.items() if value is not None and value != ""}
    logger.log(
        level,
        "%s",
        format_event(event, values),
        extra={
            "security_event": event,
            "security_fields": {key: _clean(value) for key, value in values.items()},
        },
    )
