"""Approved server origins on the connector, and operation servers classified against the document.

Operation ``servers`` used to be plain URLs, and an absolute one replaced the base URL. They become
``{"url", "document_path"}`` (on the document's own origin: mapped onto the base URL) or ``{"url",
"origin"}`` (another origin: used once approved), classified against the top-level servers of the
connector's current version, as an import now does.
"""

from django.db import migrations, models


def _document_servers(document) -> list[str]:
    # OpenAPI 3 only: Swagger 2.0 has no per-operation servers.
    servers = document.get("servers") if isinstance(document, dict) else None
    out = []
    for server in servers if isinstance(servers, list) else []:
        if not isinstance(server, dict) or not isinstance(server.get("url"), str):
            continue
        url = server["url"]
        for key, variable in (server.get("variables") or {}).items() if isinstance(server.get("variables"), dict) else ():
            if isinstance(variable, dict) and variable.get("default") is not None:
                url = url.replace("{" + key + "}", str(variable["default"]))
        out.append(url)
    return out


def classify_servers(apps, schema_editor):
    from connectors.openapi.request import server_entries

    Operation = apps.get_model("connectors", "Operation")
    ConnectorVersion = apps.get_model("connectors", "ConnectorVersion")
    documents: dict[int, list[str]] = {}
    for operation in Operation.objects.exclude(servers=[]).select_related("connector").iterator():
        servers = operation.servers or []
        if not any(isinstance(s, str) for s in servers):
            continue
        version_id = operation.connector.current_version_id
        if version_id not in documents:
            version = ConnectorVersion.objects.filter(pk=version_id).only("document").first()
            documents[version_id] = _document_servers(version.document) if version else []
        operation.servers = server_entries(servers, documents[version_id])
        operation.save(update_fields=["servers"])


class Migration(migrations.Migration):
    dependencies = [
        ("connectors", "0003_organisation_integration_type"),
    ]

    operations = [
        migrations.AddField(
            model_name="connector",
            name="approved_origins",
            field=models.JSONField(blank=True, default=list, verbose_name="approved server origins"),
        ),
        migrations.RunPython(classify_servers, migrations.RunPython.noop),
    ]
