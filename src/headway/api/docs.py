"""The interactive API docs (Swagger UI) at /api/v1/docs, served wholly by Headway.

django-ninja's default page loads Swagger UI from a CDN unless `ninja` is an installed app;
Headway's machines often cannot reach a CDN, and a docs page should not depend on a third
party anyway. So the page is rendered from `api/docs.html` and its JavaScript, CSS and
icons are the copies that django-ninja ships in its package, served by the API itself
(`docs_asset`). A signed-in person can try requests from the page: it sends Django's CSRF
token with them. Swagger UI's online validator badge is switched off (it calls out).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import ninja
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.urls import reverse
from ninja.openapi.docs import DocsBase

if TYPE_CHECKING:
    from ninja import NinjaAPI

NINJA_STATIC = Path(ninja.__file__).resolve().parent / "static" / "ninja"
ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui.css.map": "application/json",
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-bundle.js.map": "application/json",
    "swagger-ui-init.js": "text/javascript",
    "favicon.svg": "image/svg+xml",
    "favicon.png": "image/png",
}
ASSET_URL_NAME = "docs-asset"
SWAGGER_SETTINGS = {
    "layout": "BaseLayout",
    "deepLinking": True,
    "validatorUrl": None,
}


def docs_asset(request: HttpRequest, name: str) -> FileResponse:
    """One of Swagger UI's files, from django-ninja's package."""
    content_type = ASSETS.get(name)
    if content_type is None:
        raise Http404(f"no docs asset {name!r}")
    response = FileResponse((NINJA_STATIC / name).open("rb"), content_type=content_type)
    # The page links each file with django-ninja's version, so a new version is a new URL.
    response["Cache-Control"] = "public, max-age=604800, immutable"
    return response


class LocalSwagger(DocsBase):
    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        def asset(name: str) -> str:
            url = reverse(f"{api.urls_namespace}:{ASSET_URL_NAME}", kwargs={"name": name})
            return f"{url}?v={ninja.__version__}"

        context = {
            "api": api,
            "swagger_settings": {**SWAGGER_SETTINGS, "url": self.get_openapi_url(api, kwargs)},
            # Rendered without the request, so the web UI's context processors (and their
            # queries) stay out of it; the CSRF token is all the page needs from it.
            "csrf_token": get_token(request),
            "assets": {
                "css": asset("swagger-ui.css"),
                "svg": asset("favicon.svg"),
                "png": asset("favicon.png"),
                "bundle": asset("swagger-ui-bundle.js"),
                "init": asset("swagger-ui-init.js"),
            },
        }
        return HttpResponse(render_to_string("api/docs.html", context))
