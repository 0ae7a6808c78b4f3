"""Roles, with their labels defined once."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    MANAGER = "manager", _("Manager")
    MEMBER = "member", _("Member")
    VIEWER = "viewer", _("Viewer")


class Language(models.TextChoices):
    EN = "en", "English"
    ZH_HANT = "zh-hant", "繁體中文"
