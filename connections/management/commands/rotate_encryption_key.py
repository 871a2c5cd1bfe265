from django.core.management.base import BaseCommand

from connections.rotation import rotate_encryption_key


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted value under the newest key of FIELD_ENCRYPTION_KEY (the first). "
        "Idempotent and restartable: values already under the newest key are skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=200)

    def handle(self, *args, batch_size, verbosity, **options):
        report = self.stdout.write if verbosity > 1 else None
        counts = rotate_encryption_key(batch_size=batch_size, report=report)
        self.stdout.write(
            f"Re-encrypted {counts['changed']} value(s); {counts['current']} already under the newest key; "
            f"{counts['unreadable']} could not be decrypted with any configured key."
        )
        if counts["unreadable"]:
            self.stderr.write("Some values could not be decrypted: add the key they were saved with and run again.")
