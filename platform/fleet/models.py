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
