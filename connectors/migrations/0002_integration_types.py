from django.db import migrations

TYPES = [
    ("custom_openapi", "Custom OpenAPI", "Any HTTP API described by a pasted OpenAPI schema.", 0),
    ("slack", "Slack", "Post messages and list channels.", 10),
    ("salesforce", "Salesforce", "SOQL queries and records.", 20),
    ("jira", "Jira", "Search, read and create issues.", 30),
    ("google_drive", "Google Drive", "List, read and upload files.", 40),
    ("webhook", "Custom webhook", "Send signed JSON to a URL.", 50),
]


def create(apps, schema_editor):
    IntegrationType = apps.get_model("connectors", "IntegrationType")
    for key, name, description, position in TYPES:
        IntegrationType.objects.update_or_create(
            key=key, defaults={"name": name, "description": description, "position": position}
        )


class Migration(migrations.Migration):
    dependencies = [("connectors", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
