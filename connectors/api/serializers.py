"""Serializers of the connector API. They shape input and output; the services hold the rules."""

from __future__ import annotations

from rest_framework import serializers

from connectors.models import AuthSchemeConfig, Connector, ConnectorVersion, Operation


class StrictCharField(serializers.CharField):
    """Text only: a number or a boolean is a type error, not silently turned into text."""

    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class ConnectionVariableSerializer(serializers.Serializer):
    name = StrictCharField(
        max_length=64, help_text="Usable as {name} in the base URL and headers: letters, digits and _."
    )
    value = StrictCharField(max_length=2000, allow_blank=True, trim_whitespace=False, help_text="Default value.")


class AuthSchemeConfigSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuthSchemeConfig
        fields = ["id", "position", "scheme_name", "kind", "config", "description"]
        extra_kwargs = {
            "id": {"help_text": "Id of the auth scheme config; give these ids to reorder them."},
            "position": {"help_text": "Order of preference, from 0."},
            "scheme_name": {"help_text": "Name of the security scheme in the schema; empty when added by hand."},
            "kind": {"help_text": "How calls authenticate: api_key, http_basic, http_bearer, oauth2_..., ..."},
            "description": {"help_text": "Description from the schema."},
            "config": {"help_text": "Non-secret settings of the scheme (where a key goes, OAuth2 URLs and scopes)."},
        }


class ConnectorVersionRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConnectorVersion
        fields = ["id", "number", "created_at"]
        extra_kwargs = {
            "id": {"help_text": "Id of the version."},
            "number": {"help_text": "1 for the first import, then one more per import."},
            "created_at": {"help_text": "When it was imported."},
        }


class ConnectorVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, help_text="Who imported this version."
    )

    class Meta:
        model = ConnectorVersion
        fields = [
            "id",
            "number",
            "openapi_version",
            "source_format",
            "source_size",
            "title",
            "operation_count",
            "added",
            "removed",
            "changed",
            "warnings",
            "created_by",
            "created_at",
        ]
        extra_kwargs = {
            "id": {"help_text": "Id of the version."},
            "number": {"help_text": "1 for the first import, then one more per import."},
            "added": {"help_text": 'Methods new in this version, as "METHOD path".'},
            "removed": {"help_text": 'Methods of the previous version no longer present, as "METHOD path".'},
            "changed": {"help_text": 'Methods kept whose definition changed, as "METHOD path".'},
            "warnings": {"help_text": "What the import skipped or repaired, one sentence each."},
            "created_at": {"help_text": "When it was imported."},
            "openapi_version": {"help_text": "The document's swagger/openapi version."},
            "source_format": {"help_text": "json or yaml."},
            "source_size": {"help_text": "Size of the imported text in bytes."},
            "title": {"help_text": "info.title of the schema."},
            "operation_count": {"help_text": "Number of methods in this version."},
        }


class ConnectorSerializer(serializers.ModelSerializer):
    """A connector as read. ``connection_variables`` are the defaults of every connection."""

    organisation = serializers.PrimaryKeyRelatedField(read_only=True, help_text="The owner organisation's id.")
    integration_type = serializers.PrimaryKeyRelatedField(
        read_only=True, help_text="custom_openapi, or the catalog service's key."
    )
    connection_variables = ConnectionVariableSerializer(
        source="variables", many=True, read_only=True, help_text="Default connection variables."
    )
    auth_scheme_configs = AuthSchemeConfigSerializer(
        source="auth_schemes", many=True, read_only=True, help_text="In order of preference."
    )
    current_version = ConnectorVersionRefSerializer(read_only=True, help_text="The version whose methods apply.")
    versions = ConnectorVersionRefSerializer(many=True, read_only=True, help_text="Every import, newest first.")
    acknowledged_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, help_text="Who acknowledged the responsibilities of integrating it."
    )
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, help_text="Who created it.")

    class Meta:
        model = Connector
        fields = [
            "id",
            "organisation",
            "integration_type",
            "name",
            "description",
            "protocol_type",
            "base_url",
            "documentation_url",
            "icon_url",
            "enabled",
            "connection_variables",
            "approved_origins",
            "auth_scheme_configs",
            "current_version",
            "versions",
            "service_settings",
            "acknowledged_by",
            "acknowledged_at",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": "Id of the connector."},
            "name": {"help_text": "Unique within the organisation."},
            "description": {"help_text": "What the system is, for people choosing it."},
            "base_url": {"help_text": "Base URL of every call; may hold {name} connection variables."},
            "documentation_url": {"help_text": "Link to the API's documentation, or empty."},
            "icon_url": {"help_text": "URL of an icon, or empty."},
            "acknowledged_at": {"help_text": "When the responsibilities were acknowledged."},
            "created_at": {"help_text": "When it was created."},
            "protocol_type": {"help_text": "Always http."},
            "enabled": {"help_text": "Switched off, it is hidden from designers and assistants."},
            "approved_origins": {
                "help_text": "Origins (scheme://host[:port]) other than the base URL's that methods of the schema "
                "may call, as approved by an administrator."
            },
            "service_settings": {"help_text": "Settings of a catalog service; {} for custom connectors."},
            "updated_at": {
                "help_text": "Moves when the connector or any child (version, auth scheme, variable) changes."
            },
        }


