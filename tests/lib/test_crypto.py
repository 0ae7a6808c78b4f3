"""Credentials encrypted at rest: round trip, key rotation, wrong keys and tampering."""

from __future__ import annotations

import base64

import pytest

from headway.lib.crypto import (
    InvalidKeyError,
    SecretBox,
    SecretsUnreadable,
    generate_key,
    keys_from_text,
)

SECRETS = {"password": "hunter2-correct-horse", "token": "tok_42", "port": 5432, "é": "ü"}


def test_credentials_come_back_as_they_were_encrypted() -> None:
    box = SecretBox([generate_key()])
    token = box.encrypt(SECRETS)
    assert box.decrypt(token) == SECRETS


def test_the_stored_token_does_not_contain_the_plaintext() -> None:
    box = SecretBox([generate_key()])
    token = box.encrypt(SECRETS)
    assert "hunter2" not in token
    assert "password" not in token
    assert b"hunter2" not in base64.urlsafe_b64decode(token)


def test_the_same_credentials_encrypt_to_different_tokens_each_time() -> None:
    box = SecretBox([generate_key()])
    assert box.encrypt(SECRETS) != box.encrypt(SECRETS)


def test_credentials_saved_under_an_old_key_open_after_a_new_key_is_put_first() -> None:
    old, new = generate_key(), generate_key()
    token = SecretBox([old]).encrypt(SECRETS)
    rotated_box = SecretBox([new, old])
    assert rotated_box.decrypt(token) == SECRETS
    # What the rotated box writes is under the new key: the new key alone opens it.
    assert SecretBox([new]).decrypt(rotated_box.encrypt(SECRETS)) == SECRETS
    with pytest.raises(SecretsUnreadable):
        SecretBox([old]).decrypt(rotated_box.encrypt(SECRETS))


def test_rotating_a_token_moves_it_to_the_first_key() -> None:
    old, new = generate_key(), generate_key()
    token = SecretBox([old]).encrypt(SECRETS)
    moved = SecretBox([new, old]).rotate(token)
    assert SecretBox([new]).decrypt(moved) == SECRETS


def test_a_wrong_key_raises_secrets_unreadable_asking_for_the_credentials_again() -> None:
    token = SecretBox([generate_key()]).encrypt(SECRETS)
    with pytest.raises(SecretsUnreadable) as caught:
        SecretBox([generate_key()]).decrypt(token)
    message = str(caught.value)
    assert "credentials key changed" in message
    assert "enter the source's credentials again" in message
    assert token not in message
    assert token[:20] not in message


def test_a_tampered_token_is_refused() -> None:
    box = SecretBox([generate_key()])
    token = box.encrypt(SECRETS)
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[40] ^= 0x01  # one bit of the ciphertext
    tampered = base64.urlsafe_b64encode(bytes(raw)).decode("ascii")
    with pytest.raises(SecretsUnreadable):
        box.decrypt(tampered)


@pytest.mark.parametrize("garbage", ["", "not a token", "gAAAAA", "ü" * 10])
def test_text_that_is_not_a_token_is_refused_the_same_way(garbage: str) -> None:
    with pytest.raises(SecretsUnreadable):
        SecretBox([generate_key()]).decrypt(garbage)


def test_a_list_of_keys_is_read_from_commas_and_whitespace() -> None:
    first, second, third = generate_key(), generate_key(), generate_key()
    text = f"  {first},{second}\n {third} ,"
    assert keys_from_text(text) == [first, second, third]


def test_an_invalid_key_is_named_by_its_position_without_showing_it() -> None:
    good = generate_key()
    bad = "short-and-secret"
    with pytest.raises(InvalidKeyError) as caught:
        keys_from_text(f"{good}, {bad}")
    assert "number 2" in str(caught.value)
    assert bad not in str(caught.value)


def test_no_key_at_all_is_refused() -> None:
    with pytest.raises(InvalidKeyError):
        keys_from_text(" , \n")
    with pytest.raises(InvalidKeyError):
        SecretBox([])


def test_a_generated_key_is_44_characters_of_url_safe_base64() -> None:
    key = generate_key()
    assert len(key) == 44
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert generate_key() != key


def test_the_box_does_not_show_its_keys() -> None:
    key = generate_key()
    assert key not in repr(SecretBox([key]))
