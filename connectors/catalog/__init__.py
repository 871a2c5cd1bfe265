"""The built-in catalog of standard services: Slack, Salesforce, Jira, Google Drive, custom webhook.

Each service is a small OpenAPI document of its most used methods (``schemas/<key>.yaml``, written
from the service's public documentation), its settings (what an administrator fills in), how the
base URL follows from them, and the credential a connection to it needs. A catalog connector is
created by ``connectors.services.connector_create_from_catalog`` like any other connector (its
document goes through the same import); its first connection by
``connections.services.catalog_connection_create``.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from connectors.fields import FieldSpec, check_value
from connectors.models import AuthSchemeConfig
from integrations_platform.errors import ApplicationError

Kind = AuthSchemeConfig.Kind

SCHEMAS = Path(__file__).resolve().parent / "schemas"
WEBHOOK_METHODS = ("POST", "PUT", "PATCH")
_API_VERSION_RE = re.compile(r"^v\d{1,3}\.\d$")


@dataclass(frozen=True)
class CatalogService:
    key: str
    name: str
    description: str
    documentation_url: str
    settings: tuple[FieldSpec, ...]
    # The credential a connection uses: kind, and which secret fields the form asks for.
    credential_kind: str
    credential_secret_fields: tuple[FieldSpec, ...]
    credential_config_fields: tuple[FieldSpec, ...] = ()
    test_operation: str = ""
    extra: dict = field(default_factory=dict)

    def schema_text(self) -> str:
        return (SCHEMAS / f"{self.key}.yaml").read_text()


_API_BASE = FieldSpec(
    "api_base_url", "API base URL", required=False, type="url",
    help_text="Leave empty for the service's own address (set it for a proxy or a regional endpoint).",
)

CATALOG: dict[str, CatalogService] = {
    "slack": CatalogService(
        key="slack",
        name="Slack",
        description="Post messages and list channels.",
        documentation_url="https://api.slack.com/methods",
        settings=(_API_BASE,),
        credential_kind=Kind.HTTP_BEARER,
        credential_secret_fields=(FieldSpec("token", "Bot token (xoxb-...)", max_length=500),),
        test_operation="auth_test",
    ),
    "salesforce": CatalogService(
        key="salesforce",
        name="Salesforce",
        description="SOQL queries; create, read and update records.",
        documentation_url="https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/",
        settings=(
            FieldSpec("instance_url", "Instance URL", type="url", help_text="https://yourcompany.my.salesforce.com"),
            FieldSpec("api_version", "API version", max_length=10, default="v60.0", help_text="Such as v60.0"),
            FieldSpec(
                "login_url", "Login URL", required=False, type="url", default="https://login.salesforce.com",
                help_text="https://test.salesforce.com for a sandbox.",
            ),
        ),
        credential_kind=Kind.OAUTH2_AUTHORIZATION_CODE,
        credential_config_fields=(FieldSpec("client_id", "Consumer key (client id)", max_length=500),),
        credential_secret_fields=(FieldSpec("client_secret", "Consumer secret", max_length=500),),
        test_operation="limits",
    ),
    "jira": CatalogService(
        key="jira",
        name="Jira",
        description="Search, read and create issues.",
        documentation_url="https://developer.atlassian.com/cloud/jira/platform/rest/v3/",
        settings=(FieldSpec("site_url", "Site URL", type="url", help_text="https://yourcompany.atlassian.net"),),
        credential_kind=Kind.HTTP_BASIC,
        credential_config_fields=(FieldSpec("username", "Account e-mail", max_length=254),),
        credential_secret_fields=(FieldSpec("password", "API token", max_length=500),),
        test_operation="myself",
    ),
    "google_drive": CatalogService(
        key="google_drive",
        name="Google Drive",
        description="List, read and upload files.",
        documentation_url="https://developers.google.com/drive/api/reference/rest/v3",
        settings=(
            FieldSpec(
                "scopes", "Scopes", type="scopes",
                default=("https://www.googleapis.com/auth/drive.file",),
                help_text="Space-separated, e.g. https://www.googleapis.com/auth/drive.readonly",
            ),
            _API_BASE,
        ),
        credential_kind=Kind.OAUTH2_AUTHORIZATION_CODE,
        credential_config_fields=(FieldSpec("client_id", "OAuth client id", max_length=500),),
        credential_secret_fields=(FieldSpec("client_secret", "OAuth client secret", max_length=500),),
        test_operation="files_list",
    ),
    "webhook": CatalogService(
        key="webhook",
        name="Custom webhook",
        description="Send signed JSON to a URL.",
        documentation_url="",
        settings=(
            FieldSpec("url", "Webhook URL", type="url"),
            FieldSpec("method", "Method", type="choice", choices=WEBHOOK_METHODS, default="POST"),
            FieldSpec(
                "signature_header", "Signature header", required=False, max_length=200, type="header",
                default="X-Signature-256",
            ),
        ),
        credential_kind=Kind.WEBHOOK,
        credential_secret_fields=(FieldSpec("signing_secret", "Signing secret", max_length=500),),
    ),
}


def catalog_service(key: str) -> CatalogService:
    service = CATALOG.get(key) if isinstance(key, str) else None
    if service is None:
        raise ApplicationError(
            "Unknown catalog service.", field_errors={"catalog": [f"Must be one of: {', '.join(CATALOG)}."]}
        )
    return service


def settings_clean(service: CatalogService, values: dict | None) -> dict:
    """Check the service's settings; errors name ``settings.<field>``, never echo values."""
    values = values or {}
    if not isinstance(values, dict):
        raise ApplicationError("Invalid settings.", field_errors={"settings": ["Must be an object."]})
    errors: dict[str, list[str]] = {}
    known = {f.name for f in service.settings}
    unknown = sorted(str(k)[:50] for k in values if k not in known)
    if unknown:
        errors["settings"] = [f"Unknown field(s): {', '.join(unknown[:10])}."]
    clean = {}
    for spec in service.settings:
        value = check_value(spec, values.get(spec.name), "settings", errors)
        if spec.type == "scopes" and not value and spec.default:
            value = list(spec.default)
        if value not in (None, "", []):
            clean[spec.name] = value
    if service.key == "salesforce" and "api_version" in clean and not _API_VERSION_RE.match(clean["api_version"]):
        errors["settings.api_version"] = ["Such as v60.0."]
    if service.key == "webhook" and "url" in clean and urlsplit(clean["url"]).query:
        errors["settings.url"] = ["A webhook URL with a query string is not supported."]
    for name in ("instance_url", "site_url", "login_url", "api_base_url"):
        if name in clean and (urlsplit(clean[name]).query or urlsplit(clean[name]).fragment):
            errors[f"settings.{name}"] = ["Give the address without a query or fragment."]
    if errors:
        raise ApplicationError("The settings are not valid.", field_errors=errors)
    return clean


