"""Errors as responses: every refusal is JSON with a sentence (`detail`) and, for invalid
input, each problem with the field it is about (`errors`). Bad input is never a 500.

| status | when |
|---|---|
| 400 | a request body that cannot be read at all (not JSON; a broken form) |
| 401 | no valid token or session |
| 403 | the role, team or token scope does not allow it; a failed CSRF check |
| 404 | no object with that key |
| 409 | a stale `version` in the body; two writes of the same new key at the same moment |
| 412 | an `If-Match` that is not the object's ETag any more (someone changed it) |
| 422 | invalid input: a field, a key already taken, a formula, a period label; a change |
|     | after which the engine could no longer compute the KPI system |
| 428 | an update that does not say which version it edited |
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from headway.api.schemas import ConflictOut, ErrorOut, FieldError
from headway.audit.errors import ConflictError
from headway.engine.formula import FormulaError
from headway.engine.problems import HeadwayError, Problem
from headway.lib.periods import PeriodLabelError
from headway.lib.security_log import security_event

E = TypeVar("E", bound=Exception)
logger = logging.getLogger(__name__)


class PreconditionRequired(Exception):
    """An update that names no version: it could overwrite someone else's change."""


class PreconditionFailed(ConflictError):
    """An update whose If-Match names a version that is no longer the current one."""


