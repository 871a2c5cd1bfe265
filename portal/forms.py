"""Forms of the pages. They turn posted text into the arguments of the services and the services'
errors into field errors; every rule lives in the services."""

from __future__ import annotations

import re

from django import forms

from integrations_platform.errors import ApplicationError

NAME_MAX = 200
VALUE_MAX = 2000
SEARCH_MAX = 200


def _kinds():
    from connections.kinds import KINDS

    return KINDS


class ConnectionCreateForm(forms.Form):
    """A connection for the designer's business unit, from one connector: a name, the connector's
    variables, one credential per auth scheme of the connector (new, or an existing one of the
    organisation), and who may use it."""

    LEVELS = (
        ("company", "Everyone in my organisation"),
        ("groups", "Only some groups of my organisation"),
        ("individuals", "Only some people of my organisation"),
    )

    name = forms.CharField(max_length=NAME_MAX, help_text="Unique among the connections of this connector.")
    access_level = forms.ChoiceField(
        choices=LEVELS, initial="company", widget=forms.RadioSelect, label="Who may use it",
        help_text=(
            "Chosen once: to change it later, create another connection. The people chosen may call the read "
            "methods (GET, HEAD) at once; the other methods stay off until an administrator opens them in "
            "the method rights grid."
        ),
    )
    groups = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple, label="Groups")
    users = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple, label="People")

    def __init__(self, *args, connector, schemes, credentials, groups, people, **kwargs):
        super().__init__(*args, **kwargs)
        self.connector = connector
        self.schemes = list(schemes)
        self._groups = {str(g.pk): g for g in groups}
        self._people = {str(u.pk): u for u in people}
        self.fields["groups"].choices = [(k, g.name.split(": ", 1)[-1]) for k, g in self._groups.items()]
        self.fields["users"].choices = [
            (k, f"{u.get_full_name()} ({u.username})" if u.get_full_name() else u.username)
            for k, u in self._people.items()
        ]
        self.variable_fields = []
        for i, variable in enumerate(connector.variables or []):
            key = f"var_{i}"
            self.fields[key] = forms.CharField(
                label=str(variable.get("name", "")), max_length=VALUE_MAX, required=False,
                initial=variable.get("value", ""), help_text="A connection variable; empty keeps the default.",
            )
            self.variable_fields.append((key, str(variable.get("name", ""))))
        self.variable_bound = [self[key] for key, _ in self.variable_fields]
        kinds = _kinds()
        self.credential_groups = []
        for i, scheme in enumerate(self.schemes):
            spec = kinds.get(scheme.kind)
            if spec is None:
                continue
            prefix = f"cred{i}"
            existing = [c for c in credentials if c.kind == scheme.kind]
            choices = [("new", "Enter a new credential"), ("none", "No credential for this scheme")]
            choices += [(f"ref:{c.pk}", f"Use {c.name}") for c in existing]
            self.fields[f"{prefix}_mode"] = forms.ChoiceField(
                choices=choices, initial="new", widget=forms.RadioSelect, label="Credential"
            )
            self.fields[f"{prefix}_name"] = forms.CharField(
                label="Credential name", max_length=NAME_MAX, required=False,
                help_text="Empty: named after the connection.",
            )
            config_keys, secret_keys = [], []
            for spec_field in spec.config:
                key = f"{prefix}_config_{spec_field.name}"
                initial = (scheme.config or {}).get(spec_field.name, spec_field.default)
                if spec_field.name == "scheme_name":
                    initial = scheme.scheme_name
                if isinstance(initial, list | tuple):
                    initial = " ".join(map(str, initial))
                if spec_field.type == "choice":
                    field = forms.ChoiceField(
                        choices=[(c, c) for c in spec_field.choices], required=False, label=spec_field.label
                    )
                else:
                    field = forms.CharField(
                        max_length=spec_field.max_length if spec_field.type != "scopes" else 20000,
                        required=False, label=spec_field.label,
                    )
                field.initial = initial if initial is not None else ""
                field.help_text = spec_field.help_text
                self.fields[key] = field
                config_keys.append((key, spec_field))
            for spec_field in spec.secret:
                key = f"{prefix}_secret_{spec_field.name}"
                self.fields[key] = forms.CharField(
                    label=spec_field.label, max_length=spec_field.max_length, required=False, strip=False,
                    widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                    help_text="Write-only: never shown again once saved.",
                )
                secret_keys.append((key, spec_field))
            if scheme.kind == "custom_headers":
                key = f"{prefix}_secret_headers"
                self.fields[key] = forms.CharField(
                    label="Headers", required=False, strip=False, max_length=20000,
                    widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off", "spellcheck": "false"}),
                    help_text="One 'Name: value' a line. Write-only: never shown again once saved.",
                )
                secret_keys.append((key, None))
            self.credential_groups.append(
                {
                    "index": i,
                    "prefix": prefix,
                    "scheme": scheme,
                    "kind_label": scheme.get_kind_display(),
                    "mode": self[f"{prefix}_mode"],
                    "name": self[f"{prefix}_name"],
                    "config": [self[k] for k, _ in config_keys],
                    "secret": [self[k] for k, _ in secret_keys],
                    "_config_keys": config_keys,
                    "_secret_keys": secret_keys,
                }
            )

    def clean(self):
        data = super().clean()
        level = data.get("access_level")
        if level == "groups" and not data.get("groups"):
            self.add_error("groups", "Choose at least one group.")
        if level == "individuals" and not data.get("users"):
            self.add_error("users", "Choose at least one person.")
        self._check_new_credentials(data)
        return data

    def _check_new_credentials(self, data) -> None:
        """The credentials to create are checked with the main form (by the rules the service
        applies again when it saves), so every error shows after one submit."""
        from connections.kinds import validate

        for group in self.credential_groups:
            prefix = group["prefix"]
            if (data.get(f"{prefix}_mode") or "new") != "new":
                continue
            config, secret = self._new_credential(group, data)
            try:
                validate(group["scheme"].kind, config, secret)
            except ApplicationError as error:
                for path, messages in (error.field_errors or {"": [error.message]}).items():
                    target = self._credential_field(prefix, str(path))
                    if target in self.errors:
                        continue  # the field failed its own check already: one message is enough
                    messages = messages if isinstance(messages, list | tuple) else [messages]
                    self.add_error(target, " ".join(str(m) for m in messages))

    @staticmethod
    def _new_credential(group, data) -> tuple[dict, dict]:
        config = {}
        for key, spec_field in group["_config_keys"]:
            value = data.get(key)
            if value in (None, ""):
                continue
            config[spec_field.name] = value.split() if spec_field.type == "scopes" else value
        secret = {}
        for key, spec_field in group["_secret_keys"]:
            value = data.get(key) or ""
            if spec_field is None:  # custom headers: one "Name: value" a line
                headers = secret.setdefault("headers", {})
                for line in value.splitlines():
                    if ":" in line:
                        header, _, header_value = line.partition(":")
                        headers[header.strip()] = header_value.strip()
            elif value != "":
                secret[spec_field.name] = value
        return config, secret

    # --- what the service gets -------------------------------------------------------------

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        variables = []
        for key, name in self.variable_fields:
            value = data.get(key) or ""
            if value != "":
                variables.append({"name": name, "value": value})
        credentials = []
        self._credential_index = []  # position in the service's list → form group index
        for group in self.credential_groups:
            prefix, scheme = group["prefix"], group["scheme"]
            mode = data.get(f"{prefix}_mode") or "new"
            if mode == "none":
                continue
            if mode.startswith("ref:"):
                credentials.append({"ref": int(mode[4:])})
                self._credential_index.append(group["index"])
                continue
            config, secret = self._new_credential(group, data)
            name = (data.get(f"{prefix}_name") or "").strip() or (
                f"{data.get('name', '')} · {scheme.scheme_name or scheme.get_kind_display()}"[:NAME_MAX]
            )
            credentials.append({"create": {"name": name, "kind": scheme.kind, "config": config, "secret": secret}})
            self._credential_index.append(group["index"])
        level = data.get("access_level") or "company"
        return {
            "name": data["name"],
            "variables": variables or None,
            "action_credentials": credentials,
            "access_level": level,
            "groups": [self._groups[k] for k in data.get("groups") or []] if level == "groups" else [],
            "users": [self._people[k] for k in data.get("users") or []] if level == "individuals" else [],
        }

    def add_service_errors(self, error: ApplicationError) -> None:
        """Put the service's errors on the fields they name; the rest on the form."""
        placed = False
        for path, messages in (error.field_errors or {}).items():
            messages = messages if isinstance(messages, list | tuple) else [messages]
            text = " ".join(str(m) for m in messages)
            target = self._field_for(str(path))
            if target:
                self.add_error(target, text)
            else:
                self.add_error(None, f"{path}: {text}")
            placed = True
        if not placed:
            self.add_error(None, error.message)

    def _field_for(self, path: str) -> str | None:
        if path in {"name", "groups", "users", "access_level"}:
            return path
        if path.startswith("variables"):
            return self.variable_fields[0][0] if self.variable_fields else None
        match = re.match(r"action_credentials\[(\d+)\](?:\.create)?\.?(.*)$", path)
        if match:
            position = int(match.group(1))
            indexes = getattr(self, "_credential_index", [])
            if position >= len(indexes):
                return None
            return self._credential_field(f"cred{indexes[position]}", match.group(2))
        return None

    def _credential_field(self, prefix: str, rest: str) -> str:
        """The field of credential group ``prefix`` that an error on ``rest`` (``secret.key``,
        ``config.in``, ``name``...) belongs to."""
        if rest.startswith(("config.", "secret.")):
            section, _, name = rest.partition(".")
            key = f"{prefix}_{section}_{name}"
            if key in self.fields:
                return key
        if rest == "name":
            return f"{prefix}_name"
        if rest.startswith("secret"):
            secrets = [k for k in self.fields if k.startswith(f"{prefix}_secret_")]
            return secrets[0] if secrets else f"{prefix}_mode"
        return f"{prefix}_mode"


class ToolSearchForm(forms.Form):
    q = forms.CharField(max_length=SEARCH_MAX, required=False, label="Search tools")
    connection = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Connection")
    tag = forms.CharField(max_length=SEARCH_MAX, required=False, label="Tag")

    def __init__(self, *args, connections=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["connection"].choices = [("", "All connections")] + [(c.pk, str(c)) for c in connections]


class HistoryFilterForm(forms.Form):
    STATUSES = (
        ("", "Any status"),
        ("awaiting_confirmation", "Awaiting confirmation"),
        ("queued", "Queued"),
        ("running", "Running"),
        ("succeeded", "Succeeded"),
        ("failed", "Failed"),
        ("rejected", "Rejected"),
        ("expired", "Expired"),
        ("cancelled", "Cancelled"),
    )
    status = forms.ChoiceField(choices=STATUSES, required=False, label="Status")
    connection = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Connection")
    since = forms.DateTimeField(
        required=False, label="From", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
    )
    until = forms.DateTimeField(
        required=False, label="Until", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
    )

    def __init__(self, *args, connections=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["connection"].choices = [("", "Any connection")] + [(c.pk, str(c)) for c in connections]

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "Must be after “From”.")
        return data
