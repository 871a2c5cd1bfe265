from rest_framework import serializers

from invocations.models import Invocation, InvocationAttempt
from invocations.services import confirmation_url


class InvocationCreateSerializer(serializers.Serializer):
    tool = serializers.CharField(required=False, max_length=200)
    connection = serializers.IntegerField(required=False, min_value=1)
    operation = serializers.CharField(required=False, max_length=64)
    arguments = serializers.JSONField(required=False, default=dict)
    idempotency_key = serializers.CharField(required=False, max_length=200, allow_null=True)
    wait = serializers.FloatField(required=False, min_value=0, max_value=60, default=0)

    def validate(self, attrs):
        if not attrs.get("tool") and not (attrs.get("connection") and attrs.get("operation")):
            raise serializers.ValidationError(
                {"tool": ["Give a tool, or a connection and an operation."]}
            )
        return attrs


class WaitSerializer(serializers.Serializer):
    wait = serializers.FloatField(required=False, min_value=0, max_value=60, default=0)


class InvocationFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Invocation.Status.choices, required=False)
    connection = serializers.IntegerField(required=False, min_value=1)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)


class InvocationAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = InvocationAttempt
        fields = ["number", "started_at", "finished_at", "status_code", "error_kind", "duration_ms"]


class InvocationSerializer(serializers.ModelSerializer):
    tool = serializers.CharField(source="tool_name")
    operation_name = serializers.CharField(source="operation.name")
    confirmation_url = serializers.SerializerMethodField()
    request = serializers.JSONField(source="request_preview")

    class Meta:
        model = Invocation
        fields = [
            "id", "status", "tool", "connection", "operation", "operation_name", "via", "arguments",
            "idempotency_key", "requires_confirmation", "confirmation_url", "expires_at", "decided_at",
            "request", "result", "error", "attempts", "created_at", "queued_at", "started_at", "finished_at",
        ]
        read_only_fields = fields

    def get_confirmation_url(self, obj) -> str | None:
        return confirmation_url(obj)


class InvocationDetailSerializer(InvocationSerializer):
    attempt_log = InvocationAttemptSerializer(source="attempt_rows", many=True, read_only=True)

    class Meta(InvocationSerializer.Meta):
        fields = [*InvocationSerializer.Meta.fields, "attempt_log"]
        read_only_fields = fields