class EngineRefused(Exception):
    """The change would leave the KPI system in a state the engine cannot compute."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(problem) for problem in self.problems))


# Model field names that the API spells differently.
_API_FIELD = {
    "threshold_green": "thresholds.green",
    "threshold_amber": "thresholds.amber",
    NON_FIELD_ERRORS: "",
}


def _respond(api: NinjaAPI, request: HttpRequest, body: ErrorOut, status: int) -> HttpResponse:
    return api.create_response(request, body.model_dump(mode="json"), status=status)


def _invalid(
    api: NinjaAPI, request: HttpRequest, errors: list[FieldError], status: int = 422
) -> HttpResponse:
    described = "; ".join(
        f"{error.field}: {error.message}" if error.field else error.message for error in errors
    )
    detail = f"invalid input: {described}" if described else "invalid input"
    return _respond(api, request, ErrorOut(detail=detail, errors=errors), status)


def _ninja_field(location: Iterable[Any]) -> str:
    """(body, payload, thresholds, green) -> thresholds.green; (query, limit) -> limit."""
    parts = [str(part) for part in location]
    if parts[:1] == ["body"]:
        parts = parts[2:]
    elif parts[:1] in (["query"], ["path"], ["header"], ["cookie"]):
        parts = parts[1:]
    return ".".join(parts)


def _ninja_message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "is not valid"))
    return message.removeprefix("Value error, ")


def django_field_errors(error: DjangoValidationError) -> list[FieldError]:
    if hasattr(error, "error_dict"):
        return [
            FieldError(field=_API_FIELD.get(field, field), message=message)
            for field, messages in error.message_dict.items()
            for message in messages
        ]
    return [FieldError(field="", message=message) for message in error.messages]


def _refused(event: str, errors: list[FieldError]) -> None:
    """A line in the security log for input the engine refused (formulas, filters...)."""
    security_event(
        event,
        level=logging.WARNING,
        problems=len(errors),
        reason="; ".join(
            f"{error.field}: {error.message}" if error.field else error.message
            for error in errors[:3]
        ),
    )


def _handle(
    api: NinjaAPI, exc_class: type[E], handler: Callable[[HttpRequest, E], HttpResponse]
) -> None:
    # ninja types handlers as taking the exception or its class; it passes the exception.
    api.add_exception_handler(exc_class, cast("Any", handler))


def install_error_handlers(api: NinjaAPI) -> None:
    def unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        if "authorization" in request.headers:
            detail = (
                "the API token is not valid: it is wrong, revoked, or its person may no "
                "longer sign in"
            )
            challenge = 'Bearer realm="headway", error="invalid_token"'
        else:
            detail = (
                "sign in, or send a personal API token as 'Authorization: Bearer hw_...' "
                "(each person creates their own tokens in Headway's web UI)"
            )
            challenge = 'Bearer realm="headway"'
        response = _respond(api, request, ErrorOut(detail=detail), 401)
        response["WWW-Authenticate"] = challenge
        return response

    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        return _respond(api, request, ErrorOut(detail=str(exc)), exc.status_code)

    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return _respond(api, request, ErrorOut(detail=str(exc) or "not found"), 404)

    def forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        detail = str(exc) or "you may not do this"
        return _respond(api, request, ErrorOut(detail=detail), 403)

    def conflict(request: HttpRequest, exc: ConflictError) -> HttpResponse:
        body = ConflictOut(detail=str(exc), current_version=exc.current)
        return _respond(api, request, body, 409)

    def precondition_failed(request: HttpRequest, exc: PreconditionFailed) -> HttpResponse:
        body = ConflictOut(detail=str(exc), current_version=exc.current)
        response = _respond(api, request, body, 412)
        response["ETag"] = f'"{exc.current}"'
        return response

    def integrity(request: HttpRequest, exc: IntegrityError) -> HttpResponse:
        # Checks run before saving, so this is a race: someone saved the same key at once.
        logger.warning("integrity error on %s %s: %s", request.method, request.path, exc)
        detail = "this conflicts with a change saved at the same time (e.g. the same key)"
        return _respond(api, request, ConflictOut(detail=detail), 409)

    def ninja_invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        errors = [
            FieldError(field=_ninja_field(error.get("loc", ())), message=_ninja_message(error))
            for error in exc.errors
        ]
        return _invalid(api, request, errors)

    def django_invalid(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
        return _invalid(api, request, django_field_errors(exc))

    def engine_error(request: HttpRequest, exc: HeadwayError) -> HttpResponse:
        errors = [FieldError(field=p.key or "", message=p.message) for p in exc.problems]
        _refused("engine.refused", errors)
        return _invalid(api, request, errors)

    def engine_refused(request: HttpRequest, exc: EngineRefused) -> HttpResponse:
        errors = [FieldError(field=p.key or "", message=p.message) for p in exc.problems]
        _refused("engine.refused", errors)
        detail = "the KPI system could no longer be computed after this change: " + "; ".join(
            f"{error.field}: {error.message}" if error.field else error.message for error in errors
        )
        return _respond(api, request, ErrorOut(detail=detail, errors=errors), 422)

    def formula_error(request: HttpRequest, exc: FormulaError) -> HttpResponse:
        errors = [FieldError(field="formula", message=str(exc))]
        _refused("formula.refused", errors)
        return _invalid(api, request, errors)

    def period_error(request: HttpRequest, exc: PeriodLabelError) -> HttpResponse:
        return _invalid(api, request, [FieldError(field="period", message=str(exc))])

    def precondition_required(request: HttpRequest, exc: PreconditionRequired) -> HttpResponse:
        return _respond(api, request, ErrorOut(detail=str(exc)), 428)

    _handle(api, AuthenticationError, unauthorized)
    _handle(api, HttpError, http_error)
    _handle(api, Http404, not_found)
    _handle(api, PermissionDenied, forbidden)
    _handle(api, ConflictError, conflict)
    _handle(api, PreconditionFailed, precondition_failed)
    _handle(api, IntegrityError, integrity)
    _handle(api, NinjaValidationError, ninja_invalid)
    _handle(api, DjangoValidationError, django_invalid)
    _handle(api, HeadwayError, engine_error)
    _handle(api, EngineRefused, engine_refused)
    _handle(api, FormulaError, formula_error)
    _handle(api, PeriodLabelError, period_error)
    _handle(api, PreconditionRequired, precondition_required)


# The error responses each kind of operation may give, for the OpenAPI schema.
READ_ERRORS: dict[int, type[ErrorOut]] = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, type[ErrorOut]] = {
    **READ_ERRORS,
    400: ErrorOut,
    403: ErrorOut,
    409: ConflictOut,
    422: ErrorOut,
}
UPDATE_ERRORS: dict[int, type[ErrorOut]] = {**WRITE_ERRORS, 412: ConflictOut, 428: ErrorOut}
