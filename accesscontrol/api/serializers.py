"""Input checks and the documented shapes of the access-control endpoints."""

from __future__ import annotations

from rest_framework import serializers


class ToolFilterSerializer(serializers.Serializer):
    connection = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    tag = serializers.CharField(required=False, max_length=200, trim_whitespace=True)
    q = serializers.CharField(required=False, max_length=200, trim_whitespace=True)


class _ToolOperationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class _ToolConnectionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    connector_id = serializers.IntegerField()
    connector_name = serializers.CharField()


class ToolSerializer(serializers.Serializer):
    """One tool (documentation only: the renderers write the response)."""

    name = serializers.CharField(
        help_text="Stable name, at most 64 characters: c{connection id}__{operation name}. Pass it to invocations/."
    )
    description = serializers.CharField()
    input_schema = serializers.JSONField(help_text="JSON Schema of the arguments.")
    output_schema = serializers.JSONField(
        help_text="JSON Schema of what a call's result holds: {status_code, headers, body}, the body's schema "
        "from the method's 2xx JSON responses (MCP's outputSchema; what a process step's output holds)."
    )
    requires_confirmation = serializers.BooleanField(help_text="A call waits for the user's confirmation first.")
    method = serializers.CharField()
    path = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    deprecated = serializers.BooleanField()
    operation = _ToolOperationSerializer()
    connection = _ToolConnectionSerializer()


class MethodRightChangeSerializer(serializers.Serializer):
    operation = serializers.IntegerField(help_text="Id of a method of the connection's connector.")
    principals = serializers.ListField(
        child=serializers.CharField(max_length=40),
        required=False,
        help_text='Who may call it: keys of the connection\'s principals ("group:3", "user:7") or "creator". '
        "[] switches the method off.",
    )
    requires_confirmation = serializers.BooleanField(required=False)


class MethodRightBulkSerializer(serializers.Serializer):
    method = serializers.CharField(required=False, help_text="Every method with this HTTP method (GET, DELETE, ...).")
    tag = serializers.CharField(required=False, max_length=200, help_text="Every method with this tag.")
    allow_principals = serializers.ListField(child=serializers.CharField(max_length=40), required=False)
    requires_confirmation = serializers.BooleanField(required=False)


class MethodRightsUpdateSerializer(serializers.Serializer):
    changes = MethodRightChangeSerializer(many=True, required=False)
    bulk = MethodRightBulkSerializer(many=True, required=False, help_text="Applied after changes, in order.")


class PrincipalSerializer(serializers.Serializer):
    key = serializers.CharField()
    kind = serializers.ChoiceField(choices=["group", "user"])
    id = serializers.IntegerField()
    name = serializers.CharField()
    organisation = serializers.DictField(allow_null=True)
    is_company = serializers.BooleanField()
    is_creator = serializers.BooleanField()


class MethodRightSerializer(serializers.Serializer):
    operation = serializers.IntegerField()
    name = serializers.CharField()
    method = serializers.CharField()
    path = serializers.CharField()
    summary = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    method_right = serializers.IntegerField(allow_null=True)
    principals = serializers.ListField(child=serializers.CharField(), help_text="Keys of who may call it.")
    requires_confirmation = serializers.BooleanField()


class AccessSerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=["company", "groups", "individuals"], allow_null=True)
    organisations = serializers.ListField(child=serializers.DictField())
    groups = serializers.ListField(child=serializers.DictField())
    users = serializers.ListField(child=serializers.DictField())
    creator = serializers.DictField()


class MethodRightsDocumentSerializer(serializers.Serializer):
    connection = serializers.DictField()
    access = AccessSerializer()
    principals = PrincipalSerializer(many=True)
    operations = MethodRightSerializer(many=True)
    changed = serializers.IntegerField(required=False, help_text="After PUT: how many methods changed.")


class MethodRightsFilterSerializer(serializers.Serializer):
    method = serializers.CharField(required=False, max_length=10)
    tag = serializers.CharField(required=False, max_length=200)
    q = serializers.CharField(required=False, max_length=200)
