"""URLs: the web UI, the REST API, accounts and the admin."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from headway.api.api import api
from headway.web.views.account import admin_sign_in

urlpatterns = [
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
