"""URLs: the web UI, the REST API, accounts and the admin."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from headway.api.api import api
from headway.web.views.account import admin_sign_in


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """For load balancers and uptime checks: the process answers. No session, no database
    (a database outage shows on the pages, and should not take every process out of the
    balancer's pool at once). The load test's baseline too: a Django view doing no work."""
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
    # The admin's own sign-in page would skip the throttle and the second step: Headway's
    # sign-in page stands in for it.
    path("admin/login/", admin_sign_in, name="admin_sign_in"),
    path("admin/", admin.site.urls),
    # Django's auth views under the same names, with Headway's templates (see auth_urls).
    path("accounts/", include("headway.web.auth_urls")),
    path("", include("headway.web.urls")),
]
