"""Encryption at rest of sources' credentials, with keys that can rotate.

A :class:`SecretBox` holds a list of Fernet keys (AES-128-CBC with an HMAC-SHA256, from the
`cryptography` package). The first key encrypts; every key decrypts, so a new key is put
first and the old ones are kept until everything has been saved again under the new key.
What is encrypted is a mapping (a source's password, token, ...) as JSON; the stored text
is the Fernet token, which also authenticates it: a token changed by one byte is refused.

A token that no key opens raises :class:`SecretsUnreadable`, whose message says what to
do (enter the credentials again) and never contains the token itself.

Pure Python: no Django here; the app reads its keys from settings and passes them in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = ["InvalidKeyError", "SecretBox", "SecretsUnreadable", "generate_key", "keys_from_text"]


_UNREADABLE = (
    "the stored credentials cannot be decrypted: the credentials key changed since they "
    "were saved (or the stored text was altered); enter the source's credentials again"
)


class SecretsUnreadable(Exception):
    """Stored credentials that none of the keys opens (the key changed, or the token was
    altered): they must be entered again."""


class InvalidKeyError(ValueError):
    """A credentials key that is not a Fernet key."""


def generate_key() -> str:
    """A new random key (32 bytes, URL-safe base64: 44 characters)."""
    return Fernet.generate_key().decode("ascii")


def _fernet(key: str, position: int) -> Fernet:
    try:
        return Fernet(key.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        # The key is a secret: the message says where it is and what it should be, not it.
        raise InvalidKeyError(
            f"credentials key number {position} is not a valid key: a key is 44 characters "
            "of URL-safe base64 (32 random bytes), as made by generate_key() or "
            "Fernet.generate_key()"
        ) from None


def keys_from_text(text: str) -> list[str]:
    """The keys in a comma- and/or whitespace-separated list, each checked; the first is
    the one that encrypts. InvalidKeyError names the bad key by its position."""
    keys = [part for part in re.split(r"[\s,]+", text) if part]
    if not keys:
        raise InvalidKeyError("no credentials key was given")
    for position, key in enumerate(keys, start=1):
        _fernet(key, position)
    return keys


class SecretBox:
    """Encrypts mappings with the first of its keys and decrypts with any of them."""

    def __init__(self, keys: Iterable[str]) -> None:
        fernets = [_fernet(key, position) for position, key in enumerate(keys, start=1)]
        if not fernets:
            raise InvalidKeyError("no credentials key was given")
        self._fernet = MultiFernet(fernets)

    def __repr__(self) -> str:
        return "SecretBox(<keys hidden>)"

    def encrypt(self, data: Mapping[str, Any]) -> str:
        """The mapping as JSON, encrypted and authenticated: token text to store."""
        plain = json.dumps(dict(data), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return self._fernet.encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> dict[str, Any]:
        """The mapping back; SecretsUnreadable if no key opens the token."""
        try:
            plain = self._fernet.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError, ValueError, TypeError):
            raise SecretsUnreadable(_UNREADABLE) from None
        data = json.loads(plain.decode("utf-8"))
        if not isinstance(data, dict):
            raise SecretsUnreadable(
                "the stored credentials are not a set of named values; enter the source's "
                "credentials again"
            )
        return data

    def rotate(self, token: str) -> str:
        """The token encrypted again under the first key (after a new key was added)."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeEncodeError, ValueError, TypeError):
            raise SecretsUnreadable(_UNREADABLE) from None