def base_url_for(service: CatalogService, settings: dict) -> str:
    if service.key == "salesforce":
        return f"{settings['instance_url'].rstrip('/')}/services/data/{settings['api_version']}"
    if service.key == "jira":
        return f"{settings['site_url'].rstrip('/')}/rest/api/3"
    if service.key == "webhook":
        parts = urlsplit(settings["url"])
        return f"{parts.scheme}://{parts.netloc}"
    if service.key == "slack":
        return (settings.get("api_base_url") or "https://slack.com/api").rstrip("/")
    if service.key == "google_drive":
        return (settings.get("api_base_url") or "https://www.googleapis.com").rstrip("/")
    raise ApplicationError("Unknown catalog service.", field_errors={"catalog": ["Unknown."]})


def schema_document_for(service: CatalogService, settings: dict) -> str:
    """The service's OpenAPI document as JSON text, adjusted to the settings where they change it."""
    document = yaml.safe_load(service.schema_text())
    document = copy.deepcopy(document)
    document["servers"] = [{"url": base_url_for(service, settings)}]
    if service.key == "webhook":
        path = urlsplit(settings["url"]).path or "/"
        operation = document["paths"]["/"]["post"]
        document["paths"] = {path: {settings.get("method", "POST").lower(): operation}}
    if service.key == "salesforce":
        flow = document["components"]["securitySchemes"]["salesforceOAuth"]["flows"]["authorizationCode"]
        login = settings.get("login_url", "https://login.salesforce.com").rstrip("/")
        flow["authorizationUrl"] = f"{login}/services/oauth2/authorize"
        flow["tokenUrl"] = f"{login}/services/oauth2/token"
    return json.dumps(document)


def credential_config_for(service: CatalogService, settings: dict, given: dict) -> dict:
    """The credential's non-secret config: what the form asked plus what follows from settings."""
    config = dict(given)
    if service.key == "salesforce":
        login = settings.get("login_url", "https://login.salesforce.com").rstrip("/")
        config.update(
            authorize_url=f"{login}/services/oauth2/authorize",
            token_url=f"{login}/services/oauth2/token",
            scopes=["api", "refresh_token"],
        )
    elif service.key == "google_drive":
        config.update(
            authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
            token_url="https://oauth2.googleapis.com/token",
            scopes=list(settings.get("scopes") or []),
        )
    elif service.key == "webhook":
        config.update(url=settings["url"], signature_header=settings.get("signature_header", "X-Signature-256"))
    return config
