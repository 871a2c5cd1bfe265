"""Connectors (descriptions of external HTTP systems), their schema versions and operations."""

from django.conf import settings
from django.db import models


class IntegrationType(models.Model):
    """A platform-wide switch: each catalog service, and custom OpenAPI connectors as a whole.

    Switched off, its connectors are hidden from designers and assistants and their calls are
    refused with a reason that says so.
    """

    CUSTOM_OPENAPI = "custom_openapi"

    key = models.SlugField(max_length=50, primary_key=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class OrganisationIntegrationType(models.Model):
    """An organisation's own switch of an integration type, within what the operator allows.

    No row means on. Its platform administrators switch a type off for the organisation only;
    the operator's switch (``IntegrationType.enabled``) holds for the whole installation.
    """

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.CASCADE, related_name="integration_type_switches"
    )
    integration_type = models.ForeignKey(
        IntegrationType, on_delete=models.CASCADE, related_name="organisation_switches"
    )
    enabled = models.BooleanField(default=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "integration type of an organisation"
        constraints = [
            models.UniqueConstraint(fields=["organisation", "integration_type"], name="organisation_integration_type")
        ]

    def __str__(self) -> str:
        return f"{self.integration_type} for {self.organisation_id}: {'on' if self.enabled else 'off'}"


class Connector(models.Model):
    PROTOCOL_HTTP = "http"

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="connectors")
    integration_type = models.ForeignKey(IntegrationType, on_delete=models.PROTECT, related_name="connectors")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    protocol_type = models.CharField(max_length=16, default=PROTOCOL_HTTP, editable=False)
    base_url = models.URLField("API endpoint", max_length=2000)
    documentation_url = models.URLField(max_length=2000, blank=True)
    icon_url = models.URLField(max_length=2000, blank=True)
    enabled = models.BooleanField(default=True)
    # Service-specific settings of a catalog connector (instance URL, API version, scopes, ...).
    service_settings = models.JSONField(default=dict, blank=True)
    # Default connection variables: [{"name": ..., "value": ...}], usable as {name} in the base
    # URL and in headers. Changing them overwrites the list on every connection (seed 002).
    variables = models.JSONField(default=list, blank=True)
    # Origins ("https://upload.example.com") other than the base URL's that an administrator approved
    # for the schema's servers on another origin. The base URL fixes the origin of every other call.
    approved_origins = models.JSONField("approved server origins", default=list, blank=True)
    current_version = models.ForeignKey(
        "ConnectorVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Moves when the connector or any child (version, auth scheme, variable) changes.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="connector_unique_name_per_organisation")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_custom(self) -> bool:
        return self.integration_type_id == IntegrationType.CUSTOM_OPENAPI


class ConnectorVersion(models.Model):
    """One schema import. The connector's operations are those of its current version."""

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    openapi_version = models.CharField(max_length=20)
    source_format = models.CharField(max_length=8)  # "json" | "yaml"
    source_size = models.PositiveIntegerField(default=0)
    document = models.JSONField(help_text="The schema as imported (internal $refs kept).")
    title = models.CharField(max_length=500, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    # What this import changed compared with the previous version: lists of "METHOD path".
    added = models.JSONField(default=list, blank=True)
    removed = models.JSONField(default=list, blank=True)
    changed = models.JSONField(default=list, blank=True)
    operation_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["connector", "-number"]
        constraints = [models.UniqueConstraint(fields=["connector", "number"], name="connector_version_unique")]

    def __str__(self) -> str:
        return f"{self.connector} v{self.number}"


class Operation(models.Model):
    """One method + path of the current schema: a tool to an assistant.

    Matched by method + path across imports, so rights set on it survive a re-import.
    """

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="operations")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2000)
    name = models.CharField(max_length=64)
    tag = models.CharField(max_length=200, blank=True, db_index=True)
    tags = models.JSONField(default=list, blank=True)
    summary = models.CharField(max_length=1000, blank=True)
    description = models.TextField(blank=True)
    deprecated = models.BooleanField(default=False)
    # JSON Schema (draft 2020-12) of the arguments: one property per parameter and "body".
    input_schema = models.JSONField(default=dict)
    # JSON Schema of what a call's result holds: {status_code, headers, body}, the body's schema
    # from the 2xx JSON responses (``connectors.openapi.outputs``); MCP's outputSchema.
    output_schema = models.JSONField(default=dict, blank=True)
    # Why no credential the platform supports can call this method ("" when one can): such a method
    # is shown so in the admin and never offered as a tool (``connectors.openapi.security``).
    unusable_reason = models.TextField(blank=True)
    # How to rebuild a request from arguments: [{"name", "in", "style", "explode", "required",
    # "allow_reserved", "content_type"?}] and {"content_type", "required", "encoding"} or None.
    parameters = models.JSONField(default=list, blank=True)
    request_body = models.JSONField(null=True, blank=True)
    # Security requirements of the method: None when the schema declares none (use every action
    # credential), [] for "no auth", else a list of alternatives {"scheme": [scopes]}.
    security = models.JSONField(null=True, blank=True)
    # The servers the schema gives for this operation, classified at import
    # (``connectors.openapi.request.server_entries``): {"url", "document_path"} on the document's own
    # origin, mapped onto the base URL; {"url", "origin"} on another origin, used once approved; {"url"}
    # relative to the base URL.
    servers = models.JSONField(default=list, blank=True)
    first_version = models.ForeignKey(ConnectorVersion, on_delete=models.SET_NULL, null=True, related_name="+")
    updated_in_version = models.ForeignKey(ConnectorVersion, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        ordering = ["connector", "tag", "path", "method"]
        constraints = [
            models.UniqueConstraint(fields=["connector", "method", "path"], name="operation_unique_method_path"),
            models.UniqueConstraint(fields=["connector", "name"], name="operation_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def is_read_only(self) -> bool:
        return self.method in {"GET", "HEAD", "OPTIONS"}

    @property
    def usable(self) -> bool:
        return not self.unusable_reason


class AuthSchemeConfig(models.Model):
    """How the connector's system authenticates calls, in order of preference."""

    class Kind(models.TextChoices):
        API_KEY = "api_key", "API key"
        HTTP_BASIC = "http_basic", "HTTP basic"
        HTTP_BEARER = "http_bearer", "HTTP bearer token"
        OAUTH2_AUTHORIZATION_CODE = "oauth2_authorization_code", "OAuth2 authorization code"
        OAUTH2_CLIENT_CREDENTIALS = "oauth2_client_credentials", "OAuth2 client credentials"
        CONNECTION_STRING = "connection_string", "Connection string"
        WEBHOOK = "webhook", "Webhook URL and signing secret"
        CUSTOM_HEADERS = "custom_headers", "Custom headers"

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="auth_schemes")
    position = models.PositiveIntegerField(default=0)
    # The name of the security scheme in the schema ("" when not from a schema).
    scheme_name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=40, choices=Kind.choices)
    # Non-secret settings: {"in": "header", "name": "X-API-Key", "prefix": ""},
    # {"authorize_url", "token_url", "refresh_url", "scopes": [...]}, ...
    config = models.JSONField(default=dict, blank=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["connector", "position", "id"]

    def __str__(self) -> str:
        return f"{self.scheme_name or self.get_kind_display()}"