class ConnectorCreateSerializer(serializers.Serializer):
    """Create a connector: either ``openapi_schema`` (custom) or ``catalog`` + ``settings``."""

    name = StrictCharField(max_length=200, help_text="Unique within the organisation.")
    description = StrictCharField(
        max_length=10_000, required=False, allow_blank=True, default="", help_text="What the system is."
    )
    base_url = StrictCharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        default="",
        help_text="http(s) URL with a host. When omitted, the schema's first absolute http(s) server is used.",
    )
    documentation_url = StrictCharField(
        max_length=2000, required=False, allow_blank=True, default="", help_text="http(s) link to the API's docs."
    )
    icon_url = StrictCharField(
        max_length=2000, required=False, allow_blank=True, default="", help_text="http(s) URL of an icon."
    )
    connection_variables = ConnectionVariableSerializer(many=True, required=False, help_text="Default variables.")
    openapi_schema = StrictCharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="The OpenAPI schema as JSON or YAML text (Swagger 2.0, OpenAPI 3.0, 3.1); at most 10 MB.",
    )
    catalog = StrictCharField(
        required=False, max_length=50, help_text="Key of a catalog service (slack, jira, ...), instead of a schema."
    )
    settings = serializers.JSONField(required=False, help_text="Settings of the catalog service.")
    acknowledged = serializers.BooleanField(
        help_text="true: the caller has reviewed and understood the requirements and responsibilities for "
        "creating and integrating a tool, including ensuring appropriate data access permissions."
    )

    def validate(self, attrs):
        has_schema = bool(attrs.get("openapi_schema", "").strip())
        has_catalog = bool(attrs.get("catalog"))
        if has_schema and has_catalog:
            raise serializers.ValidationError({"openapi_schema": ["Give openapi_schema or catalog, not both."]})
        if not has_schema and not has_catalog:
            raise serializers.ValidationError(
                {"openapi_schema": ["Give the OpenAPI schema as text (or a catalog key)."]}
            )
        return attrs


class ConnectorUpdateSerializer(serializers.Serializer):
    """PATCH: only what is given changes. Describes the input; the update service checks it."""

    name = StrictCharField(max_length=200, required=False, help_text="Unique within the organisation.")
    description = StrictCharField(max_length=10_000, required=False, allow_blank=True, help_text="What it is.")
    base_url = StrictCharField(max_length=2000, required=False, help_text="http(s) URL with a host.")
    documentation_url = StrictCharField(
        max_length=2000, required=False, allow_blank=True, help_text="http(s) link to the docs, or empty."
    )
    icon_url = StrictCharField(max_length=2000, required=False, allow_blank=True, help_text="http(s) icon URL.")
    enabled = serializers.BooleanField(required=False, help_text="false hides it from designers and assistants.")
    auth_scheme_config_ids = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        help_text="Reorders the auth scheme configs: exactly the ids of the connector's configs, in the new order.",
    )
    connection_variables = ConnectionVariableSerializer(
        many=True,
        required=False,
        help_text="Replaces the default connection variables, and overwrites the variables of every connection.",
    )
    approved_origins = serializers.ListField(
        child=StrictCharField(max_length=2000),
        required=False,
        help_text="Replaces the approved server origins (scheme://host[:port] each): methods whose schema server "
        "is on such an origin may be called there. The import lists every origin that needs approval.",
    )


class SchemaImportSerializer(serializers.Serializer):
    openapi_schema = StrictCharField(
        trim_whitespace=False, help_text="The new OpenAPI schema as JSON or YAML text; at most 10 MB."
    )


class SchemaImportResultSerializer(serializers.Serializer):
    version = ConnectorVersionSerializer(help_text="The version just made current.")
    added = serializers.ListField(child=serializers.CharField(), help_text='New methods, as "METHOD path".')
    removed = serializers.ListField(child=serializers.CharField(), help_text="Methods no longer in the schema.")
    changed = serializers.ListField(child=serializers.CharField(), help_text="Methods kept whose definition changed.")
    warnings = serializers.ListField(child=serializers.CharField(), help_text="What was skipped or repaired.")


class OperationSerializer(serializers.ModelSerializer):
    first_version = serializers.IntegerField(
        source="first_version_number", read_only=True, allow_null=True, help_text="The version that brought it."
    )
    updated_in_version = serializers.IntegerField(
        source="updated_in_version_number",
        read_only=True,
        allow_null=True,
        help_text="The version that last changed it.",
    )

    class Meta:
        model = Operation
        fields = [
            "id",
            "method",
            "path",
            "name",
            "tag",
            "tags",
            "summary",
            "description",
            "deprecated",
            "input_schema",
            "parameters",
            "request_body",
            "security",
            "servers",
            "first_version",
            "updated_in_version",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": "Id of the method; kept across imports while method and path stay."},
            "method": {"help_text": "HTTP method, upper case."},
            "path": {"help_text": "Path template, relative to the base URL."},
            "tags": {"help_text": "Every tag of the method."},
            "summary": {"help_text": "Short summary from the schema."},
            "description": {"help_text": "Description from the schema."},
            "deprecated": {"help_text": "Marked deprecated in the schema."},
            "servers": {
                "help_text": "Servers the schema gives for this method only: {url, document_path} on the document's "
                "origin (mapped onto the base URL), {url, origin} on another origin (used once approved)."
            },
            "name": {"help_text": "Stable tool name, unique within the connector: ^[A-Za-z0-9_-]{1,64}$."},
            "tag": {"help_text": "The first tag of the method."},
            "input_schema": {"help_text": "JSON Schema (2020-12) of the arguments."},
            "parameters": {"help_text": "Where each argument goes in the request."},
            "request_body": {"help_text": "Content type and encoding of the body, or null."},
            "security": {"help_text": "null: none declared; []: no auth; else alternatives {scheme: [scopes]}."},
        }
