"""Admin forms for connectors. They only shape input; the services hold the rules.

Field names match the service's error names (``name``, ``base_url``, ``openapi_schema`` ...), so
an ``ApplicationError`` lands next to the right field through ``add_to_form``.
"""

from __future__ import annotations

import json

from django import forms
from django.conf import settings

from accounts.models import Organisation
from connectors.models import Connector
from connectors.services import (
    ACKNOWLEDGEMENT_TEXT,
    DESCRIPTION_MAX,
    NAME_MAX,
    URL_MAX,
    connector_validate_update,
)
from integrations_platform.errors import ApplicationError


class SchemaInputMixin(forms.Form):
    """A schema pasted as JSON or YAML, or uploaded as a file: exactly one of them."""

    openapi_schema = forms.CharField(
        label="OpenAPI schema",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 16, "cols": 100, "spellcheck": "false", "class": "vLargeTextField"}),
        help_text="Paste the schema as JSON or YAML (Swagger 2.0, OpenAPI 3.0 or 3.1), or upload it below.",
    )
    schema_file = forms.FileField(label="…or upload the schema file", required=False)

    def clean(self):
        cleaned = super().clean()
        text = cleaned.get("openapi_schema") or ""
        upload = cleaned.get("schema_file")
        if text.strip() and upload:
            self.add_error("openapi_schema", "Paste the schema or upload a file, not both.")
            return cleaned
        if upload:
            # One byte past the limit is enough for the parser to say it is too large: the size
            # is checked there, in one place (connectors.services.schema_parse).
            cleaned["schema_source"] = upload.read(settings.OPENAPI_MAX_SCHEMA_BYTES + 1)
        elif text.strip():
            cleaned["schema_source"] = text
        elif "openapi_schema" not in self.errors:
            self.add_error("openapi_schema", "Paste the schema (JSON or YAML) or upload a file.")
        return cleaned


class ConnectorOpenAPIForm(SchemaInputMixin):
    """Add connector, custom OpenAPI (seed 000: title, description, API endpoint, schema, consent)."""

    field_order = [
        "organisation",
        "name",
        "description",
        "base_url",
        "documentation_url",
        "openapi_schema",
        "schema_file",
        "acknowledged",
    ]

    organisation = forms.ModelChoiceField(queryset=Organisation.objects.all(), help_text="The owner of the connector.")
    name = forms.CharField(label="Title", max_length=NAME_MAX)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=DESCRIPTION_MAX)
    base_url = forms.CharField(
        label="API endpoint",
        max_length=URL_MAX,
        help_text="The base URL of the system's API, for example https://api.example.com/v1. "
        "{name} placeholders of connection variables are allowed.",
    )
    documentation_url = forms.CharField(label="Documentation URL", max_length=URL_MAX, required=False)
    acknowledged = forms.BooleanField(
        label=ACKNOWLEDGEMENT_TEXT,
        required=True,
        error_messages={"required": "Confirm that you have reviewed the requirements and responsibilities."},
    )

    def __init__(self, *args, initial_organisation=None, **kwargs):
        super().__init__(*args, **kwargs)
        if initial_organisation is not None and not self.is_bound:
            self.fields["organisation"].initial = initial_organisation.pk


class SchemaImportForm(SchemaInputMixin):
    """Import a new schema version of an existing connector."""


class ConnectorChangeForm(forms.ModelForm):
    """The connector's own fields. Checked by the update service, so the rules stay in one place."""

    base_url = forms.CharField(label="API endpoint", max_length=URL_MAX)
    documentation_url = forms.CharField(max_length=URL_MAX, required=False)
    icon_url = forms.CharField(max_length=URL_MAX, required=False)
    variables = forms.JSONField(
        required=False,
        initial=list,
        help_text='A JSON list, for example [{"name": "tenant", "value": "acme"}]. '
        "Saving a change overwrites the variables of every connection of this connector.",
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
    )

    approved_origins = forms.JSONField(
        label="Approved server origins",
        required=False,
        initial=list,
        help_text='A JSON list, for example ["https://upload.example.com"]. Methods whose schema server is on '
        "another origin than the API endpoint are called there only once their origin is listed here; the "
        "import lists each such origin as a warning.",
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
    )

    class Meta:
        model = Connector
        fields = [
            "name",
            "description",
            "base_url",
            "documentation_url",
            "icon_url",
            "enabled",
            "variables",
            "approved_origins",
        ]

    def _get_validation_exclusions(self):
        # The URL fields are checked by the service, which allows {name} placeholders of
        # connection variables; the model's URLField validator would refuse them.
        exclude = super()._get_validation_exclusions()
        exclude.update({"base_url", "documentation_url", "icon_url"})
        return exclude

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and not self.errors:
            changed = {name: cleaned.get(name) for name in self.changed_data if name in self.Meta.fields}
            for name in ("variables", "approved_origins"):
                if name in changed and changed[name] is None:
                    changed[name] = []
            try:
                self.update_values = connector_validate_update(connector=self.instance, fields=changed)
            except ApplicationError as exc:
                exc.add_to_form(self)
        return cleaned


def variables_as_text(value) -> str:
    return json.dumps(value or [], indent=2)
