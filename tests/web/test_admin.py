"""The admin: every model registered; target versions and results read-only; saves audited."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import RequestFactory

from headway.audit.models import AuditEntry
from headway.kpis.models import Kpi, TargetVersion
from headway.results.models import Result
from tests.web.conftest import Org

pytestmark = pytest.mark.django_db


def test_every_model_of_headways_apps_is_in_the_admin() -> None:
    for label in ("accounts", "audit", "goals", "kpis", "results"):
        for model in apps.get_app_config(label).get_models():
            assert admin.site.is_registered(model), model


@pytest.mark.parametrize("model", [TargetVersion, Result])
def test_target_versions_and_results_are_read_only(org: Org, model: type) -> None:
    request = RequestFactory().get("/admin/")
    request.user = org.ada
    model_admin = admin.site._registry[model]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


def test_admin_pages_open_for_a_superuser(org: Org) -> None:
    org.ada.is_staff = org.ada.is_superuser = True
    org.ada.save()
    client = org.client(org.ada)
    kpi = Kpi.objects.get(key="win_rate")
    for url in (
        "/admin/",
        "/admin/kpis/kpi/",
        f"/admin/kpis/kpi/{kpi.pk}/change/",
        "/admin/kpis/targetversion/",
        "/admin/results/result/",
        "/admin/accounts/user/",
        "/admin/accounts/user/add/",
        "/admin/goals/goal/",
    ):
        assert client.get(url).status_code == 200, url


def test_an_admin_save_is_audited_and_moves_the_version_on(org: Org) -> None:
    org.ada.is_staff = org.ada.is_superuser = True
    org.ada.save()
    from headway.goals.models import Goal

    goal = Goal.objects.get(key="grow")
    response = org.client(org.ada).post(
        f"/admin/goals/goal/{goal.pk}/change/",
        {
            "key": "grow",
            "title": "Grow faster",
            "horizon": "long",
            "status": "active",
            "position": 0,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    goal.refresh_from_db()
    assert goal.title == "Grow faster"
    assert goal.version == 2
    entry = AuditEntry.objects.filter(action="goal.update").latest("pk")
    assert entry.actor == org.ada
    assert entry.after is not None
    assert entry.after["title"] == "Grow faster"


def test_an_admin_adds_a_person_who_signs_in_with_their_e_mail(org: Org) -> None:
    org.ada.is_staff = org.ada.is_superuser = True
    org.ada.save()
    response = org.client(org.ada).post(
        "/admin/accounts/user/add/",
        {
            "email": "new@example.com",
            "display_name": "New Person",
            "role": "member",
            "usable_password": "true",
            "password1": "a-fresh-password-31",
            "password2": "a-fresh-password-31",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    from headway.accounts.models import User

    person = User.objects.get(email="new@example.com")
    assert person.username == "new@example.com"
    assert person.check_password("a-fresh-password-31")
    assert AuditEntry.objects.filter(action="person.create", object_id=str(person.pk)).exists()
