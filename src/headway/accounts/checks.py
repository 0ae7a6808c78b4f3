"""Headway's own deployment checks, run by `headway manage check --deploy` beside
Django's: what production needs that Django cannot know about."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

from headway.lib.crypto import InvalidKeyError, keys_from_text
from headway.lib.secrets import strong_secret


@register(Tags.security, deploy=True)
def check_production_secrets(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    if settings.MODE != "production":
        problems.append(
            Warning(
                f"HEADWAY_MODE is {settings.MODE!r}: only 'production' turns on HTTPS-only "
                "cookies, HSTS and the other production settings",
                hint="set HEADWAY_MODE=production (headway serve and the WSGI application "
                "do this unless told otherwise)",
                id="headway.W001",
            )
        )
    if not strong_secret(settings.SECRET_KEY):
        problems.append(
            Warning(
                "SECRET_KEY is not a random string of at least 50 characters",
                id="headway.W002",
            )
        )
    keys = ",".join(settings.HEADWAY_CREDENTIALS_KEYS)
    if not keys:
        problems.append(
            Warning(
                "HEADWAY_CREDENTIALS_KEYS is not set: sources' credentials and second-factor "
                "secrets cannot be stored",
                hint="python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'",
                id="headway.W003",
            )
        )
    else:
        try:
            keys_from_text(keys)
        except InvalidKeyError as error:
            problems.append(Warning(str(error), id="headway.W004"))
    if settings.HEADWAY_LOGIN_MAX_FAILURES <= 0:
        problems.append(
            Warning(
                "HEADWAY_LOGIN_MAX_FAILURES is 0: sign-in attempts are not throttled",
                id="headway.W005",
            )
        )
    return problems
