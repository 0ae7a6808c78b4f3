"""The key ring that encrypts sources' credentials, from settings or the data folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from headway.lib.crypto import SecretBox, SecretsUnreadable, generate_key, keys_from_text

__all__ = ["SecretsUnreadable", "decrypt_secrets", "encrypt_secrets"]


def _key_file() -> Path:
    return Path(settings.DATA_DIR) / "credentials_key"


def _box() -> SecretBox:
    keys = list(settings.HEADWAY_CREDENTIALS_KEYS)
    if keys:
        return SecretBox(keys_from_text(",".join(keys)))
    if settings.MODE == "production":
        raise ImproperlyConfigured(
            "HEADWAY_CREDENTIALS_KEYS must be set in production to keep the credentials of "
            "sources encrypted (generate one with: python -c 'from cryptography.fernet "
            "import Fernet; print(Fernet.generate_key().decode())')"
        )
    path = _key_file()
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = generate_key()
        path.write_text(text, encoding="ascii")
        path.chmod(0o600)
    return SecretBox(keys_from_text(text))


def encrypt_secrets(values: dict[str, Any]) -> str:
    """The credentials as a token to store; empty credentials store as empty text."""
    if not values:
        return ""
    return _box().encrypt(values)


def decrypt_secrets(token: str) -> dict[str, Any]:
    """The stored credentials; SecretsUnreadable when the key changed since they were saved."""
    if not token:
        return {}
    return _box().decrypt(token)
