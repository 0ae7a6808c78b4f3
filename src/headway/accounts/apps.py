from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "headway.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Sign-ins, failures and sign-outs go to the security log; the deployment checks
        # join `manage.py check --deploy`.
        from headway.accounts import checks  # noqa: F401
        from headway.accounts.security import connect_signals

        connect_signals()
