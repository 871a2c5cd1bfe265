"""Serializers: shapes only. Validation of content happens in the services (one place), so error
messages name fields and never echo a value back (DRF's ChoiceField would: not used here)."""

from rest_framework import serializers

from connections.models import Connection, Credential
from connections.selectors import credential_state


class CredentialRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Credential
        fields = ["id", "name", "kind"]


class CredentialSerializer(serializers.ModelSerializer):
    """Metadata only: never the secret, never tokens, never anything derived from them."""

    secret_set = serializers.SerializerMethodField()
    secret_changed_at = serializers.DateTimeField(read_only=True)
    secret_changed_by = serializers.SerializerMethodField()
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    token_expires_at = serializers.DateTimeField(read_only=True)

    class Meta:
        model = Credential
        fields = [
            "id", "name", "kind", "config", "secret_set", "secret_changed_at", "secret_changed_by",
            "token_expires_at", "created_by", "created_at", "updated_at",
        ]
        read_only_fields = fields

    def get_secret_set(self, obj) -> bool:
        return credential_state(obj)["secret_set"]

    def get_secret_changed_by(self, obj) -> str | None:
        return credential_state(obj)["secret_changed_by"]


class CredentialWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    kind = serializers.CharField(max_length=40)
    config = serializers.JSONField(required=False, default=dict)
    secret = serializers.JSONField(write_only=True)


class CredentialUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    config = serializers.JSONField(required=False)
    secret = serializers.JSONField(write_only=True, required=False)


class ConnectionSerializer(serializers.ModelSerializer):
    connector = serializers.PrimaryKeyRelatedField(read_only=True)
    organisation = serializers.PrimaryKeyRelatedField(read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    action_credentials = serializers.SerializerMethodField()
    trigger_credentials = serializers.SerializerMethodField()
    test_operation = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Connection
        fields = [
            "id", "name", "connector", "organisation", "created_by", "variables", "status", "status_reason",
            "access_level", "action_credentials", "trigger_credentials", "test_operation", "connect_timeout",
            "read_timeout", "retry_policy", "error_notify_email", "error_notify_webhook_url", "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def _links(self, obj, purpose):
        links = [link for link in obj.credential_links.all() if link.purpose == purpose]
        links.sort(key=lambda link: (link.position, link.pk))
        return [CredentialRefSerializer(link.credential).data for link in links]

    def get_action_credentials(self, obj) -> list[dict]:
        return self._links(obj, "action")

    def get_trigger_credentials(self, obj) -> list[dict]:
        return self._links(obj, "trigger")


class ConnectionDetailSerializer(ConnectionSerializer):
    access = serializers.SerializerMethodField()

    class Meta(ConnectionSerializer.Meta):
        fields = [*ConnectionSerializer.Meta.fields, "access"]
        read_only_fields = fields

    def get_access(self, obj) -> dict:
        from connections.selectors import connection_access_read

        return connection_access_read(obj)


class ConnectionCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    variables = serializers.JSONField(required=False)
    action_credentials = serializers.JSONField(required=False, default=list)
    trigger_credentials = serializers.JSONField(required=False, default=list)
    access_level = serializers.CharField(required=False, default="company", max_length=20)
    groups = serializers.JSONField(required=False, default=list)
    users = serializers.JSONField(required=False, default=list)
    organisations = serializers.JSONField(required=False, default=list)
    test_operation = serializers.IntegerField(required=False, allow_null=True)
    connect_timeout = serializers.FloatField(required=False, allow_null=True)
    read_timeout = serializers.FloatField(required=False, allow_null=True)
    retry_policy = serializers.JSONField(required=False)
    error_notify_email = serializers.EmailField(required=False, allow_blank=True)
    error_notify_webhook_url = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ConnectionUpdateSerializer(ConnectionCreateSerializer):
    name = serializers.CharField(max_length=200, required=False)
    action_credentials = serializers.JSONField(required=False)
    trigger_credentials = serializers.JSONField(required=False)
    access_level = serializers.CharField(required=False, max_length=20)
    groups = serializers.JSONField(required=False)
    users = serializers.JSONField(required=False)
    organisations = serializers.JSONField(required=False)


class ConnectionTestResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    status = serializers.IntegerField(allow_null=True)
    elapsed_ms = serializers.IntegerField(allow_null=True)
    url = serializers.CharField()
    excerpt = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_blank=True)
