"""Connections (a connector made usable) and their encrypted, write-only credentials."""

from django.conf import settings
from django.db import models
from encrypted_model_fields.fields import EncryptedTextField

from connectors.models import AuthSchemeConfig


class Connection(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Enabled"
        NEEDS_REAUTHORISATION = "needs_reauthorisation", "Needs re-authorisation"

    class AccessLevel(models.TextChoices):
        COMPANY = "company", "Company"
        GROUPS = "groups", "Groups"
        INDIVIDUALS = "individuals", "Individuals"

    connector = models.ForeignKey("connectors.Connector", on_delete=models.CASCADE, related_name="connections")
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="connections")
    name = models.CharField(max_length=200)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # [{"name": ..., "value": ...}]: the connector's defaults, overridable here.
    variables = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(max_length=500, blank=True)
    # Defined once, at creation (seed 000); the selections are guardian permissions.
    access_level = models.CharField(max_length=16, choices=AccessLevel.choices, default=AccessLevel.COMPANY)
    # Outgoing call settings; None means the platform default from settings.
    connect_timeout = models.FloatField(null=True, blank=True)
    read_timeout = models.FloatField(null=True, blank=True)
    retry_policy = models.JSONField(default=dict, blank=True)
    # Who hears of a call that failed after its retries.
    error_notify_email = models.EmailField(blank=True)
    error_notify_webhook_url = models.URLField(max_length=2000, blank=True)
    # The harmless call of "Test connection": a GET operation of the connector, or the base URL.
    test_operation = models.ForeignKey(
        "connectors.Operation", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["connector__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["connector", "name"], name="connection_unique_name_per_connector")
        ]
        permissions = [("use_connection", "Can use the connection (design with it, call its tools)")]
        default_permissions = ("add", "change", "delete", "view")

    def __str__(self) -> str:
        return f"{self.connector.name} / {self.name}"


class Credential(models.Model):
    """Secret material for one auth scheme. Encrypted at rest, never shown again once saved."""

    Kind = AuthSchemeConfig.Kind

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="credentials")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=40, choices=Kind.choices)
    # Non-secret settings of the kind (where an API key goes, username, client id, URLs, scopes,
    # header names, ...). Safe to show.
    config = models.JSONField(default=dict, blank=True)
    # Secret values of the kind as a JSON object (password, token, client secret, API key,
    # connection string, signing secret, custom header values). Encrypted; write-only.
    secret = EncryptedTextField(blank=True, default="")
    # OAuth2 tokens (access, refresh) as a JSON object. Encrypted; write-only.
    tokens = EncryptedTextField(blank=True, default="")
    token_expires_at = models.DateTimeField(null=True, blank=True)
    # Moves on every token change: a refresh only writes when the version is still the one it
    # started from (a conditional update, safe on SQLite and PostgreSQL alike).
    token_version = models.PositiveIntegerField(default=0)
    # Set while one worker refreshes the token; others wait for token_version to move.
    token_refresh_claimed_until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    secret_changed_at = models.DateTimeField(null=True, blank=True)
    secret_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="credential_unique_name_per_organisation")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class ConnectionCredential(models.Model):
    """One item of a connection's ordered action or trigger credential list."""

    class Purpose(models.TextChoices):
        ACTION = "action", "Action (calls out)"
        TRIGGER = "trigger", "Trigger (verifies calls in)"

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="credential_links")
    credential = models.ForeignKey(Credential, on_delete=models.PROTECT, related_name="connection_links")
    purpose = models.CharField(max_length=8, choices=Purpose.choices)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["connection", "purpose", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "purpose", "credential"], name="connection_credential_once_per_list"
            )
        ]

    def __str__(self) -> str:
        # The row label of the connection page's credential inline: the credential's name and kind.
        return str(self.credential)


class OAuthState(models.Model):
    """One authorization-code flow in progress: single-use, bound to the user and the credential."""

    state = models.CharField(max_length=100, unique=True)
    credential = models.ForeignKey(Credential, on_delete=models.CASCADE, related_name="oauth_states")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    redirect_uri = models.URLField(max_length=2000)
    # PKCE verifier: encrypted like every other secret.
    code_verifier = EncryptedTextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"OAuth flow for credential {self.credential_id}"
