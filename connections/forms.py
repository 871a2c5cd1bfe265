"""Admin forms for credentials and connections. Secrets are write-only: password inputs that never
render a value, and nothing derived from the value (no mask, no length, no last characters)."""

from __future__ import annotations

import json

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from accounts.models import Organisation
from connections import kinds
from connections.models import Connection, Credential
from connectors.catalog import CatalogService
from integrations_platform import jsondepth

SECRET_FIELDS = {
    "key": "API key",
    "password": "Password / API token",
    "token": "Token",
    "client_secret": "Client secret",
    "connection_string": "Connection string",
    "signing_secret": "Signing secret",
}
WRITE_ONLY_HELP = "Write-only: never shown again once saved. Leave empty to keep the stored value."


def _secret_input():
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})


def parse_header_lines(text: str) -> dict:
    headers = {}
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        headers[name.strip()] = value.strip() if sep else ""
    return headers


def _secret_field(label):
    return forms.CharField(
        label=label, required=False, max_length=kinds.MAX_SECRET_LENGTH, widget=_secret_input(),
        help_text=WRITE_ONLY_HELP, strip=False,
    )


class CredentialAdminForm(forms.ModelForm):
    secret_key = _secret_field(SECRET_FIELDS["key"])
    secret_password = _secret_field(SECRET_FIELDS["password"])
    secret_token = _secret_field(SECRET_FIELDS["token"])
    secret_client_secret = _secret_field(SECRET_FIELDS["client_secret"])
    secret_connection_string = _secret_field(SECRET_FIELDS["connection_string"])
    secret_signing_secret = _secret_field(SECRET_FIELDS["signing_secret"])
    config_json = forms.CharField(
        label="Settings (JSON)", required=False, widget=forms.Textarea(attrs={"rows": 5, "cols": 80}),
        help_text="Non-secret settings of the kind, e.g. {\"in\": \"header\", \"name\": \"X-API-Key\"}.",
    )
    custom_headers = forms.CharField(
        label="Custom headers (Name: value, one a line)", required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80, "autocomplete": "off"}),
        help_text=WRITE_ONLY_HELP,
    )

    class Meta:
        model = Credential
        fields = ["organisation", "name", "kind"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Never prefill the headers textarea: values are secret.
        self.initial.pop("custom_headers", None)
        if self.instance.pk:
            self.fields["kind"].disabled = True
            self.fields["organisation"].disabled = True
            config = {k: v for k, v in self.instance.config.items() if k != "header_names"}
            self.initial["config_json"] = json.dumps(config, indent=1)
        self.cleaned_secret = None
        self.cleaned_config = None

    def clean_config_json(self):
        text = self.cleaned_data.get("config_json") or ""
        if not text.strip():
            return {}
        try:
            value = jsondepth.loads(text)
        except jsondepth.TooDeep as exc:
            raise forms.ValidationError(str(exc)) from None
        except ValueError:
            raise forms.ValidationError("Not valid JSON.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("Give a JSON object.")
        return value

    def _secret_given(self) -> dict | None:
        kind = self.cleaned_data.get("kind") or self.instance.kind
        if kind == kinds.Kind.CUSTOM_HEADERS:
            headers = parse_header_lines(self.cleaned_data.get("custom_headers", ""))
            return {"headers": headers} if headers else None
        spec = kinds.KINDS.get(kind)
        if spec is None:
            return None
        values = {f.name: self.cleaned_data.get(f"secret_{f.name}") for f in spec.secret}
        values = {k: v for k, v in values.items() if v}
        return values or None

    def clean(self):
        data = super().clean()
        kind = data.get("kind") or self.instance.kind
        if not kind or "config_json" not in data:
            return data
        secret = self._secret_given()
        from integrations_platform.errors import ApplicationError

        try:
            config, _ = kinds.validate(
                kind, data["config_json"], secret, secret_required=not self.instance.pk
            )
        except ApplicationError as exc:
            for key, problems in exc.field_errors.items():
                target = self._field_for(key)
                for problem in problems:
                    named = target is None or target in ("config_json", "custom_headers")
                    self.add_error(target, f"{key}: {problem}" if named else problem)
            return data
        self.cleaned_config = data["config_json"]
        self.cleaned_secret = secret
        del config
        return data

    def _field_for(self, key: str) -> str | None:
        if key.startswith("config"):
            return "config_json"
        if key.startswith("secret.headers"):
            return "custom_headers"
        if key.startswith("secret."):
            name = key.split(".", 1)[1]
            return f"secret_{name}" if f"secret_{name}" in self.fields else None
        return key if key in self.fields else None


class ConnectionAdminForm(forms.ModelForm):
    variables_json = forms.CharField(
        label="Variables (JSON)", required=False, widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text='A JSON list, for example [{"name": "tenant", "value": "acme"}]. The connector declares the names.',
    )
    groups = forms.ModelMultipleChoiceField(queryset=Group.objects.none(), required=False)
    users = forms.ModelMultipleChoiceField(queryset=get_user_model().objects.none(), required=False)
    organisations = forms.ModelMultipleChoiceField(queryset=Organisation.objects.all(), required=False)

    class Meta:
        model = Connection
        fields = [
            "connector", "name", "access_level", "test_operation", "connect_timeout", "read_timeout",
            "error_notify_email", "error_notify_webhook_url",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["groups"].queryset = Group.objects.filter(organisation_link__isnull=False, company_of__isnull=True)
        self.fields["users"].queryset = get_user_model().objects.filter(is_active=True).order_by("username")
        if self.instance.pk:
            self.initial["variables_json"] = json.dumps(self.instance.variables, indent=1)
            # Access is defined once, at creation; the change page shows a read-only summary.
            for name in ("connector", "access_level", "groups", "users", "organisations"):
                if name in self.fields:
                    self.fields[name].disabled = True
            if "test_operation" in self.fields:
                self.fields["test_operation"].queryset = self.instance.connector.operations.filter(method="GET")
                self.fields["test_operation"].help_text = (
                    "The harmless call of Test connection: a GET method without required parameters; "
                    "empty for the base URL."
                )

    def clean_variables_json(self):
        text = self.cleaned_data.get("variables_json") or ""
        if not text.strip():
            return None
        try:
            return jsondepth.loads(text)
        except jsondepth.TooDeep as exc:
            raise forms.ValidationError(str(exc)) from None
        except ValueError:
            raise forms.ValidationError("Not valid JSON.") from None


class CatalogForm(forms.Form):
    """Settings of one catalog service, then (optionally) its first connection's credential."""

    organisation = forms.ModelChoiceField(queryset=Organisation.objects.all())
    name = forms.CharField(label="Connector name", max_length=200)
    connection_name = forms.CharField(
        label="Connection name", max_length=200, required=False,
        help_text="Fill in the credential below to create a first connection (company access) now.",
    )

    def __init__(self, *args, service: CatalogService, **kwargs):
        super().__init__(*args, **kwargs)
        self.service = service
        for spec in service.settings:
            self.fields[f"settings_{spec.name}"] = _field_for(spec, required=spec.required)
        for spec in service.credential_config_fields:
            self.fields[f"credential_{spec.name}"] = _field_for(spec, required=False)
        for spec in service.credential_secret_fields:
            self.fields[f"secret_{spec.name}"] = forms.CharField(
                label=spec.label, required=False, max_length=spec.max_length, widget=_secret_input(), strip=False,
                help_text="Write-only: never shown again once saved.",
            )

    def settings_values(self) -> dict:
        out = {}
        for spec in self.service.settings:
            value = self.cleaned_data.get(f"settings_{spec.name}")
            if spec.type == "scopes" and isinstance(value, str):
                value = value.split()
            if value not in (None, "", []):
                out[spec.name] = value
        return out

    def credential_values(self) -> tuple[dict, dict]:
        config = {s.name: self.cleaned_data.get(f"credential_{s.name}") for s in self.service.credential_config_fields}
        secret = {s.name: self.cleaned_data.get(f"secret_{s.name}") for s in self.service.credential_secret_fields}
        return {k: v for k, v in config.items() if v}, {k: v for k, v in secret.items() if v}


def _field_for(spec: kinds.FieldSpec, *, required: bool):
    initial = " ".join(spec.default) if spec.type == "scopes" and spec.default else spec.default
    if spec.type == "choice":
        return forms.ChoiceField(
            label=spec.label, choices=[(c, c) for c in spec.choices], required=required, initial=initial,
            help_text=spec.help_text,
        )
    return forms.CharField(
        label=spec.label, required=required, max_length=spec.max_length if spec.type != "scopes" else 5000,
        initial=initial, help_text=spec.help_text,
    )
