"""Machines of the fleet and the tokens their agents write with."""
import hashlib
import secrets

from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "rw_"


def hash_token(token: str) -> str:
    """Tokens are random 256-bit strings, so a plain SHA-256 is a safe lookup key."""
    return hashlib.sha256(token.encode()).hexdigest()


class Machine(models.Model):
    """One fleet machine. Created by name with `agent_token`; its hardware fields
    are filled from the first run report its agent uploads."""

    name = models.CharField(max_length=200, unique=True)
    # Stable id the engine derives from the hardware; empty until the first report.
    fingerprint = models.CharField(max_length=64, blank=True, default="")
    hostname = models.CharField(max_length=255, blank=True, default="")
    cpu_model = models.CharField(max_length=255, blank=True, default="")
    cores = models.PositiveIntegerField(null=True, blank=True)
    memory_bytes = models.BigIntegerField(null=True, blank=True)
    os = models.CharField(max_length=255, blank=True, default="")
    python = models.CharField(max_length=64, blank=True, default="")
    numpy = models.CharField(max_length=64, blank=True, default="")
    blas = models.CharField(max_length=255, blank=True, default="")
    peak_gflops = models.FloatField(null=True, blank=True)
    peak_gbs = models.FloatField(null=True, blank=True)
    token_hash = models.CharField(max_length=64, blank=True, default="", db_index=True)  # serves token auth
    token_created = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    first_seen = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # Two machine records may not claim one physical machine.
            models.UniqueConstraint(
                fields=["fingerprint"], condition=~models.Q(fingerprint=""), name="unique_nonempty_fingerprint"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def rotate_token(self) -> str:
        """Give the machine a new token, invalidating the old one; returns the
        token, which is shown once and never stored."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.token_hash = hash_token(token)
        self.token_created = timezone.now()
        self.save(update_fields=["token_hash", "token_created"])
        return token

    def revoke_token(self) -> None:
        self.token_hash = ""
        self.save(update_fields=["token_hash"])

    @property
    def ridge_point(self) -> float | None:
        """FLOPs per byte where the compute roof meets the bandwidth slope."""
        if self.peak_gflops and self.peak_gbs:
            return self.peak_gflops / self.peak_gbs
        return None


ENROLL_TOKEN_PREFIX = "rwe_"


class EnrollmentToken(models.Model):
    """A shared secret that lets new agents register themselves
    (`POST /api/v1/agents/register`) instead of an operator running
    `agent_token` per machine. Issued with `manage.py enroll_token`; only its
    SHA-256 is stored."""

    token_hash = models.CharField(max_length=64, unique=True)  # unique: serves the lookup by hash
    label = models.CharField(max_length=200, blank=True, default="")
    created = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)  # null: never expires
    max_uses = models.PositiveIntegerField(null=True, blank=True)  # null: unlimited
    uses = models.PositiveIntegerField(default=0)
    revoked = models.BooleanField(default=False)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"enrollment token {self.pk} {self.label!r}" if self.label else f"enrollment token {self.pk}"

    @classmethod
    def issue(cls, label: str = "", max_uses: int | None = None, expires_at=None) -> tuple["EnrollmentToken", str]:
        """Create a token; returns it with its secret, which is shown once and never stored."""
        secret = ENROLL_TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(token_hash=hash_token(secret), label=label, max_uses=max_uses, expires_at=expires_at)
        return token, secret

    def refusal(self, now=None) -> str | None:
        """Why this token cannot enroll a machine now, or None if it can."""
        now = now or timezone.now()
        if self.revoked:
            return f"Enrollment token {self.pk} is revoked."
        if self.expires_at is not None and self.expires_at <= now:
            return f"Enrollment token {self.pk} expired at {self.expires_at.isoformat()}."
        if self.max_uses is not None and self.uses >= self.max_uses:
            return f"Enrollment token {self.pk} is used up ({self.uses} of {self.max_uses} uses)."
        return None

    def record_use(self) -> None:
        self.uses += 1
        self.last_used = timezone.now()
        self.save(update_fields=["uses", "last_used"])
