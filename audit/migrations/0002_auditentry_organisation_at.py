from django.db import migrations, models


class Migration(migrations.Migration):
    """The audit list reads one organisation's entries newest first, filtered by time: an index for it."""

    dependencies = [
        ("audit", "0001_initial"),
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="auditentry",
            index=models.Index(fields=["organisation", "-at"], name="audit_organisation_at"),
        ),
    ]
