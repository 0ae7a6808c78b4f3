"""Sources' credentials, encrypted with the installation's key ring (headway.accounts.keys)."""

from __future__ import annotations

from typing import Any

from headway.accounts.keys import secret_box
from headway.lib.crypto import SecretsUnreadable

__all__ = ["SecretsUnreadable", "decrypt_secrets", "encrypt_secrets"]


def encrypt_secrets(values: dict[str, Any]) -> str:
    """The credentials as a token to store; empty credentials store as empty text."""
    if not values:
        return ""
    return secret_box().encrypt(values)


def decrypt_secrets(token: str) -> dict[str, Any]:
    """The stored credentials; SecretsUnreadable when the key changed since they were saved."""
    if not token:
        return {}
    return secret_box().decrypt(token)
