from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.services import api_key_create


class Command(BaseCommand):
    help = "Issue an API key for a user. The key is printed once and never stored."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="command line")

    def handle(self, *args, username, name, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        key, raw = api_key_create(user=user, name=name)
        self.stdout.write(raw)
        self.stderr.write(f"Key {key.prefix} for {username}: keep it now, it is not shown again.")
