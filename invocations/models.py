"""Invocations: one call of one operation through one connection on behalf of one user.

The row is the truth; the broker only carries its id. States move only forward, each move a
conditional UPDATE on the current state (``services.py``), so a message delivered twice, a
confirmation sent twice or a recovery racing a worker can never make a second call.
"""

import uuid

from django.conf import settings
from django.db import models


class Invocation(models.Model):
    class Status(models.TextChoices):
        AWAITING_CONFIRMATION = "awaiting_confirmation", "Awaiting confirmation"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled"

    FINAL = {Status.SUCCEEDED, Status.FAILED, Status.REJECTED, Status.EXPIRED, Status.CANCELLED}

    class Via(models.TextChoices):
        DIRECT = "direct", "Direct call"
        PROCESS = "process", "Process"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invocations")
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="invocations")
    connection = models.ForeignKey("connections.Connection", on_delete=models.CASCADE, related_name="invocations")
    operation = models.ForeignKey("connectors.Operation", on_delete=models.CASCADE, related_name="invocations")
    tool_name = models.CharField(max_length=64, blank=True)
    arguments = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=24, choices=Status.choices, db_index=True)
    via = models.CharField(max_length=8, choices=Via.choices, default=Via.DIRECT)
    # NULL (not "") when absent, so that the unique constraint applies only to given keys.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    requires_confirmation = models.BooleanField(default=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The request as it will be / was sent, secrets redacted: method, url, query, headers, body.
    request_preview = models.JSONField(default=dict, blank=True)
    # status_code, headers (safe subset), body (JSON or text), truncated, timings.
    result = models.JSONField(null=True, blank=True)
    # {kind, message, status?, excerpt?}
    error = models.JSONField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # Whether the call may be repeated after a lost worker (safe method or idempotency key sent).
    repeatable = models.BooleanField(default=False)
    # A running invocation's worker moves the lease forward; a lease in the past means the worker
    # was lost (killed, OOM, deploy).
    lease_until = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    # The next attempt's time when a retry was re-enqueued with a countdown.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # The outbox: while queued, when the dispatcher sends the task again if no worker claimed the
    # row by then (integrations_platform/outbox.py). Set with the state, cleared by the claim.
    dispatch_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="invocation_idempotency_key_per_user",
            )
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="invocation_history"),
            models.Index(fields=["status", "lease_until"], name="invocation_status_lease"),
            models.Index(fields=["status", "expires_at"], name="invocation_status_expiry"),
            models.Index(fields=["status", "dispatch_at"], name="invocation_status_dispatch"),
        ]

    def __str__(self) -> str:
        return f"{self.tool_name or self.operation_id} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL


class InvocationAttempt(models.Model):
    invocation = models.ForeignKey(Invocation, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error_kind = models.CharField(max_length=32, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["invocation", "number"]
        constraints = [
            models.UniqueConstraint(fields=["invocation", "number"], name="invocation_attempt_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.invocation_id} #{self.number}"
