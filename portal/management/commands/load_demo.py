"""Load the demo: an organisation with an administrator, a designer and an end user, the demo notes
connector made from its OpenAPI schema, and a connection everyone may use. Safe to run twice."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.demo import DEMO_UPSTREAM_PORT, demo_logins
from portal.demo.seed import load_demo


class Command(BaseCommand):
    help = "Load the demo data (not in production). Safe to run more than once."

    def add_arguments(self, parser):
        parser.add_argument("--upstream-port", type=int, default=DEMO_UPSTREAM_PORT)

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("load_demo is for development and demos only, never with DJANGO_ENV=production.")
        load_demo(upstream_port=options["upstream_port"], log=self.stdout.write)
        self.stdout.write("Demo logins (username / password):")
        for role, username, password in demo_logins():
            self.stdout.write(f"  {role:<14} {username} / {password}")
