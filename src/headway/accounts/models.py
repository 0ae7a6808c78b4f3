"""The organisation, its teams (a tree), its people with their roles, and what guards
their sign-in (failed attempts, second factors)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from headway.accounts.choices import Language, Role


class Organization(models.Model):
    """The one organisation this Headway serves; periods follow its time zone."""

    name = models.CharField(_("name"), max_length=200)
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC")
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    fiscal_year_start = models.PositiveSmallIntegerField(_("fiscal year start"), default=1)
    language = models.CharField(
        _("default language"), max_length=10, choices=Language.choices, default=Language.EN
    )
    # How often KPIs are reviewed: the worker opens a review cycle per period of this grain
    # (empty: cycles are opened by hand only).
    review_grain = models.CharField(
        _("review cadence"),
        max_length=10,
        blank=True,
        default="quarter",
        choices=[
            ("", _("By hand only")),
            ("month", _("Every month")),
            ("quarter", _("Every quarter")),
            ("year", _("Every year")),
        ],
    )
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("organisation")

    def __str__(self) -> str:
        return self.name

    @classmethod
    def current(cls) -> Organization:
        found = cls.objects.order_by("pk").first()
        if found is None:
            found = cls.objects.create(name="Headway")
        return found


class Team(models.Model):
    """A team in the organisation's tree of teams."""

    key = models.SlugField(_("key"), max_length=100, unique=True)
    name = models.CharField(_("name"), max_length=200)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent team"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")

    def __str__(self) -> str:
        return self.name

    def ancestors(self) -> list[Team]:
        chain = []
        seen = {self.pk}
        parent = self.parent
        while parent is not None and parent.pk not in seen:
            chain.append(parent)
            seen.add(parent.pk)
            parent = parent.parent
        return chain


class HeadwayUserManager(UserManager["User"]):
    def create_user(  # type: ignore[override]
        self, email: str, password: str | None = None, **extra: Any
    ) -> User:
        extra.setdefault("username", email)
        return super().create_user(email=email, password=password, **extra)

    def create_superuser(  # type: ignore[override]
        self, email: str, password: str | None = None, **extra: Any
    ) -> User:
        extra.setdefault("username", email)
        extra.setdefault("role", Role.ADMIN)
        return super().create_superuser(email=email, password=password, **extra)


class User(AbstractUser):
    """A person who signs in. The e-mail address is the login."""

    email = models.EmailField(_("e-mail address"), unique=True)
    display_name = models.CharField(_("name"), max_length=200, blank=True)
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.MEMBER)
    language = models.CharField(_("language"), max_length=10, choices=Language.choices, blank=True)
    teams = models.ManyToManyField(Team, through="Membership", related_name="people", blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = ["username"]
    objects = HeadwayUserManager()  # type: ignore[misc]

    class Meta:
        ordering = ["display_name", "email"]
        verbose_name = _("person")
        verbose_name_plural = _("people")

    def __str__(self) -> str:
        return self.display_name or self.email

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN or self.is_superuser


class Membership(models.Model):
    """A person's place in a team; a manager of the team may edit its KPIs."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    is_manager = models.BooleanField(_("manages the team"), default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "team"], name="one_membership_per_team")
        ]
        verbose_name = _("membership")

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"


class ApiToken(models.Model):
    """A personal API token. Only its SHA-256 hash is stored; the token is shown once."""

    class Scope(models.TextChoices):
        READ = "read", _("Read only")
        WRITE = "write", _("Read and write")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("starts with"), max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    scope = models.CharField(_("scope"), max_length=5, choices=Scope.choices, default=Scope.READ)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class SignInFailure(models.Model):
    """A failed sign-in (a wrong password or second-factor code) for an account from an
    address, kept while the throttle's window lasts (see headway.accounts.throttle).

    Rows in the database rather than counters in a cache: Django's default cache lives in
    one process, and every web process must see the same failures."""

    username = models.CharField(max_length=254)
    ip = models.CharField(max_length=45)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["username", "ip", "at"], name="sign_in_failure_lookup"),
            models.Index(fields=["at"], name="sign_in_failure_at"),
        ]

    def __str__(self) -> str:
        return f"{self.username} from {self.ip} at {self.at:%Y-%m-%d %H:%M:%S}"


class TwoFactor(models.Model):
    """A person's second factor: a TOTP secret (RFC 6238, as authenticator apps use),
    encrypted with the installation's key ring. It counts once confirmed with a code."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="two_factor")
    secret = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(_("turned on"), null=True, blank=True)
    # The last 30-second time step whose code was accepted: a code works only once.
    last_step = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("two-step sign-in")

    def __str__(self) -> str:
        return f"two-step sign-in of {self.user}"


class RecoveryCode(models.Model):
    """A one-time code that replaces the authenticator app once. Only its hash is kept;
    the codes are shown once, when they are made."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    digest = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "digest"], name="one_recovery_code_digest")
        ]

    def __str__(self) -> str:
        return f"recovery code of {self.user}"
