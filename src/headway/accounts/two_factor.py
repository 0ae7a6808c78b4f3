"""Two-step sign-in for admins: a TOTP code (RFC 6238, from an authenticator app) after
the password, or one of ten one-time recovery codes when the phone is lost.

- `two_factor_begin` makes a new secret (not yet in force) and returns it with the
  `otpauth://` address an app reads; `two_factor_confirm` puts it in force once the person
  types a code from their app, and returns the recovery codes, shown once.
- `code_accepted` checks a code at sign-in: the current, previous or next 30-second code
  (clocks drift), never one already used; else a recovery code, which is then spent.
- `two_factor_disable` turns it off (the person, or an admin for someone who lost both
  their phone and their codes).

The secret is stored encrypted with the installation's key ring (headway.accounts.keys);
recovery codes only as SHA-256 hashes (they are 80 random bits each, so a hash cannot be
reversed by trying codes). Every change is audited.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import pyotp
from django.db import transaction
from django.utils import timezone

from headway.accounts.keys import secret_box
from headway.accounts.models import Organization, RecoveryCode, TwoFactor, User
from headway.accounts.permissions import is_admin
from headway.audit.errors import NotAllowed
from headway.audit.services import audit_record

__all__ = [
    "code_accepted",
    "pending_secret",
    "provisioning_uri",
    "recovery_codes_left",
    "recovery_codes_renew",
    "two_factor_begin",
    "two_factor_confirm",
    "two_factor_disable",
    "two_factor_enabled",
    "two_factor_offered",
]

RECOVERY_CODES = 10
# Letters and digits that cannot be mistaken for one another when typed from paper.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_LENGTH = 16  # 16 characters of 31: 79 bits


def two_factor_offered(user: User) -> bool:
    """Two-step sign-in is for the people who may change everything: admins and staff."""
    return is_admin(user) or bool(user.is_authenticated and user.is_staff)


def two_factor_enabled(user: User) -> bool:
    return TwoFactor.objects.filter(user=user, confirmed_at__isnull=False).exists()


def _secret_of(record: TwoFactor) -> str:
    return str(secret_box().decrypt(record.secret)["totp"])


def provisioning_uri(user: User, secret: str) -> str:
    """The otpauth:// address an authenticator app reads (as text or a QR code)."""
    issuer = f"Headway ({Organization.current().name})"
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def two_factor_begin(*, by: User) -> str:
    """A new secret for `by`, not yet in force: returns it for the authenticator app."""
    if not two_factor_offered(by):
        raise NotAllowed("two-step sign-in is offered to admins")
    if two_factor_enabled(by):
        raise NotAllowed("two-step sign-in is already on; turn it off first")
    secret = pyotp.random_base32()
    with transaction.atomic():
        TwoFactor.objects.update_or_create(
            user=by,
            defaults={
                "secret": secret_box().encrypt({"totp": secret}),
                "confirmed_at": None,
                "last_step": 0,
            },
        )
        # Not in force yet (no change of rights until it is confirmed), but a write.
        audit_record(actor=by, action="person.two_factor_begin", target=by)
    return secret


def pending_secret(user: User) -> str | None:
    """The secret begun but not yet confirmed, to show it again."""
    record = TwoFactor.objects.filter(user=user, confirmed_at__isnull=True).first()
    return _secret_of(record) if record is not None else None


def _totp_step(record: TwoFactor, code: str) -> int | None:
    """The time step whose code this is (now, or one step either side), if not yet used."""
    totp = pyotp.TOTP(_secret_of(record))
    now = totp.timecode(timezone.now())
    for step in (now, now - 1, now + 1):
        if step > record.last_step and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _normal_code(code: str) -> str:
    return "".join(char for char in code.lower() if char.isalnum())


def _digest(user: User, code: str) -> str:
    return hashlib.sha256(f"{user.pk}:{_normal_code(code)}".encode()).hexdigest()


def _new_recovery_codes(user: User) -> list[str]:
    RecoveryCode.objects.filter(user=user).delete()
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append("-".join(raw[index : index + 4] for index in range(0, len(raw), 4)))
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, digest=_digest(user, code)) for code in codes
    )
    return codes


def two_factor_confirm(*, by: User, code: str) -> list[str] | None:
    """Puts the begun secret in force if `code` is right; returns the recovery codes (to
    show once), or None for a wrong code."""
    with transaction.atomic():
        record = (
            TwoFactor.objects.select_for_update().filter(user=by, confirmed_at__isnull=True).first()
        )
        if record is None:
            raise NotAllowed("start turning on two-step sign-in first")
        step = _totp_step(record, _normal_code(code))
        if step is None:
            return None
        record.confirmed_at = timezone.now()
        record.last_step = step
        record.save(update_fields=["confirmed_at", "last_step"])
        codes = _new_recovery_codes(by)
        audit_record(actor=by, action="person.two_factor_on", target=by)
    return codes


def code_accepted(user: User, code: str) -> str | None:
    """How a sign-in's second step passed: "totp", "recovery" (that code is now spent),
    or None for a wrong code."""
    normal = _normal_code(code)
    if not normal:
        return None
    with transaction.atomic():
        record = (
            TwoFactor.objects.select_for_update()
            .filter(user=user, confirmed_at__isnull=False)
            .first()
        )
        if record is None:
            return None
        if len(normal) == pyotp.TOTP(_secret_of(record)).digits and normal.isdigit():
            step = _totp_step(record, normal)
            if step is None:
                return None
            record.last_step = step
            record.save(update_fields=["last_step"])
            return "totp"
        spent = RecoveryCode.objects.filter(
            user=user, digest=_digest(user, normal), used_at__isnull=True
        ).update(used_at=timezone.now())
        if not spent:
            return None
        audit_record(actor=user, action="person.recovery_code_used", target=user)
        return "recovery"


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def recovery_codes_renew(*, by: User) -> list[str]:
    """New recovery codes for `by` (the old ones stop working), shown once."""
    if not two_factor_enabled(by):
        raise NotAllowed("two-step sign-in is off")
    with transaction.atomic():
        codes = _new_recovery_codes(by)
        audit_record(actor=by, action="person.recovery_codes_renew", target=by)
    return codes


def two_factor_disable(*, by: User, person: User) -> None:
    """Turns two-step sign-in off for `person`: themselves, or anyone by an admin."""
    if by.pk != person.pk and not is_admin(by):
        raise NotAllowed("only an admin may turn off someone else's two-step sign-in")
    with transaction.atomic():
        removed, _ = TwoFactor.objects.filter(user=person).delete()
        RecoveryCode.objects.filter(user=person).delete()
        if removed:
            audit_record(
                actor=by,
                action="person.two_factor_off",
                target=person,
                reason="" if by.pk == person.pk else "by an admin",
            )
