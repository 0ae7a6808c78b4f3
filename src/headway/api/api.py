"""The REST API, version 1 (django-ninja; OpenAPI 3.1 at /api/v1/openapi.json, interactive
docs at /api/v1/docs). See docs/api.md.

Views here are thin: they find objects by key, call the same services as the web UI (which
check roles and teams, validate, and write the audit log), and present the result.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest
from ninja import NinjaAPI, Router
from ninja.operation import Operation

from headway.accounts.choices import Role
from headway.api.auth import SessionAuth, TokenAuth, caller_of
from headway.api.docs import ASSET_URL_NAME, LocalSwagger, docs_asset
from headway.api.errors import READ_ERRORS, install_error_handlers
from headway.api.guards import refuse_unstorable_text
from headway.api.links import add_links
from headway.api.read_cache import cached_reads
from headway.api.routers import datasets, goals, kpis, manual, results, targets, teams
from headway.api.schemas import MeOut

DESCRIPTION = """\
Headway's goals, KPIs, target versions and results.

**Authentication.** Send a personal API token, `Authorization: Bearer hw_...` (each person
creates their own in Headway's web UI); a read-only token may only read. In a browser, your
signed-in session works too (writes then need the `X-CSRFToken` header, which this page
sends).

**Keys.** Teams, goals and KPIs are addressed by their keys, people by e-mail address.

**Decimals** (targets, thresholds, weights, values) are JSON strings such as `"0.08"` in
responses, never floats; requests may send a string or a number.

**Lists** take `limit` (1-500, default 50) and `offset`, and answer
`{"items": [...], "count": N, "limit": ..., "offset": ...}`.

**Updates** are PATCH with only the fields that change, plus the `version` you read (or an
`If-Match` header with the ETag that GET returned): a stale `version` is refused with 409,
a stale `If-Match` with 412; both answers carry the current version.

**Errors** are `{"detail": "...", "errors": [{"field": "...", "message": "..."}]}`: 400 a
body that cannot be read (not JSON); 401 not signed in; 403 not allowed (role, team or a
read-only token); 404 no such key; 409 stale version or key taken; 412 stale If-Match; 422
invalid input; 428 update without a version.
"""


class HeadwayAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation: Operation) -> str:
        # Short, stable ids (`kpis_update`) for generated clients; view names are unique.
        return operation.view_func.__name__

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> Any:
        # The links between operations are declared in one place, headway.api.links.
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        return add_links(schema)


api = HeadwayAPI(
    title="Headway API",
    version="1.0.0",
    description=DESCRIPTION,
    urls_namespace="api",
    auth=[TokenAuth(), SessionAuth()],
    docs=LocalSwagger(),
    docs_url="/docs",
)
install_error_handlers(api)
api.add_decorator(refuse_unstorable_text)
api.add_decorator(cached_reads, mode="view")

api.add_router("/teams", teams.router)
api.add_router("/goals", goals.router)
api.add_router("/kpis", kpis.router)
api.add_router("", targets.router)
api.add_router("", results.router)
api.add_router("", manual.router)
api.add_router("/datasets", datasets.router)
api.get("/docs/assets/{name}", auth=None, include_in_schema=False, url_name=ASSET_URL_NAME)(
    docs_asset
)


# Last of all: a path no operation has (e.g. a key holding a "/") is the API's own 404, in
# JSON like every other answer, not the web site's HTML page; as there, for anybody.
unknown_paths = Router()


@unknown_paths.api_operation(
    ["GET", "POST", "PUT", "PATCH", "DELETE"], "/{path:rest}", auth=None, include_in_schema=False
)
def no_such_operation(request: HttpRequest, rest: str) -> None:
    raise Http404(f"the API has no operation at /api/v1/{rest}")


api.add_router("", unknown_paths)


@api.get("/me", response={200: MeOut, **READ_ERRORS}, tags=["People"], summary="Who am I")
def me(request: HttpRequest) -> MeOut:
    """The person the token or session belongs to, and whether this request may write."""
    caller = caller_of(request)
    return MeOut(
        email=caller.user.email,
        name=caller.user.display_name or caller.user.email,
        role=Role(caller.user.role),
        signed_in_with=caller.via,
        can_write=caller.can_write,
    )
