from django.core.management.base import BaseCommand, CommandError

from audit.services import audit_entries_purge


class Command(BaseCommand):
    help = (
        "Delete audit entries older than AUDIT_RETENTION_DAYS (what the periodic task does), and "
        "record the purge in the audit trail."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, help="Keep this many days instead of AUDIT_RETENTION_DAYS.")

    def handle(self, *args, days, **options):
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1.")
        result = audit_entries_purge(retention_days=days)
        if result["before"] is None:
            self.stdout.write("AUDIT_RETENTION_DAYS is 0: every entry is kept.")
        else:
            self.stdout.write(f"Deleted {result['deleted']} audit entries from before {result['before']}.")
