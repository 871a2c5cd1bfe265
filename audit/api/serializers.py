"""The shape of an audit entry in the API, for the schema; the data is ``audit.export.entry_data``
(one shape for the list and the JSON lines export)."""

from rest_framework import serializers

from audit.export import entry_data


class AuditOrganisationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class AuditActorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class AuditObjectSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="App label and model, such as connections.credential.")
    id = serializers.CharField()
    repr = serializers.CharField(help_text="What the object was called when the entry was made.")
    api_url = serializers.CharField(allow_null=True, help_text="The object in this API, where it has an address.")
    admin_url = serializers.CharField(allow_null=True, help_text="The object's page in the administration.")
    history_url = serializers.CharField(allow_null=True, help_text="Every entry of the object.")


class AuditEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    organisation = AuditOrganisationSerializer(allow_null=True)
    actor = AuditActorSerializer(allow_null=True, help_text="Null for the platform itself (a worker, a schedule).")
    action = serializers.CharField()
    object = AuditObjectSerializer()
    changes = serializers.JSONField(help_text="Which fields changed and, where not secret, before and after.")

    def to_representation(self, instance):
        return entry_data(instance)
