"""The installation's key ring for secrets kept at rest: sources' credentials and people's
second-factor (TOTP) secrets.

Keys come from HEADWAY_CREDENTIALS_KEYS (required in production; newest first, older ones
still decrypt, so keys can rotate); elsewhere a key of the installation's own is kept in
DATA_DIR/credentials_key, made on first use.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from headway.lib.crypto import SecretBox, generate_key, keys_from_text

__all__ = ["secret_box"]


def _key_file() -> Path:
    return Path(settings.DATA_DIR) / "credentials_key"


def secret_box() -> SecretBox:
    """The box that encrypts with the newest key and decrypts with any of them."""
    keys = list(settings.HEADWAY_CREDENTIALS_KEYS)
    if keys:
        return SecretBox(keys_from_text(",".join(keys)))
    if settings.MODE == "production":
        raise ImproperlyConfigured(
            "HEADWAY_CREDENTIALS_KEYS must be set in production to keep the credentials of "
            "sources and the second-factor secrets encrypted (generate one with: python -c "
            "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
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
